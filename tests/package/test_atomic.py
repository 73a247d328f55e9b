"""The one atomic-write helper every layer uses: all or nothing, with the mode asked for."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sfs_kit._atomic import atomic_output, write_bytes_atomic


def test_success_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    assert write_bytes_atomic(target, b"new", fsync=True) == 3
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failure_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.sfs"
    target.write_bytes(b"old")

    def half_write() -> None:
        with atomic_output(target) as stream:
            stream.write(b"half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_write()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.sfs"]


def test_private_mode_for_files_holding_urls(tmp_path: Path) -> None:
    target = tmp_path / "task_request.json"
    write_bytes_atomic(target, b"{}", mode=0o600)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
