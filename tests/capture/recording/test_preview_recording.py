"""``sfs-kit preview`` of a ROS recording: the same capture path as convert, same topic flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from sfs_kit.cli import main

from . import drive as d

SCALE = ["--intensity-max", f"{d.OUSTER}={d.OUSTER_INTENSITY_MAX}"]


@pytest.mark.parametrize("container", ["ros1", "mcap"])
def test_preview_of_a_recording(recordings: dict[str, Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str], container: str) -> None:
    out = tmp_path / "drive.png"
    code = main(["preview", str(recordings[container]), "-o", str(out), "--json", *SCALE])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["kind"] == "capture"
    assert report["bev_points"] > 0
    assert len(report["frames"]) == d.SWEEPS
    assert [c["id"] for c in report["cameras"]]  # the drive's cameras are drawn
    with Image.open(out) as img:
        assert img.size == (report["width"], report["height"])
