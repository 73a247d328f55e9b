"""Geometry helpers, to_compat conversions and recentre."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.sfs_scene_factory import build_scene
from sfs_kit import InputError, PosePath, Scene, SceneValidationError, recentre, to_compat, validate
from sfs_kit.models.geometry import (
    interpolate_pose,
    matrix_to_pose,
    matrix_to_quat,
    pose_to_matrix,
    quat_to_matrix,
    rotate_vectors,
    transform_points,
)

quats = arrays(np.float64, 4, elements=st.floats(-1, 1)).filter(lambda q: np.linalg.norm(q) > 0.1)


@settings(max_examples=100, deadline=None)
@given(quats)
def test_quaternion_matrix_round_trip(q: np.ndarray[Any, Any]) -> None:
    unit = q / np.linalg.norm(q)
    m = quat_to_matrix(unit)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-9)
    back = matrix_to_quat(m)
    assert min(np.abs(back - unit).max(), np.abs(back + unit).max()) < 1e-9


def test_quat_to_matrix_refuses_zero_norm() -> None:
    with pytest.raises(InputError, match=r"zero or non-finite norm .* \(norms \[0\.0\]\)"):
        quat_to_matrix([0.0, 0.0, 0.0, 0.0])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (6, 4), elements=st.floats(-1, 1)).filter(
    lambda q: bool((np.linalg.norm(q, axis=-1) > 0.1).all())))
def test_matrix_to_quat_is_vectorised_like_one_by_one(q: np.ndarray[Any, Any]) -> None:
    """Every Shepperd branch (trace and each diagonal term) gives the same as per-matrix calls."""
    m = quat_to_matrix(q)
    together = matrix_to_quat(m)
    one_by_one = np.stack([matrix_to_quat(x) for x in m])
    np.testing.assert_allclose(together, one_by_one, atol=0, rtol=0)
    assert (together[:, 3] >= 0).all()
    np.testing.assert_allclose(quat_to_matrix(together), m, atol=1e-12)


def test_pose_matrix_round_trip_and_convention() -> None:
    half = math.sqrt(0.5)
    pose = [1.0, 2.0, 3.0, 0.0, 0.0, half, half]  # 90 degrees about z
    m = pose_to_matrix(pose)
    np.testing.assert_allclose(m @ [1, 0, 0, 1], [1, 3, 3, 1], atol=1e-12)
    np.testing.assert_allclose(matrix_to_pose(m), pose, atol=1e-12)
    pts = transform_points(np.array([[1.0, 0.0, 0.0]], np.float32), m)
    assert pts.dtype == np.float32
    np.testing.assert_allclose(pts, [[1, 3, 3]], atol=1e-6)
    np.testing.assert_allclose(rotate_vectors(np.array([[1.0, 0, 0]]), m), [[0, 1, 0]], atol=1e-6)


def test_transform_points_computes_in_float64() -> None:
    m = pose_to_matrix([4_000_000.0, 0, 0, 0, 0, 0, 1])
    p = np.array([[0.25, 0, 0]], np.float32)
    out = transform_points(p, m) - np.float32(4_000_000.0)
    assert out[0, 0] == np.float32(np.float64(4_000_000.25)) - np.float32(4_000_000.0)


def _reference_float64(points: np.ndarray[Any, Any], m: np.ndarray[Any, Any]) -> Any:
    return (points.astype(np.float64) @ m[:3, :3].T + m[:3, 3]).astype(np.float32)


def _assert_within_one_ulp_of_terms(
    out: np.ndarray[Any, Any],
    reference: np.ndarray[Any, Any],
    points: np.ndarray[Any, Any],
    m: np.ndarray[Any, Any],
) -> None:
    """|out - reference| <= one float32 ulp of sum(|r_ij * p_j|) + |t_i| (the terms' size)."""
    terms = np.abs(points.astype(np.float64)) @ np.abs(m[:3, :3]).T + np.abs(m[:3, 3])
    bound = np.spacing(terms.astype(np.float32)).astype(np.float64)
    diff = np.abs(out.astype(np.float64) - reference.astype(np.float64))
    assert np.all(diff <= bound), float((diff / bound).max())
    assert np.count_nonzero(diff) <= out.size // 100  # differences are rare


@pytest.mark.parametrize("layout", ["c", "strided", "float64", "int"])
def test_transform_points_matches_float64_matmul_within_one_ulp(layout: str) -> None:
    rng = np.random.default_rng(3)
    base = ((rng.random((5000, 3)) - 0.5) * 400).astype(np.float32)
    points: np.ndarray[Any, Any] = base
    if layout == "strided":  # x y z inside a record, as the PCD reader's zero-copy views are
        record = np.zeros(5000, dtype=[("xyz", "<f4", 3), ("i", "<f4")])
        record["xyz"] = base
        points = record["xyz"]
        assert not points.flags.c_contiguous
    elif layout == "float64":
        points = base.astype(np.float64)
    elif layout == "int":
        points = base.astype(np.int32)
    m = pose_to_matrix([1523.25, -250.5, 3.0, 0.1, 0.2, 0.3, 0.9])
    before = points.copy()
    out = transform_points(points, m)
    assert out.dtype == np.float32
    assert out.shape == (5000, 3)
    assert out.flags.c_contiguous
    _assert_within_one_ulp_of_terms(out, _reference_float64(points, m), points, m)
    assert np.array_equal(points, before)
    rotation_only = m.copy()
    rotation_only[:3, 3] = 0.0
    rotated = rotate_vectors(points, m)
    reference = (points.astype(np.float64) @ m[:3, :3].T).astype(np.float32)
    _assert_within_one_ulp_of_terms(rotated, reference, points, rotation_only)


def test_transform_points_is_the_column_formula_exactly() -> None:
    rng = np.random.default_rng(4)
    p = ((rng.random((2 * 8192 + 5, 3)) - 0.5) * 200).astype(np.float32)  # 3 blocks
    m = pose_to_matrix([4_000_123.5, 5_000_321.25, 12.0, 0.3, -0.2, 0.1, 0.9])
    x, y, z = (p[:, j].astype(np.float64) for j in range(3))
    expected = np.stack(
        [((x * m[i, 0] + y * m[i, 1]) + z * m[i, 2]) + m[i, 3] for i in range(3)], axis=1
    ).astype(np.float32)
    assert np.array_equal(transform_points(p, m), expected)


def test_transform_points_shapes() -> None:
    m = pose_to_matrix([1.0, 2.0, 3.0, 0, 0, 0, 1])
    assert transform_points(np.zeros((0, 3), np.float32), m).shape == (0, 3)
    assert transform_points(np.array([1.0, 1.0, 1.0]), m).tolist() == [[2.0, 3.0, 4.0]]
    assert rotate_vectors(np.array([1.0, 1.0, 1.0]), m).tolist() == [[1.0, 1.0, 1.0]]


def test_interpolate_pose_lerps_and_slerps() -> None:
    half = math.sqrt(0.5)
    path = PosePath.model_validate(
        {"timestamps": [0, 100], "values": [[0, 0, 0, 0, 0, 0, 1.0], [10, 0, 0, 0, 0, half, half]]}
    )
    pos, quat = interpolate_pose(path, [0, 50, 100, 200])
    np.testing.assert_allclose(pos[:, 0], [0, 5, 10, 10])
    np.testing.assert_allclose(
        quat[1], [0, 0, math.sin(math.pi / 8), math.cos(math.pi / 8)], atol=1e-12
    )
    np.testing.assert_allclose(quat[3], [0, 0, half, half], atol=1e-12)
    single = PosePath.model_validate({"timestamps": [5], "values": [[1, 2, 3, 0, 0, 0, 1.0]]})
    pos1, quat1 = interpolate_pose(single, [0, 9])
    assert pos1.shape == (2, 3)
    assert quat1.shape == (2, 4)


def test_to_compat_converts_nanoseconds_and_uint64_point_times() -> None:
    tree = build_scene(with_radar=False, with_camera=False)
    tree["time_unit"] = "nanoseconds"
    tree["time_offset"] = 5_000_000_123
    lidar = tree["sensors"][0]
    lidar["poses"]["timestamps"] = [t * 1000 for t in lidar["poses"]["timestamps"]]
    for f in lidar["frames"]:
        f["timestamp"] *= 1000
        f["points"]["timestamps"] = f["points"]["timestamps"].astype(np.uint64) * 1000 + np.uint64(
            5_000_000_123 + 999
        )
    out = to_compat(Scene.model_validate(tree))
    assert out.time_unit == "microseconds"
    assert out.time_offset == 5_000_000
    frame = out.sensors[0].frames[1]
    assert frame.timestamp == 100_000
    ts = frame.points.timestamps
    assert ts is not None
    assert ts.dtype == np.uint32
    assert int(ts[0]) == 100_000
    assert not ts.flags.writeable
    assert validate(out) == []


def test_to_compat_drops_empty_point_times_and_normalises_quaternions() -> None:
    tree = build_scene(with_radar=False, with_camera=False)
    tree["sensors"][0]["frames"][0]["points"] = {
        "positions": np.zeros((0, 3), np.float32),
        "timestamps": np.zeros(0, np.uint32),
    }
    tree["sensors"][0]["poses"]["values"][0] = [0, 0, 0, 0, 0, 0, 1.0008]
    out = to_compat(Scene.model_validate(tree))
    assert "timestamps" not in out.to_sfs_dict()["sensors"][0]["frames"][0]["points"]
    assert np.linalg.norm(out.sensors[0].poses.values[0, 3:]) == pytest.approx(1.0, abs=1e-15)


def test_to_compat_refuses_far_off_quaternions() -> None:
    tree = build_scene(with_radar=False, with_camera=False)
    tree["sensors"][0]["poses"]["values"][0] = [0, 0, 0, 0, 0, 0, 2.0]
    with pytest.raises(
        SceneValidationError,
        match=r"Quaternion 0 of sensor 'lidar_top' poses has norm 2; it must be within 0.001 of 1",
    ):
        to_compat(Scene.model_validate(tree))


def test_recentre_shifts_world_data_and_records_the_origin() -> None:
    tree = build_scene()
    for s in tree["sensors"]:
        for row in s["poses"]["values"]:
            row[0] += 4_500_000.4
        for f in s.get("frames", []):
            f["points"]["positions"] = (
                f["points"]["positions"] + np.array([4_500_000.0, 0, 0])
            ).astype(np.float32)
    tree["annotations"] = [
        {
            "id": 1,
            "type": "cuboid",
            "path": {"timestamps": [0], "values": [[1, 1, 1, 4_500_010.0, 2, 3, 0, 0, 0]]},
        },
        {
            "id": 2,
            "type": "polyline",
            "path": {"timestamps": [0], "values": [[4_500_000.0, 0, 0, 4_500_001.0, 1, 1]]},
        },
    ]
    scene = Scene.model_validate(tree)
    assert any(i.code == "V-O1" for i in validate(scene))
    out = recentre(scene)
    assert out.metadata == {"sfs_kit": {"origin_offset": [4_500_000.0, 0.0, 0.0]}}
    assert out.sensors[0].poses.values[0, 0] == pytest.approx(0.4)
    before = scene.sensors[0].frames[0].points.positions.astype(np.float64)
    after = out.sensors[0].frames[0].points.positions
    np.testing.assert_allclose(after, (before - [4_500_000.0, 0, 0]).astype(np.float32))
    anns = out.to_sfs_dict()["annotations"]
    assert anns[0]["path"]["values"][0][3] == 10.0
    assert anns[1]["path"]["values"][0] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert not any(i.code == "V-O1" for i in validate(out))
    again = recentre(out, [1.0, 0.0, 0.0])
    assert again.metadata["sfs_kit"]["origin_offset"] == [4_500_001.0, 0.0, 0.0]


def test_recentre_leaves_ego_points_alone_and_checks_the_origin() -> None:
    tree = build_scene(with_radar=False, with_camera=False)
    tree["sensors"][0]["coordinates"] = "ego"
    scene = Scene.model_validate(tree)
    out = recentre(scene, [10.0, 0.0, 0.0])
    assert np.array_equal(
        out.sensors[0].frames[0].points.positions, scene.sensors[0].frames[0].points.positions
    )
    with pytest.raises(InputError, match=r"recentre\(\) needs origin_m as three finite numbers"):
        recentre(scene, [1.0, 2.0])
