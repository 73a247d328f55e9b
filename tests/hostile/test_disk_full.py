"""A full disk while the journal is created is our OutputError, and leaves no 0-byte journal;
``sfs_kit.run`` never lets a bare OSError out."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from capture.conftest import build_folder

import sfs_kit
from sfs_kit.cli import main
from sfs_kit.errors import OutputError
from sfs_kit.pipeline.journal import Journal, read_journal


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("sfs_kit.pipeline.journal.os.fsync", fsync)


def test_creating_the_journal_on_a_full_disk(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out" / "journal.msgpack"
    journal = Journal.open(path)
    _full_disk(monkeypatch)
    with pytest.raises(OutputError, match=r"Cannot write the journal .*No space left on device"):
        journal.append("convert", {"a": "1"}, {"n": 1})
    assert not path.exists()


def test_appending_on_a_full_disk_keeps_the_records_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.msgpack"
    journal = Journal.open(path)
    journal.append("convert", {"a": "1"}, {"n": 1})
    size = path.stat().st_size
    _full_disk(monkeypatch)
    with pytest.raises(OutputError, match="No space left on device"):
        journal.append("upload", {"b": "2"}, {"n": 2})
    assert path.stat().st_size == size
    assert [r.step for r in read_journal(path)[0]] == ["convert"]


def test_run_and_the_cli_report_a_full_disk_as_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    _full_disk(monkeypatch)
    out = tmp_path / "out"
    code = main(["run", str(cap), "--dry-run", "--project", "p", "--out", str(out),
                 "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code != 0
    assert "Cannot write the journal" in err
    assert "standard output" not in err
    assert not any(p.name.startswith("journal") and p.stat().st_size == 0
                   for p in out.rglob("*"))


def test_run_maps_any_os_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)

    def broken(*_: object, **__: object) -> None:
        raise OSError(errno.EIO, "Input/output error", str(tmp_path / "out" / "x"))

    monkeypatch.setattr("sfs_kit.pipeline.run._run_locked", broken)
    config = sfs_kit.load_config({"project": "p", "dry_run": True,
                                  "out_dir": tmp_path / "out",
                                  "store_dir": tmp_path / "store"})
    with pytest.raises(OutputError, match=r"failed on '.*out/x': Input/output error"):
        sfs_kit.run(cap, config)
