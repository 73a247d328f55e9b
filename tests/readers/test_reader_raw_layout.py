"""inspect of headerless .bin files says what the bytes hold and flags impossible layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sfs_kit.cli.inspect import describe_lines
from sfs_kit.readers import describe_input


def test_kitti_bin_reports_observed_ranges(tmp_path: Path) -> None:
    path = tmp_path / "000000.bin"
    table = np.array([[1, 2, 3, 0.25], [4, 5, 6, 0.75]], dtype="<f4")
    table.tofile(path)
    info = describe_input(path)
    observed = info["observed"]
    assert isinstance(observed, dict)
    assert observed["columns"]["reflectance"] == {"min": 0.25, "max": 0.75, "nonfinite": 0}
    assert observed["warnings"] == []


def test_waymo_six_floats_read_as_kitti_are_flagged(tmp_path: Path) -> None:
    path = tmp_path / "waymo.bin"
    rng = np.random.default_rng(2)
    table = np.c_[rng.uniform(-50, 50, (10, 3)), rng.uniform(0, 3000, (10, 1)),
                  rng.uniform(0, 1, (10, 2))].astype("<f4")  # 6 floats: 240 bytes = 15 x 16
    table.tofile(path)
    info = describe_input(path)
    observed = info["observed"]
    assert isinstance(observed, dict)
    assert any("outside the 0..1 kitti_bin defines" in w for w in observed["warnings"])
    assert any("warning: column 'reflectance' spans" in line for line in describe_lines(info))


def test_a_size_that_is_no_kitti_record_is_described_not_only_refused(tmp_path: Path) -> None:
    path = tmp_path / "scannet.bin"
    np.zeros((5, 6), dtype="<f4").tofile(path)  # 120 bytes: not a multiple of 16
    info = describe_input(path)
    assert info["kind"] == "raw_points"
    observed = info["observed"]
    assert isinstance(observed, dict)
    assert observed["warnings"] == [
        "120 bytes is not a whole number of 16-byte records (4 float32 columns, kitti_bin); "
        "float32 column counts that fit: 3 (12 B), 5 (20 B), 6 (24 B)."]
    declared = describe_input(path, columns=["x", "y", "z", "r", "g", "b"])
    assert declared["kind"] == "point_cloud"


def test_nan_values_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "n.bin"
    table = np.array([[np.nan, 2, 3, 0.5], [4, 5, 6, 0.5]], dtype="<f4")
    table.tofile(path)
    observed = describe_input(path)["observed"]
    assert isinstance(observed, dict)
    assert observed["columns"]["x"]["nonfinite"] == 1
    assert "column 'x' has 1 NaN/inf value(s) of 2." in observed["warnings"]
