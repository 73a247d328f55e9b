"""G-* rules: each planted defect is found on its sensor and frame; the clean scene is quiet."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.geometry_scenes import JUMP_FRAME, LIDAR_ID, Defect, build_geometry_scene
from sfs_kit.models import Scene
from sfs_kit.models.validate_geometry import (
    GeometryIssue,
    GeometryThresholds,
    sample_rows,
    validate_geometry,
)


@pytest.fixture(scope="module")
def clean() -> Scene:
    return build_geometry_scene()


def _by_code(issues: list[GeometryIssue], code: str) -> list[GeometryIssue]:
    return [i for i in issues if i.code == code]


def test_clean_scene_has_no_geometric_issue(clean: Scene) -> None:
    assert validate_geometry(clean) == []


@pytest.mark.parametrize(
    ("defect", "code", "sensor", "frame", "severity"),
    [
        ("inverted_extrinsic", "G-C3", "cam_front", 0, "warning"),
        ("quat_swap", "G-P5", LIDAR_ID, 0, "error"),
        ("clock_300ms", "G-T2", "cam_left", 0, "error"),
        ("pose_jump", "G-P4", LIDAR_ID, JUMP_FRAME, "error"),
        ("pose_jump", "G-S1", LIDAR_ID, JUMP_FRAME, "warning"),
        ("far_coordinates", "G-O1", LIDAR_ID, 0, "warning"),
        ("stale_poses", "G-P6", LIDAR_ID, 1, "warning"),
    ],
)
def test_each_planted_defect_is_found_where_it_is(
    defect: Defect, code: str, sensor: str, frame: int, severity: str
) -> None:
    issues = validate_geometry(build_geometry_scene(defect))
    found = [i for i in _by_code(issues, code) if i.sensor == sensor]
    assert found, f"{code} on {sensor} missing from {[str(i) for i in issues]}"
    first = found[0]
    assert first.frame == frame
    assert first.severity == severity
    assert first.path.startswith(f"sensors[{sensor}]")
    assert first.measured is not None
    assert first.limit is not None
    as_json = first.to_dict()
    assert as_json["code"] == code
    assert as_json["sensor"] == sensor
    assert as_json["frame"] == frame
    assert set(as_json) >= {"code", "severity", "path", "message", "timestamp", "measured"}


def test_inverted_extrinsic_only_touches_that_camera() -> None:
    issues = validate_geometry(build_geometry_scene("inverted_extrinsic"))
    assert {i.sensor for i in issues} == {"cam_front"}


def test_clock_offset_is_quantified_on_every_shifted_camera() -> None:
    issues = _by_code(validate_geometry(build_geometry_scene("clock_300ms")), "G-T2")
    assert sorted(i.sensor or "" for i in issues) == ["cam_front", "cam_left", "cam_rear"]
    assert all(i.measured == pytest.approx(300.0) for i in issues)
    assert "+300 ms" in issues[0].message


def test_one_camera_clock_off_is_found_on_that_camera_only() -> None:
    issues = validate_geometry(build_geometry_scene("clock_300ms_left"))
    assert [(i.code, i.sensor, i.frame) for i in issues] == [("G-T2", "cam_left", 0)]
    assert issues[0].measured == pytest.approx(300.0)


def test_quat_swap_reads_as_a_half_turn_roll() -> None:
    issues = validate_geometry(build_geometry_scene("quat_swap"))
    tilt = _by_code(issues, "G-P5")[0]
    assert tilt.measured == pytest.approx(180.0, abs=1.0)
    assert "quaternion order" in tilt.message
    # the whole rig is upside down, so every camera's image-down axis points up
    assert {i.sensor for i in _by_code(issues, "G-C3")} == {"cam_front", "cam_left", "cam_rear"}


def test_pose_jump_is_measured_in_metres() -> None:
    jump = _by_code(validate_geometry(build_geometry_scene("pose_jump")), "G-P4")
    assert len(jump) == 1
    assert jump[0].measured == pytest.approx(10.0, abs=0.1)
    assert jump[0].path == f"sensors[{LIDAR_ID}].poses.values[{JUMP_FRAME}]"


def test_far_coordinates_give_the_float32_step() -> None:
    issue = _by_code(validate_geometry(build_geometry_scene("far_coordinates")), "G-O1")[0]
    assert issue.measured == pytest.approx(0.5)  # float32 spacing at 4.5e6 m
    assert "recentre" in issue.message


def test_camera_looking_at_the_sky_has_no_projection_share(clean: Scene) -> None:
    # the front camera's pose in a body convention (x forward, z up): its optical axis is up
    tree = clean.to_sfs_dict()
    cam = next(s for s in tree["sensors"] if s["id"] == "cam_front")
    lidar_rows = np.asarray(tree["sensors"][0]["poses"]["values"])
    cam["poses"]["values"] = [[*row[:3], *lidar_rows[0, 3:]] for row in cam["poses"]["values"]]
    issues = validate_geometry(Scene.model_validate(tree))
    share = _by_code(issues, "G-C1")
    assert [i.sensor for i in share] == ["cam_front"]
    assert share[0].measured is not None
    assert share[0].measured < 0.01
    assert "body frame" in share[0].message


def test_empty_and_sparse_frames(clean: Scene) -> None:
    tree = clean.to_sfs_dict()
    frames = tree["sensors"][0]["frames"]
    frames[4]["points"]["positions"] = np.zeros((0, 3), dtype=np.float32)
    frames[9]["points"]["positions"] = frames[9]["points"]["positions"][:100]
    issues = validate_geometry(Scene.model_validate(tree))
    assert [(i.code, i.frame) for i in issues if i.code.startswith("G-F")] == [
        ("G-F1", 4), ("G-F2", 9)
    ]


def test_thresholds_are_one_typed_record(clean: Scene) -> None:
    strict = GeometryThresholds(max_speed_mps=5.0)
    speed = _by_code(validate_geometry(clean, strict), "G-P1")
    assert len(speed) == 1
    assert speed[0].limit == 5.0
    assert speed[0].unit == "m/s"
    with pytest.raises(ValueError, match="max_speed_mps"):
        GeometryThresholds(max_speed_mps=-1.0)
    with pytest.raises(ValueError, match="extra"):
        GeometryThresholds.model_validate({"max_sped_mps": 5.0})


def test_sample_rows_reads_contiguous_runs() -> None:
    rows = sample_rows(1_000_000, 4096, chunks=32)
    assert len(rows) == 4096
    runs = np.flatnonzero(np.diff(rows) != 1)
    assert len(runs) == 31
    assert rows[0] == 0
    assert rows[-1] == 999_999
    np.testing.assert_array_equal(sample_rows(10, 4096), np.arange(10))


def test_every_threshold_is_documented_in_the_readme_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([0-9.e+-]+) \| .+ \|$", readme, flags=re.MULTILINE))
    fields = GeometryThresholds.model_fields
    documented = {name: float(rows[name]) for name in fields if name in rows}
    assert documented == {name: float(f.default) for name, f in fields.items()}
