"""Float colours on a declared scale: ScanNet/mmdetection3d xyzrgb tables store 0..255 floats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sfs_kit.errors import InputError
from sfs_kit.readers import read_point_cloud


def _xyzrgb(path: Path, colours: np.ndarray) -> Path:
    table = np.c_[np.arange(len(colours) * 3, dtype=np.float32).reshape(-1, 3), colours]
    table.astype("<f4").tofile(path)
    return path


def test_float_colours_0_255_need_their_declared_scale(tmp_path: Path) -> None:
    colours = np.array([[0, 128, 255], [12.4, 12.6, 200]], dtype=np.float32)
    path = _xyzrgb(tmp_path / "scan.bin", colours)
    columns = ["x", "y", "z", "r", "g", "b"]
    with pytest.raises(InputError, match=r"from 'r' must lie in 0\.\.1, found 0\.\.255 \(declare "
                                         r"color_max, e\.g\. 255") as caught:
        read_point_cloud(path, columns=columns)
    assert caught.value.field == "r"
    cloud = read_point_cloud(path, columns=columns, color_max=255)
    assert cloud.colors is not None
    assert cloud.colors.tolist() == [[0, 128, 255], [12, 13, 200]]


def test_colour_above_the_declared_scale_is_refused(tmp_path: Path) -> None:
    path = _xyzrgb(tmp_path / "scan.bin", np.array([[0, 0, 300]], dtype=np.float32))
    with pytest.raises(InputError, match=r"must lie in 0\.\.255, found 0\.\.300\."):
        read_point_cloud(path, columns=["x", "y", "z", "r", "g", "b"], color_max=255)
    with pytest.raises(InputError, match=r"color_max must be a finite number > 0"):
        read_point_cloud(path, columns=["x", "y", "z", "r", "g", "b"], color_max=0)
