"""split_base64 frame codec: exact layout, round trips, golden files, legacy frames, paths."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sfs_kit.codecs.frame_json import (
    FrameFieldDroppedWarning,
    FrameImage,
    LidarFrameData,
    RadarPointsWorld,
    decode_frame,
    encode_frame,
    frame_file_name,
    frames_equal,
    read_frame,
    write_frame,
)
from sfs_kit.errors import InputError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "frames"
SQRT_HALF = math.sqrt(0.5)


def make_image(**changes: Any) -> FrameImage:
    base = FrameImage(
        image_url="https://bucket.invalid/cam0/000001.jpg?X-Amz-Signature=ab%2Fc",
        position_m=(1.25, -2.5, 1.75),
        heading_quat_xyzw=(-0.5, 0.5, -0.5, 0.5),
        camera_model="brown_conrady",
        fx=1266.417203046554,
        fy=1266.417203046554,
        cx=816.2670197447984,
        cy=491.50706579294757,
        k1=-0.1,
        k2=0.01,
        p1=0.001,
        p2=-0.002,
        k3=0.0003,
        lx=0.5,
        ly=-0.5,
        timestamp_ns=1_700_000_000_050_000_000,
    )
    return dataclasses.replace(base, **changes)


def make_frame(n: int = 4, **changes: Any) -> LidarFrameData:
    rng = np.random.default_rng(n)
    base = LidarFrameData(
        points_world=rng.normal(0.0, 30.0, (n, 3)).astype(np.float32),
        device_position_m=(0.1, 123456.789012345, -0.0),
        device_heading_quat_xyzw=(0.0, 0.0, SQRT_HALF, SQRT_HALF),
        timestamp_ns=1_700_000_000_000_000_123,
        intensities=rng.random(n).astype(np.float32),
        point_timestamps_ns=np.arange(n, dtype=np.uint64) + np.uint64(1_700_000_000_000_000_123),
        images=(make_image(),),
    )
    return dataclasses.replace(base, **changes)


def view(frame: LidarFrameData) -> dict[str, Any]:
    """The expected-JSON view of a decoded frame (floats of float32 values are exact in JSON)."""

    def arr(a: npt.NDArray[Any] | None) -> Any:
        return None if a is None else a.tolist()

    radar = frame.radar
    return {
        "points_world": arr(frame.points_world),
        "points_dtype": frame.points_world.dtype.str,
        "device_position_m": list(frame.device_position_m),
        "device_heading_quat_xyzw": list(frame.device_heading_quat_xyzw),
        "timestamp_ns": frame.timestamp_ns,
        "intensities": arr(frame.intensities),
        "point_timestamps_ns": arr(frame.point_timestamps_ns),
        "images": [
            {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(im).items()}
            for im in frame.images
        ],
        "radar": None
        if radar is None
        else {
            "positions": arr(radar.positions),
            "directions": arr(radar.directions),
            "sizes": arr(radar.sizes),
        },
        "point_colors_rgb": arr(frame.point_colors_rgb),
    }


# --- exact layout ---------------------------------------------------------------------------------


def test_key_order_and_compact_layout() -> None:
    radar = RadarPointsWorld(
        positions=np.ones((2, 3), np.float32),
        directions=np.zeros((2, 3), np.float32),
        sizes=np.full(2, 0.5, np.float32),
    )
    data = encode_frame(make_frame(radar=radar), include_point_timestamps=True)
    tree = json.loads(data)
    assert list(tree) == [
        "device_position",
        "device_heading",
        "timestamp",
        "points",
        "intensities",
        "timestamps",
        "images",
        "radar_points",
    ]
    assert list(tree["device_position"]) == ["x", "y", "z"]
    assert list(tree["device_heading"]) == ["w", "x", "y", "z"]
    assert list(tree["images"][0]) == [
        "image_url", "position", "heading", "camera_model", "fx", "fy", "cx", "cy", "skew",
        "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6", "lx", "ly", "xi", "scale_factor",
        "timestamp",
    ]  # fmt: skip
    assert tree["radar_points"][0] == {
        "position": {"x": 1.0, "y": 1.0, "z": 1.0},
        "direction": {"x": 0.0, "y": 0.0, "z": 0.0},
        "size": 0.5,
    }
    # Compact: re-serialising with the same separators reproduces the bytes exactly.
    assert json.dumps(tree, separators=(",", ":")).encode() == data
    assert b"\n" not in data


def test_points_are_little_endian_float32_base64_of_16n_chars() -> None:
    frame = make_frame(n=5)
    tree = json.loads(encode_frame(frame))
    assert len(tree["points"]) == 16 * 5
    expected = base64.b64encode(frame.points_world.astype("<f4").tobytes()).decode()
    assert tree["points"] == expected
    assert tree["intensities"] == base64.b64encode(
        np.asarray(frame.intensities, "<f4").tobytes()
    ).decode()


def test_pose_numbers_keep_full_float64_repr_and_int_timestamp() -> None:
    data = encode_frame(make_frame())
    assert b'"device_position":{"x":0.1,"y":123456.789012345,"z":-0.0}' in data
    assert b'"timestamp":1700000000000000123,' in data
    heading = json.loads(data)["device_heading"]
    assert heading == {"w": SQRT_HALF, "x": 0.0, "y": 0.0, "z": SQRT_HALF}


def test_integer_pose_values_are_written_as_floats() -> None:
    frame = make_frame(device_position_m=(1, 2, 3), device_heading_quat_xyzw=(0, 0, 0, 1))
    assert encode_frame(frame).startswith(
        b'{"device_position":{"x":1.0,"y":2.0,"z":3.0},"device_heading":{"w":1.0,"x":0.0'
    )


def test_intensities_default_to_zeros_and_timestamps_only_on_request() -> None:
    tree = json.loads(encode_frame(make_frame(n=3, intensities=None)))
    assert base64.b64decode(tree["intensities"]) == bytes(12)
    assert "timestamps" not in tree
    assert "radar_points" not in tree


def test_big_endian_input_is_written_little_endian() -> None:
    frame = make_frame(n=3)
    swapped = dataclasses.replace(
        frame,
        points_world=frame.points_world.astype(">f4"),
        point_timestamps_ns=np.asarray(frame.point_timestamps_ns).astype(">u8"),
    )
    assert encode_frame(swapped, include_point_timestamps=True) == encode_frame(
        frame, include_point_timestamps=True
    )


def test_empty_frame_has_empty_strings() -> None:
    frame = make_frame(n=0, images=())
    tree = json.loads(encode_frame(frame, include_point_timestamps=True))
    assert (tree["points"], tree["intensities"], tree["timestamps"], tree["images"]) == (
        "", "", "", [],
    )  # fmt: skip
    back = decode_frame(encode_frame(frame, include_point_timestamps=True))
    assert back.points_world.shape == (0, 3)


def test_image_without_timestamp_omits_the_key() -> None:
    tree = json.loads(encode_frame(make_frame(images=(make_image(timestamp_ns=None),))))
    assert "timestamp" not in tree["images"][0]


def test_colors_are_dropped_with_a_warning() -> None:
    frame = make_frame(n=2, point_colors_rgb=np.zeros((2, 3), np.uint8))
    with pytest.warns(FrameFieldDroppedWarning, match="point colours"):
        data = encode_frame(frame)
    assert b"color" not in data


def test_frame_file_name() -> None:
    assert frame_file_name(0) == "frame-00000.json"
    assert frame_file_name(123456) == "frame-123456.json"


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamps", [False, True])
@pytest.mark.parametrize("with_radar", [False, True])
@pytest.mark.parametrize("n", [0, 1, 7])
def test_round_trip(n: int, with_radar: bool, timestamps: bool) -> None:
    radar = None
    if with_radar:
        radar = RadarPointsWorld(
            positions=np.array([[1.5, -2.0, 0.1]], np.float32),
            directions=np.array([[0.0, 1.0, np.float32(0.1)]], np.float32),
            sizes=np.array([np.float32(2.2)], np.float32),
        )
    frame = make_frame(n=n, radar=radar)
    if not timestamps:
        frame = dataclasses.replace(frame, point_timestamps_ns=None)
    back = decode_frame(encode_frame(frame, include_point_timestamps=timestamps))
    assert frames_equal(back, frame)


def test_decoded_arrays_are_read_only() -> None:
    back = decode_frame(encode_frame(make_frame(), include_point_timestamps=True))
    for array in (back.points_world, back.intensities, back.point_timestamps_ns):
        assert array is not None
        assert not array.flags.writeable


finite_f32 = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=20).map(lambda s: (s[0], 3)),
    elements=st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=True),
)
pose_float = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=60, deadline=None)
@given(
    points=finite_f32,
    position=st.tuples(pose_float, pose_float, pose_float),
    timestamp=st.integers(min_value=0, max_value=2**64 - 1),
    data=st.data(),
)
def test_lossless_round_trip_property(
    points: npt.NDArray[np.float32],
    position: tuple[float, float, float],
    timestamp: int,
    data: st.DataObject,
) -> None:
    n = points.shape[0]
    intensities = data.draw(
        hnp.arrays(np.float32, n, elements=st.floats(0.0, 1.0, width=32, allow_subnormal=True))
    )
    stamps = data.draw(hnp.arrays(np.uint64, n))
    angle = data.draw(st.floats(-math.pi, math.pi))
    heading = (0.0, math.sin(angle / 2), 0.0, math.cos(angle / 2))
    frame = LidarFrameData(
        points_world=points,
        device_position_m=position,
        device_heading_quat_xyzw=heading,
        timestamp_ns=timestamp,
        intensities=intensities,
        point_timestamps_ns=stamps,
    )
    back = decode_frame(encode_frame(frame, include_point_timestamps=True))
    assert back.points_world.tobytes() == points.astype("<f4").tobytes()  # -0.0 and subnormals
    assert back.device_position_m == position
    assert back.device_heading_quat_xyzw == heading
    assert frames_equal(back, frame)


def test_negative_zero_and_subnormal_bits_survive() -> None:
    tiny = np.float32(1e-45)  # the smallest subnormal
    points = np.array([[-0.0, tiny, -tiny]], np.float32)
    back = decode_frame(encode_frame(make_frame(n=1, points_world=points)))
    assert back.points_world.view(np.uint32).tolist() == [[0x80000000, 1, 0x80000001]]


# --- golden files ---------------------------------------------------------------------------------

GOLDEN = sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".expected.json"))


def test_golden_files_exist() -> None:
    assert len(GOLDEN) >= 5


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_file_decodes_to_its_expected_view(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    with_warnings = expected.pop("warns", None)
    if with_warnings:
        with pytest.warns(FrameFieldDroppedWarning, match=with_warnings):
            frame = read_frame(path)
    else:
        frame = read_frame(path)
    assert view(frame) == expected


@pytest.mark.parametrize(
    "path", [p for p in GOLDEN if not p.name.startswith("legacy")], ids=lambda p: p.stem
)
def test_golden_split_base64_file_is_reproduced_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    frame = decode_frame(data)
    assert encode_frame(frame, include_point_timestamps="timestamps" in json.loads(data)) == data


# --- legacy frames --------------------------------------------------------------------------------


def test_legacy_points_list_is_read_vectorised() -> None:
    legacy = {
        "device_position": {"x": 1, "y": 2, "z": 3},
        "device_heading": {"w": 1, "x": 0, "y": 0, "z": 0},
        "points": [
            {"x": 0.5, "y": -1, "z": 2.25, "i": 0.5, "t": 10, "d": 0, "is_ground": False},
            {"x": 1e-3, "y": 7, "z": -0.0, "i": 1, "t": 11.0, "d": 0, "is_ground": False},
        ],
        "point_colors": [1, 2, 3, 4, 5, 255],
    }
    frame = decode_frame(json.dumps(legacy))
    assert frame.points_world.dtype == np.dtype("<f4")
    assert frame.points_world.tolist() == np.array(
        [[0.5, -1, 2.25], [1e-3, 7, -0.0]], np.float32
    ).tolist()
    assert frame.intensities is not None
    assert frame.intensities.tolist() == [0.5, 1.0]
    assert frame.point_timestamps_ns is not None
    assert frame.point_timestamps_ns.dtype == np.dtype("<u8")
    assert frame.point_timestamps_ns.tolist() == [10, 11]
    assert frame.point_colors_rgb is not None
    assert frame.point_colors_rgb.tolist() == [[1, 2, 3], [4, 5, 255]]
    for array in (frame.points_world, frame.intensities, frame.point_timestamps_ns):
        assert not array.flags.writeable
    assert not frame.point_colors_rgb.flags.writeable
    assert frame.timestamp_ns is None
    assert frame.device_heading_quat_xyzw == (0.0, 0.0, 0.0, 1.0)


def test_legacy_nested_colors_and_minimal_points() -> None:
    legacy = {
        "device_position": {"x": 0, "y": 0, "z": 0},
        "points": [{"x": 1, "y": 2, "z": 3}],
        "point_colors": [[9, 8, 7]],
    }
    frame = decode_frame(json.dumps(legacy).encode())
    assert frame.intensities is None
    assert frame.point_timestamps_ns is None
    assert frame.point_colors_rgb is not None
    assert frame.point_colors_rgb.tolist() == [[9, 8, 7]]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("d", 2, "device ids 'd'"), ("is_ground", True, "'is_ground' flags")],
)
def test_legacy_fields_we_cannot_keep_warn(field: str, value: object, match: str) -> None:
    legacy = {
        "device_position": {"x": 0, "y": 0, "z": 0},
        "points": [{"x": 1, "y": 2, "z": 3, field: value}],
    }
    with pytest.warns(FrameFieldDroppedWarning, match=match):
        decode_frame(json.dumps(legacy))


def test_camel_case_pose_keys_and_missing_heading() -> None:
    text = '{"devicePosition":{"z":3,"y":2,"x":1},"points":"","images":[]}'
    frame = decode_frame(text)
    assert frame.device_position_m == (1.0, 2.0, 3.0)  # read by name, not by order
    assert frame.device_heading_quat_xyzw == (0.0, 0.0, 0.0, 1.0)
    assert frame.intensities is None
    camel = decode_frame('{"devicePosition":{"x":0,"y":0,"z":0},'
                         '"deviceHeading":{"x":1,"w":0,"y":0,"z":0},"points":""}')  # fmt: skip
    assert camel.device_heading_quat_xyzw == (1.0, 0.0, 0.0, 0.0)


def test_unknown_keys_are_ignored() -> None:
    frame = decode_frame('{"device_position":{"x":0,"y":0,"z":0},"points":"","extra":[1]}')
    assert frame.points_world.shape == (0, 3)


def test_legacy_camera_defaults() -> None:
    image = {
        "image_url": "https://x.invalid/a.jpg",
        "position": {"x": 1, "y": 2, "z": 3},
        "heading": {"w": 1, "x": 0, "y": 0, "z": 0},
        "fx": 10, "fy": 11, "cx": 5, "cy": 6, "k1": 0.5, "metadata": {"any": 1},
    }  # fmt: skip
    text = json.dumps({"device_position": image["position"], "points": [], "images": [image]})
    (camera,) = decode_frame(text).images
    assert camera == FrameImage(
        image_url="https://x.invalid/a.jpg",
        position_m=(1.0, 2.0, 3.0),
        heading_quat_xyzw=(0.0, 0.0, 0.0, 1.0),
        camera_model="brown_conrady",
        fx=10.0, fy=11.0, cx=5.0, cy=6.0, k1=0.5,
    )  # fmt: skip


# --- paths ----------------------------------------------------------------------------------------


def test_write_then_read_frame(tmp_path: Path) -> None:
    frame = make_frame()
    path = tmp_path / frame_file_name(0)
    written = write_frame(path, frame, include_point_timestamps=True)
    assert written == path.stat().st_size
    assert frames_equal(read_frame(path), frame)
    assert os.listdir(tmp_path) == [path.name]


def test_write_frame_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "frame-00000.json"
    path.write_bytes(b"old")
    bad = make_frame(intensities=np.full(4, 2.0, np.float32))
    with pytest.raises(InputError, match="intensities"):
        write_frame(path, bad)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == [path.name]
