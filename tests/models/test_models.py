"""Scene models: strict array fields, structural rejections, round trip with the dict tree."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from models.sfs_scene_factory import IDENTITY, build_scene, jpeg_bytes
from sfs_kit import (
    DISTORTION_PARAM_COUNTS,
    CameraImage,
    CameraIntrinsics,
    Distortion,
    LidarPoints,
    LidarSensor,
    PosePath,
    RadarPoints,
    Scene,
    assert_models_equal,
)
from sfs_kit.models.compare import first_difference


def _points(**kw: Any) -> LidarPoints:
    return LidarPoints(positions=kw.pop("positions", np.zeros((2, 3), np.float32)), **kw)


def test_dict_round_trip_is_exact() -> None:
    tree = build_scene()
    scene = Scene.model_validate(tree)
    assert first_difference(scene.to_sfs_dict(), tree) is None


def test_float64_positions_are_refused_not_rounded() -> None:
    with pytest.raises(
        ValidationError, match=r"expected dtype float32 \(safe casts only\), found float64"
    ):
        _points(positions=np.zeros((2, 3), np.float64))


@pytest.mark.parametrize("dtype", [np.int32, np.uint64, np.float16, np.complex64])
def test_unsafe_or_wrong_dtypes_are_refused(dtype: Any) -> None:
    arr = np.zeros((2, 3), dtype=dtype)
    if np.can_cast(arr.dtype, np.float32, casting="safe"):
        assert _points(positions=arr).positions.dtype == np.float32
    else:
        with pytest.raises(ValidationError, match="expected dtype float32"):
            _points(positions=arr)


def test_big_endian_float32_is_converted_to_little_endian() -> None:
    arr = np.arange(6, dtype=">f4").reshape(2, 3)
    pts = _points(positions=arr)
    assert pts.positions.dtype.str == "<f4"
    assert np.array_equal(pts.positions, arr)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 4), r"expected shape \(N, 3\), found \(2, 4\)"),
        ((2, 3, 1), r"expected shape \(N, 3\), found \(2, 3, 1\)"),
        ((7,), "multiple of 3, found 7"),
    ],
)
def test_wrong_position_shapes_are_refused(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _points(positions=np.zeros(shape, np.float32))


def test_flat_positions_are_reshaped() -> None:
    pts = _points(positions=np.arange(9, dtype=np.float32))
    assert pts.positions.shape == (3, 3)


def test_lists_are_not_arrays() -> None:
    with pytest.raises(ValidationError, match="expected a numpy array, found list"):
        _points(positions=[[0.0, 0.0, 0.0]])


def test_arrays_are_read_only_and_callers_array_stays_writable() -> None:
    mine = np.zeros((2, 3), np.float32)
    pts = _points(positions=mine)
    assert mine.flags.writeable
    assert not pts.positions.flags.writeable
    assert not np.shares_memory(mine, pts.positions)
    mine[0, 0] = 5.0
    assert pts.positions[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        pts.positions[0, 0] = 1.0


def test_read_only_buffers_are_not_copied() -> None:
    data = np.zeros((4, 3), np.float32).tobytes()
    view = np.frombuffer(data, dtype=np.float32).reshape(4, 3)
    pts = _points(positions=view)
    assert np.shares_memory(pts.positions, view)


def test_a_read_only_view_of_a_writable_array_is_copied() -> None:
    base = np.zeros((2, 3), np.float32)
    view = base.view()
    view.flags.writeable = False
    pts = _points(positions=view)
    assert not np.shares_memory(pts.positions, base)


def test_frozen_models_refuse_assignment() -> None:
    pts = _points()
    with pytest.raises(ValidationError, match="frozen"):
        pts.positions = np.zeros((1, 3), np.float32)


def test_per_point_arrays_must_share_n() -> None:
    with pytest.raises(
        ValidationError, match=r"intensities has 3 rows but positions has 2 \(V-A8\)"
    ):
        _points(intensities=np.zeros(3, np.uint8))
    with pytest.raises(ValidationError, match=r"lengths has 1 rows but positions has 2"):
        RadarPoints(positions=np.zeros((2, 3), np.float32), lengths=np.zeros(1, np.float32))


def test_point_timestamps_dtypes() -> None:
    assert _points(timestamps=np.zeros(2, np.uint16)).timestamps.dtype == np.uint32
    assert _points(timestamps=np.zeros(2, np.uint64)).timestamps.dtype == np.uint64
    with pytest.raises(ValidationError, match="expected dtype uint32 or uint64"):
        _points(timestamps=np.zeros(2, np.int64))


def test_intensities_must_be_uint8_vector() -> None:
    with pytest.raises(ValidationError, match=r"expected shape \(N,\), found \(2, 1\)"):
        _points(intensities=np.zeros((2, 1), np.uint8))
    with pytest.raises(ValidationError, match="expected dtype uint8"):
        _points(intensities=np.zeros(2, np.float32))


def _lidar_dict(**overrides: Any) -> dict[str, Any]:
    d = copy.deepcopy(dict(build_scene(with_radar=False, with_camera=False)["sensors"][0].items()))
    d.update(overrides)
    return d


def test_bool_ids_and_float_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="id"):
        LidarSensor.model_validate(_lidar_dict(id=True))
    frames = _lidar_dict()["frames"]
    frames[0]["timestamp"] = 0.0
    with pytest.raises(ValidationError, match=r"frames\.0\.timestamp"):
        LidarSensor.model_validate(_lidar_dict(frames=frames))


def test_lidar_needs_a_frame_and_unknown_fields_are_forbidden() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        LidarSensor.model_validate(_lidar_dict(frames=[]))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        LidarSensor.model_validate(_lidar_dict(skew=0.0))


def test_pose_paths() -> None:
    with pytest.raises(ValidationError, match="row 0 must hold 7 numbers"):
        PosePath.model_validate({"timestamps": [0], "values": [[0.0] * 6]})
    with pytest.raises(ValidationError, match="poses have 2 timestamps but 1 value rows"):
        PosePath.model_validate({"timestamps": [0, 1], "values": [IDENTITY]})
    with pytest.raises(ValidationError, match="poses need at least one timestamp"):
        PosePath.model_validate({"timestamps": [], "values": []})
    with pytest.raises(ValidationError, match="timestamp 0 must be an int, found True"):
        PosePath.model_validate({"timestamps": [True], "values": [IDENTITY]})
    with pytest.raises(ValidationError, match="row 0 must hold numbers only"):
        PosePath.model_validate({"timestamps": [0], "values": [[0, 0, 0, 0, 0, 0, True]]})
    path = PosePath.model_validate({"timestamps": [0], "values": [IDENTITY]})
    assert path.values.dtype == np.float64
    assert not path.values.flags.writeable


@pytest.mark.parametrize("model", sorted(DISTORTION_PARAM_COUNTS))
def test_distortion_param_counts_are_exact(model: str) -> None:
    count = DISTORTION_PARAM_COUNTS[model]
    assert Distortion(model=model, params=tuple([0.0] * count)).params == tuple([0.0] * count)
    with pytest.raises(ValidationError, match=f"takes exactly {count} params, found {count + 1}"):
        Distortion(model=model, params=tuple([0.0] * (count + 1)))


def test_distortion_counts_match_the_spec_table() -> None:
    assert DISTORTION_PARAM_COUNTS == {
        "brown_conrady": 10,
        "fisheye": 4,
        "mod_equi_fish": 4,
        "mod_kannala": 4,
        "fisheye_rad_tan_prism": 12,
        "fisheye_radial_custom": 10,
        "ftheta": 5,
        "omnidirectional": 9,
        "cylindrical": 0,
        "equirectangular": 0,
    }


def test_distortion_params_must_be_finite_and_by_name() -> None:
    with pytest.raises(ValidationError, match="must be finite"):
        Distortion(model="fisheye", params=(0.0, 0.0, float("nan"), 0.0))
    assert Distortion(model="fisheye", params=(1, 2, 3, 4)).by_name() == {
        "k1": 1.0,
        "k2": 2.0,
        "k3": 3.0,
        "k4": 4.0,
    }


def test_intrinsics_width_must_be_positive_int() -> None:
    with pytest.raises(ValidationError, match="width"):
        CameraIntrinsics(fx=1, fy=1, cx=0, cy=0, width=640.0, height=480)
    with pytest.raises(ValidationError, match="greater than 0"):
        CameraIntrinsics(fx=1, fy=1, cx=0, cy=0, width=0, height=480)


def test_camera_needs_exactly_one_content() -> None:
    tree = build_scene()
    cam = tree["sensors"][2]
    neither = {k: v for k, v in cam.items() if k != "images"}
    with pytest.raises(ValidationError, match="exactly one of 'images' or 'video', found neither"):
        Scene.model_validate({**tree, "sensors": [neither]})
    both = {**cam, "video": {"timestamps": [0], "content": np.zeros(8, np.uint8), "fps": 10.0}}
    with pytest.raises(ValidationError, match="found both"):
        Scene.model_validate({**tree, "sensors": [both]})


def test_image_content_accepts_bytes_without_copy() -> None:
    data = jpeg_bytes()
    img = CameraImage(timestamp=0, content=data)
    assert img.content.tobytes() == data
    assert not img.content.flags.writeable


def test_scene_level_rules() -> None:
    tree = build_scene()
    with pytest.raises(ValidationError, match="version"):
        Scene.model_validate({**tree, "version": "1.0.1"})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Scene.model_validate({**tree, "time_offset": -1})
    with pytest.raises(ValidationError, match="at least 1 item"):
        Scene.model_validate({**tree, "sensors": []})
    dup = copy.copy(tree["sensors"][1])
    dup["id"] = "lidar_top"
    with pytest.raises(ValidationError, match="sensor ids must be unique"):
        Scene.model_validate({**tree, "sensors": [tree["sensors"][0], dup]})
    with pytest.raises(ValidationError, match="metadata"):
        Scene.model_validate({**tree, "metadata": {"a": np.zeros(2)}})
    with pytest.raises(ValidationError, match="reserved key"):
        Scene.model_validate({**tree, "annotations": [{"$items": 1}]})


def test_unknown_sensor_type_is_refused_and_kinds_are_discriminated() -> None:
    tree = build_scene()
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        Scene.model_validate({**tree, "sensors": [{"type": "sonar", "id": 1}]})
    scene = Scene.model_validate(tree)
    assert [s.type for s in scene.sensors] == ["lidar", "radar", "camera"]
    assert scene.sensor("cam_front").type == "camera"


def test_odometry_and_points_sensors_are_modelled() -> None:
    tree = {
        "version": "1.0",
        "sensors": [
            {"type": "odometry", "id": 0, "poses": {"timestamps": [0], "values": [IDENTITY]}},
            {"type": "points", "id": 1, "points": {"positions": np.zeros((3, 3), np.float32)}},
        ],
    }
    scene = Scene.model_validate(tree)
    assert first_difference(scene.to_sfs_dict(), tree) is None


def test_annotations_pass_through_with_frozen_arrays() -> None:
    ids = np.arange(4, dtype=np.uint32)
    ann = {
        "id": "a",
        "type": "labeled_points",
        "label": "car",
        "labeled_points": [{"sensor_id": "lidar_top", "point_ids": ids}],
    }
    scene = Scene.model_validate({**build_scene(), "annotations": [ann]})
    out = scene.to_sfs_dict()["annotations"][0]
    assert first_difference(out, ann) is None
    assert not out["labeled_points"][0]["point_ids"].flags.writeable
    assert ids.flags.writeable


def test_json_dump_of_a_scene() -> None:
    scene = Scene.model_validate(
        build_scene(frames=1, points=2, with_radar=False, with_camera=False)
    )
    text = scene.model_dump_json()
    assert '"positions":[[' in text


def test_assert_models_equal_names_the_path() -> None:
    a = Scene.model_validate(build_scene())
    tree = build_scene()
    tree["sensors"][0]["frames"][1]["points"]["intensities"] = (
        tree["sensors"][0]["frames"][1]["points"]["intensities"] + 1
    )
    b = Scene.model_validate(tree)
    assert_models_equal(a, Scene.model_validate(build_scene()))
    with pytest.raises(
        AssertionError, match=r"sensors\[0\]\.frames\[1\]\.points\.intensities: arrays differ"
    ):
        assert_models_equal(a, b)
