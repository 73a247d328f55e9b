"""Every committed real fixture agrees with the independent reader of its kind.

Runs ``scripts/check_realdata.py --json`` as a user would: our reader, inspect, the converter
and Scale's reader on the laspy, pypcd4 and pyvista samples (and OpenCV's images, against
Pillow; scale-lidar-toolkit's radar files, against NumPy), compared with laspy, pypcd4, plyfile,
Pillow and NumPy.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from reader_helpers import FIXTURES

ROOT = FIXTURES.parent
SCRIPT = ROOT / "scripts" / "check_realdata.py"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--json"], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    assert done.stderr == ""  # nothing leaks past our errors (laspy logs, Rust panics)
    result: dict[str, Any] = json.loads(done.stdout)
    result["returncode"] = done.returncode
    return result


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["file"]: row for row in report["rows"]}


def test_every_real_fixture_is_checked_and_agrees(report: dict[str, Any]) -> None:
    committed = {
        str(p.relative_to(FIXTURES)) for d in ("laspy", "pypcd4", "pyvista", "opencv",
                                               "scale_lidar_toolkit/radar_points")
        for p in (FIXTURES / d).iterdir()
        if p.suffix.lower() in (".las", ".laz", ".pcd", ".ply", ".jpg", ".png", ".txt")}
    rows = _rows(report)
    assert set(rows) == committed
    assert [(name, row["problems"]) for name, row in rows.items() if not row["ok"]] == []
    assert report["returncode"] == 0


@pytest.mark.parametrize(("name", "points", "colors", "intensity"), [
    ("laspy/autzen_trim.laz", 110_000, "equal", "equal"),  # State Plane feet, 8-bit intensity
    ("laspy/plane.laz", 28_185, "equal", "equal"),  # true 16-bit intensity, scaled
    ("laspy/1_4_w_evlr.laz", 1_000, "-", "equal"),  # LAS 1.4 with EVLRs
    ("laspy/simple.copc.laz", 1_065, "equal", "equal"),  # variable-size LAZ chunks
    ("pypcd4/ascii.pcd", 213, "equal", "-"),  # TYPE F rgb as whole-number floats
    ("pypcd4/binary_compressed.pcd", 213, "equal", "-"),
    ("pyvista/ant.ply", 486, "-", "-"),  # a VTK mesh: vertices read, faces skipped
])
def test_real_files_reach_the_sfs_as_their_reference_reads_them(
        report: dict[str, Any], name: str, points: int, colors: str, intensity: str) -> None:
    row = _rows(report)[name]
    assert (row["points_ours"], row["points_ref"]) == (points, points)
    assert (row["colors"], row["intensity"], row["scale_valid"]) == (colors, intensity, "valid")
    assert row["sfs_max_error"] < 1e-3  # float32 of recentred coordinates


def test_a_refusal_is_listed_with_its_reason(report: dict[str, Any]) -> None:
    assert _rows(report)["pypcd4/ascii_multi_count.pcd"]["inspect"] == "refused (expected)"


def test_a_disagreement_fails_the_script() -> None:
    # the same check on a cloud whose colour differs from the reference must be a failure row
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        check_realdata = importlib.import_module("check_realdata")
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    row = check_realdata.Row(file="x.pcd", kind="pcd", reference="pypcd4", colors="DIFFER",
                             max_error=0.5)
    check_realdata._judge(row)
    assert not row.ok
    assert len(row.problems) == 2


def test_the_toolkits_radar_files_reach_the_sfs_radar_sensor(report: dict[str, Any]) -> None:
    rows = [row for name, row in _rows(report).items() if name.endswith(".txt")]
    assert len(rows) == 5
    for row in rows:
        assert (row["reference"], row["points_ours"], row["points_ref"]) == ("numpy", 6, 6)
        assert row["max_error"] == 0.0  # every column exactly as NumPy reads it
        assert row["sfs_max_error"] < 1e-6  # float32 in the .sfs
        assert row["scale_valid"] == "valid"
