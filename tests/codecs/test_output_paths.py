"""Output paths: a missing folder, a folder named as a file, a file named as a folder, OS errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sfs_scene_factory import build_scene

from sfs_kit import OutputError, Scene, write_frames, write_sfs, write_sfs_dict
from sfs_kit.codecs import SfsAppendWriter

TREE = {"version": "1.0", "a": np.arange(3, dtype=np.float32)}
MISSING = r"cannot be written: its folder '.*nowhere' does not exist \(create it first\)\."


def test_write_sfs_dict_refuses_a_missing_folder_and_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "x.sfs"
    with pytest.raises(OutputError, match=rf"Output file '.*x.sfs' {MISSING}") as caught:
        write_sfs_dict(TREE, target)
    assert caught.value.path == str(target)
    assert not (tmp_path / "nowhere").exists()  # never created
    with pytest.raises(OutputError, match=r"Output file '.*' is an existing folder; name a file "
                                          r"\(e.g. '.*scene.sfs'\)\."):
        write_sfs_dict(TREE, tmp_path)
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match=r"Output file '.*f/x.sfs' cannot be written: '.*f' is "
                                          r"not a folder\."):
        write_sfs_dict(TREE, tmp_path / "f" / "x.sfs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_write_sfs_checks_the_path_before_validating(tmp_path: Path) -> None:
    scene = Scene.model_validate(build_scene())
    with pytest.raises(OutputError, match=r"is an existing folder"):
        write_sfs(scene, tmp_path)
    with pytest.raises(OutputError, match=MISSING):
        write_sfs(scene, tmp_path / "nowhere" / "s.sfs")


def test_os_errors_while_writing_become_output_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError, match=r"Cannot write output file '.*x.sfs': Permission "
                                          r"denied\."):
        write_sfs_dict(TREE, tmp_path / "x.sfs")
    assert list(tmp_path.iterdir()) == []  # the temp file is gone


@pytest.mark.parametrize("reserve", [None, 4096])
def test_append_writer_paths(tmp_path: Path, reserve: int | None) -> None:
    with pytest.raises(OutputError, match=MISSING):
        SfsAppendWriter(tmp_path / "nowhere" / "x.sfs", reserve_header_bytes=reserve)
    with pytest.raises(OutputError, match=r"is an existing folder"):
        SfsAppendWriter(tmp_path, reserve_header_bytes=reserve)
    dest = tmp_path / "x.sfs"
    writer = SfsAppendWriter(dest, reserve_header_bytes=reserve)
    ref = writer.add_array(np.arange(4, dtype=np.uint8))
    dest.mkdir()  # the destination became a folder while writing: os.replace fails
    with pytest.raises(OutputError, match=r"Cannot write output file '.*x.sfs': Is a directory\."):
        writer.finish({"version": "1.0", "a": ref})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.sfs"]


@pytest.mark.filterwarnings("ignore::sfs_kit.codecs.frame_json.FrameFieldDroppedWarning")
def test_write_frames_creates_the_folder_but_not_its_parents(tmp_path: Path) -> None:
    scene = Scene.model_validate(build_scene())

    def url(sensor: str, index: int) -> str:
        return f"https://example.com/{sensor}/{index}.jpg"

    with pytest.raises(OutputError, match=rf"Output folder '.*frames' {MISSING}"):
        write_frames(scene, tmp_path / "nowhere" / "frames", image_url_for=url)
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"Output folder '.*file' is an existing file, not a "
                                          r"folder\."):
        write_frames(scene, tmp_path / "file", image_url_for=url)
    paths = write_frames(scene, tmp_path / "frames", image_url_for=url)
    assert paths
    assert all(p.parent == tmp_path / "frames" for p in paths)
