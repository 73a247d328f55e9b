"""Run folders: keyed by the capture, owned by one capture, complete on resume, and left clean by
a failed run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfs_kit import RunConfig
from sfs_kit.errors import InputError, SceneValidationError
from sfs_kit.pipeline import steps
from sfs_kit.pipeline.run import RESULT_NAME, default_out_dir, run

from .conftest import Counts, make_fake_capture


def test_same_named_captures_get_their_own_default_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_convert: Counts,
) -> None:
    monkeypatch.chdir(tmp_path)
    a = make_fake_capture(tmp_path / "a" / "drive", frames=2)
    b = make_fake_capture(tmp_path / "b" / "drive", frames=3)
    assert default_out_dir(a) != default_out_dir(b)
    assert default_out_dir(a) == default_out_dir(tmp_path / "a" / ".." / "a" / "drive")
    first = run(a, RunConfig())
    run(b, RunConfig())
    again = run(a, RunConfig())
    assert again.content_sha256 == first.content_sha256
    assert fake_convert.convert == 2  # a's folder still holds a's work: resumed, not redone
    result = json.loads((Path(again.out_dir) / RESULT_NAME).read_text())
    assert result["capture"] == str(a)


def test_a_folder_of_another_capture_is_refused(
    tmp_path: Path, fake_convert: Counts,
) -> None:
    a = make_fake_capture(tmp_path / "a" / "drive", frames=2)
    b = make_fake_capture(tmp_path / "b" / "drive", frames=2)
    out = tmp_path / "out"
    run(a, RunConfig(out_dir=out))
    with pytest.raises(InputError, match=r"Output folder '.*out' holds the run of capture "
                                         r"'.*a/drive', not '.*b/drive'; choose another --out"):
        run(b, RunConfig(out_dir=out))
    assert fake_convert.convert == 1


def test_a_resumed_run_says_everything_the_first_said(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts,
) -> None:
    out = tmp_path / "out"
    first = run(fake_capture, RunConfig(out_dir=out, format="split_base64"))
    assert any(w.startswith("dry run:") for w in first.warnings)
    again = run(fake_capture, RunConfig(out_dir=out, format="split_base64"))
    assert all(step.resumed for step in again.steps)
    assert again.warnings == first.warnings
    assert json.loads((out / RESULT_NAME).read_text())["warnings"] == first.warnings


def test_a_failed_run_leaves_nothing(
    fake_capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def invalid(*args: Any, **kwargs: Any) -> steps.Converted:
        raise SceneValidationError("Scene is invalid: 1 error (V-T1 at sensors[0]).")

    monkeypatch.setattr(steps, "convert", invalid)
    out = tmp_path / "new" / "out"
    with pytest.raises(SceneValidationError):
        run(fake_capture, RunConfig(out_dir=out))
    assert not (tmp_path / "new").exists()  # no lock, no journal, no folders
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(SceneValidationError):
        run(fake_capture, RunConfig(out_dir=existing))
    assert list(existing.iterdir()) == []


def test_a_finished_run_keeps_no_lock(fake_capture: Path, tmp_path: Path,
                                      fake_convert: Counts) -> None:
    out = tmp_path / "out"
    run(fake_capture, RunConfig(out_dir=out))
    assert not (out / ".sfs-kit.lock").exists()
