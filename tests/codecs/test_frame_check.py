"""``check_frames``: the content rules the frame reader leaves to it (finite points, intensities
in [0, 1], fetchable image URLs), on frames written by hand."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from sfs_kit.codecs.frame_check import check_frames, is_frames_path


def _frame(path: Path, points: list[list[float]], intensities: list[float],
           urls: tuple[str, ...] = (), stamp: int = 1_000) -> None:
    tree = {
        "device_position": {"x": 0.0, "y": 0.0, "z": 0.0},
        "device_heading": {"w": 1.0, "x": 0.0, "y": 0.0, "z": 0.0},
        "timestamp": stamp,
        "points": base64.b64encode(np.asarray(points, "<f4").tobytes()).decode(),
        "intensities": base64.b64encode(np.asarray(intensities, "<f4").tobytes()).decode(),
        "images": [{"image_url": u, "position": {"x": 0, "y": 0, "z": 0},
                    "heading": {"w": 1, "x": 0, "y": 0, "z": 0}, "fx": 1, "fy": 1, "cx": 0,
                    "cy": 0, "timestamp": stamp} for u in urls],
    }
    path.write_text(json.dumps(tree))


def test_nonfinite_points_and_intensities_out_of_range_are_errors(tmp_path: Path) -> None:
    _frame(tmp_path / "frame-00000.json", [[0, 0, 0], [np.nan, 1, 2]], [0.5, 1.5])
    report = check_frames(tmp_path)
    codes = {(i.code, i.path) for i in report.issues}
    assert ("F-4", "frame-00000.json:points") in codes
    assert ("F-5", "frame-00000.json:intensities") in codes
    assert report.errors == 2


def test_image_urls_by_kind(tmp_path: Path) -> None:
    urls = ("https://b.example/x.jpg", "http://b.example/y.jpg", "ftp://b.example/z.jpg",
            "../outside.jpg")
    _frame(tmp_path / "frame-00000.json", [[1, 2, 3]], [0.1], urls)
    report = check_frames(tmp_path / "frame-00000.json")
    assert report.image_urls == {"https": 1, "http": 1, "ftp": 1, "relative": 1}
    codes = sorted(i.code for i in report.issues)
    assert codes == ["F-6", "F-6", "F-7", "F-8"]  # ftp, and a relative path out of the folder


def test_what_counts_as_frames(tmp_path: Path) -> None:
    assert not is_frames_path(tmp_path)
    _frame(tmp_path / "frame-00000.json", [], [])
    assert is_frames_path(tmp_path)
    assert is_frames_path(tmp_path / "frame-00000.json")
    assert not is_frames_path(tmp_path / "poses.json")
    assert check_frames(tmp_path).issues == []
