# ruff: noqa: E501  (the case tables read best one case per line)
"""Every error the frame codec raises, pinned by message, with the file and key it names."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_frame_json import make_frame, make_image

from sfs_kit.codecs.frame_json import (
    LidarFrameData,
    RadarPointsWorld,
    decode_frame,
    encode_frame,
    read_frame,
    write_frame,
)
from sfs_kit.errors import FormatError, FrameFormatError, InputError

SOURCE = "s3://bucket/frame-00007.json"

# --- encode: bad in-memory input -> InputError naming the field ------------------------------------

ENCODE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("position not a number", {"device_position_m": (1.0, "2", 3.0)},
     "device_position_m[1]", r"device_position_m\[1\] must be a number, not '2'\."),
    ("position bool", {"device_position_m": (True, 2.0, 3.0)},
     "device_position_m[0]", r"must be a number, not True\."),
    ("position nan", {"device_position_m": (1.0, float("nan"), 3.0)},
     "device_position_m[1]", r"device_position_m\[1\] must be finite, not nan\."),
    ("position length", {"device_position_m": (1.0, 2.0)},
     "device_position_m", r"must hold 3 numbers \(x, y, z\), not 2\."),
    ("heading length", {"device_heading_quat_xyzw": (0.0, 0.0, 1.0)},
     "device_heading_quat_xyzw", r"must hold 4 numbers \(x, y, z, w\), not 3\."),
    ("heading norm", {"device_heading_quat_xyzw": (0.0, 0.0, 0.0, 2.0)},
     "device_heading_quat_xyzw", r"must be a unit quaternion .* its norm is 2\.0\."),
    ("timestamp float", {"timestamp_ns": 1.5},
     "timestamp_ns", r"timestamp_ns must be an int of nanoseconds, not 1\.5\."),
    ("timestamp negative", {"timestamp_ns": -1},
     "timestamp_ns", r"timestamp_ns must be in \[0, 2\*\*64\), not -1\."),
    ("timestamp none", {"timestamp_ns": None},
     "timestamp_ns", r"timestamp_ns is required to encode a frame, not None\."),
    ("points list", {"points_world": [[1.0, 2.0, 3.0]]},
     "points_world", r"points_world must be a numpy array, not list\."),
    ("points float64", {"points_world": np.zeros((4, 3))},
     "points_world", r"must have dtype float32 \(or one that casts to it without loss\), not float64\."),
    ("points shape", {"points_world": np.zeros((4, 2), np.float32)},
     "points_world", r"points_world must have shape \(N, 3\), not \(4, 2\)\."),
    ("points inf", {"points_world": np.array([[0, 0, 0], [0, np.inf, 0]], np.float32),
                    "intensities": None},
     "points_world", r"points_world must be finite, but row 1 holds inf\."),
    ("intensities rows", {"intensities": np.zeros(3, np.float32)},
     "intensities", r"intensities must have 4 rows \(one per point\), not 3\."),
    ("intensities range", {"intensities": np.array([0, 1, 1.5, 0], np.float32)},
     "intensities", r"must be finite and in \[0, 1\], but row 2 holds 1\.5\."),
    ("intensities nan", {"intensities": np.array([0, np.nan, 0, 0], np.float32)},
     "intensities", r"but row 1 holds nan\."),
    ("radar nan", {"radar": RadarPointsWorld(np.array([[np.nan, 0, 0]], np.float32))},
     "radar.positions", r"radar\.positions must be finite, but row 0 holds nan\."),
    ("radar directions rows", {"radar": RadarPointsWorld(np.zeros((2, 3), np.float32),
                                                        directions=np.zeros((1, 3), np.float32))},
     "radar.directions", r"radar\.directions must have 2 rows"),
    ("radar sizes shape", {"radar": RadarPointsWorld(np.zeros((2, 3), np.float32),
                                                    sizes=np.zeros((2, 1), np.float32))},
     "radar.sizes", r"radar\.sizes must have shape \(N,\), not \(2, 1\)\."),
    ("image type", {"images": ({"image_url": "https://x"},)},
     "images[0]", r"images\[0\] must be a FrameImage, not dict\."),
    ("image url", {"images": (make_image(image_url="file:///tmp/a.jpg"),)},
     "images[0].image_url", r"images\[0\]\.image_url must be an http\(s\) URL, not 'file:///tmp/a\.jpg'\."),
    ("image model", {"images": (make_image(camera_model="ftheta"),)},
     "images[0].camera_model",
     r"camera_model must be one of brown_conrady, fisheye, omnidirectional, not 'ftheta'\."),
    ("image fx", {"images": (make_image(fx=0.0),)},
     "images[0].fx", r"images\[0\]\.fx must be > 0, not 0\.0\."),
    ("image k1", {"images": (make_image(k1=float("inf")),)},
     "images[0].k1", r"images\[0\]\.k1 must be finite, not inf\."),
    ("image timestamp", {"images": (make_image(timestamp_ns=2**64),)},
     "images[0].timestamp_ns", r"must be in \[0, 2\*\*64\), not 18446744073709551616\."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "match"),
    [pytest.param(c, f, m, id=i) for i, c, f, m in ENCODE_CASES],
)
def test_encode_rejects(changes: dict[str, Any], field: str, match: str) -> None:
    frame = dataclasses.replace(make_frame(), **changes)
    with pytest.raises(InputError, match=match) as info:
        encode_frame(frame, source=SOURCE)
    assert info.value.field == field
    assert info.value.source == SOURCE


def test_encode_timestamps_requested_but_missing() -> None:
    frame = make_frame(point_timestamps_ns=None)
    with pytest.raises(InputError, match=r"point_timestamps_ns is None but include_point_timest"):
        encode_frame(frame, include_point_timestamps=True)


def test_encode_timestamps_wrong_dtype() -> None:
    frame = make_frame(point_timestamps_ns=np.arange(4, dtype=np.int64))
    with pytest.raises(InputError, match=r"point_timestamps_ns must have dtype uint64"):
        encode_frame(frame, include_point_timestamps=True)


# --- decode: malformed files -> FrameFormatError naming the file and key ---------------------------


def valid_tree() -> dict[str, Any]:
    data = encode_frame(
        make_frame(
            radar=RadarPointsWorld(
                np.ones((2, 3), np.float32),
                directions=np.ones((2, 3), np.float32),
                sizes=np.ones(2, np.float32),
            )
        ),
        include_point_timestamps=True,
    )
    tree: dict[str, Any] = json.loads(data)
    return tree


def legacy_tree() -> dict[str, Any]:
    return {
        "device_position": {"x": 0, "y": 0, "z": 0},
        "points": [{"x": 1, "y": 2, "z": 3, "i": 0.5, "t": 5}, {"x": 4, "y": 5, "z": 6, "i": 1, "t": 6}],
        "point_colors": [1, 2, 3, 4, 5, 6],
    }  # fmt: skip


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``a.b[0].c`` style paths inside a tree."""

    def apply(tree: dict[str, Any]) -> None:
        parts = path.replace("]", "").replace("[", ".").split(".")
        node: Any = tree
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            del node[last]
        else:
            node[last] = value

    return apply


DELETE = object()

DECODE_CASES: list[tuple[str, Callable[[], dict[str, Any]], str, Any, str | None, str]] = [
    ("position missing", valid_tree, "device_position", DELETE, None, r"is missing 'device_position'\."),
    ("position not object", valid_tree, "device_position", [1, 2, 3], "device_position",
     r"key 'device_position': must be an object, found array\."),
    ("position x missing", valid_tree, "device_position.x", DELETE, "device_position", r"is missing 'x'\."),
    ("position x string", valid_tree, "device_position.y", "2", "device_position.y",
     r"must be a number, found string '2'\."),
    ("position x bool", valid_tree, "device_position.z", True, "device_position.z",
     r"must be a number, found boolean True\."),
    ("heading not object", valid_tree, "device_heading", None, "device_heading",
     r"must be an object, found null\."),
    ("heading w missing", valid_tree, "device_heading.w", DELETE, "device_heading", r"is missing 'w'\."),
    ("timestamp float", valid_tree, "timestamp", 1.5, "timestamp",
     r"must be an integer number of nanoseconds, found 1\.5\."),
    ("timestamp negative", valid_tree, "timestamp", -5, "timestamp", r"must be in \[0, 2\*\*64\), found -5\."),
    ("points missing", valid_tree, "points", DELETE, None, r"is missing 'points'\."),
    ("points number", valid_tree, "points", 12, "points", r"must be a base64 string, found number\."),
    ("points bad base64", valid_tree, "points", "AAAA*AAA", "points", r"is not valid standard base64"),
    ("points newline", valid_tree, "points", "AAAA\nAAAAAAAAAAA", "points", r"is not valid standard base64"),
    ("points urlsafe", valid_tree, "points", "AAAA-_AAAAAAAAAA", "points", r"is not valid standard base64"),
    ("points not multiple of 12", valid_tree, "points", "AAAAAAAA", "points",
     r"decodes to 6 bytes, which is not a multiple of 12\."),
    ("intensities length", valid_tree, "intensities", "AAAAAA==", "intensities",
     r"decodes to 4 bytes but 4 points need exactly 16\."),
    ("intensities odd bytes", valid_tree, "intensities", "AAA=", "intensities",
     r"decodes to 2 bytes, which is not a multiple of 4\."),
    ("timestamps length", valid_tree, "timestamps", "", "timestamps",
     r"decodes to 0 bytes but 4 points need exactly 32\."),
    ("images not list", valid_tree, "images", {}, "images", r"must be an array, found object\."),
    ("image not object", valid_tree, "images[0]", "x", "images[0]", r"must be an object, found string\."),
    ("image url missing", valid_tree, "images[0].image_url", DELETE, "images[0].image_url",
     r"must be a string, found None\."),
    ("image model", valid_tree, "images[0].camera_model", "cylindrical", "images[0].camera_model",
     r"must be one of brown_conrady, fisheye, omnidirectional, found 'cylindrical'\."),
    ("image position missing", valid_tree, "images[0].position", DELETE, "images[0]",
     r"is missing 'position'\."),
    ("image heading missing", valid_tree, "images[0].heading", DELETE, "images[0]",
     r"is missing 'heading'\."),
    ("image position not object", valid_tree, "images[0].position", 3, "images[0].position",
     r"must be an object with x, y, z, found number\."),
    ("image heading not object", valid_tree, "images[0].heading", [1], "images[0].heading",
     r"must be an object with w, x, y, z, found array\."),
    ("image fx missing", valid_tree, "images[0].fx", DELETE, "images[0]", r"is missing 'fx'\."),
    ("image k3 string", valid_tree, "images[0].k3", "0", "images[0].k3", r"must be a number"),
    ("image timestamp", valid_tree, "images[0].timestamp", "1", "images[0].timestamp",
     r"must be an integer number of nanoseconds, found '1'\."),
    ("radar not list", valid_tree, "radar_points", {}, "radar_points", r"must be an array, found object\."),
    ("radar item", valid_tree, "radar_points[1]", 5, "radar_points[1]", r"must be an object, found number\."),
    ("radar position missing", valid_tree, "radar_points[1].position", DELETE, "radar_points[1]",
     r"is missing 'position'\."),
    ("radar direction partial", valid_tree, "radar_points[1].direction", DELETE, "radar_points[1]",
     r"lacks 'direction', which other radar points have\."),
    ("radar size string", valid_tree, "radar_points[0].size", "big", "radar_points[0].size",
     r"must be a number, found string 'big'\."),
    ("legacy with intensities", legacy_tree, "intensities", "", "intensities",
     r"is not allowed with a legacy list of 'points'\."),
    ("legacy point not object", legacy_tree, "points[1]", [1, 2, 3], "points[1]",
     r"must be an object, found array\."),
    ("legacy y missing", legacy_tree, "points[1].y", DELETE, "points[1]", r"lacks 'y', which is required\."),
    ("legacy i partial", legacy_tree, "points[0].i", DELETE, "points[0]",
     r"lacks 'i', which is present on other points\."),
    ("legacy z string", legacy_tree, "points[1].z", "6", "points[1].z", r"must be a number, found string '6'\."),
    ("legacy t negative", legacy_tree, "points[1].t", -1, "points[1].t", r"must be in \[0, 2\*\*64\), found -1\."),
    ("legacy t fraction", legacy_tree, "points[1].t", 6.5, "points[1].t",
     r"must be a whole number of nanoseconds in \[0, 2\*\*64\), found 6\.5\."),
    ("legacy is_ground", legacy_tree, "points[0].is_ground", 1, "points[0].is_ground",
     r"must be a boolean, found 1\."),
    ("colors not list", legacy_tree, "point_colors", "red", "point_colors", r"must be an array, found string\."),
    ("colors count", legacy_tree, "point_colors", [1, 2, 3], "point_colors",
     r"holds 3 values but 2 points need 6\."),
    ("colors float", legacy_tree, "point_colors", [1, 2, 3, 4, 5, 6.0], "point_colors[5]",
     r"must be an integer, found number 6\.0\."),
    ("colors range", legacy_tree, "point_colors", [1, 2, 3, 4, 256, 6], "point_colors[4]",
     r"must be an int in 0\.\.255, found 256\."),
    ("colors nested", legacy_tree, "point_colors", [[1, 2, 3], [4, 5]], "point_colors[1]",
     r"must be an \[r, g, b\] array\."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make_tree", "path", "value", "key", "match"),
    [pytest.param(t, p, v, k, m, id=i) for i, t, p, v, k, m in DECODE_CASES],
)
def test_decode_rejects(
    make_tree: Callable[[], dict[str, Any]], path: str, value: Any, key: str | None, match: str
) -> None:
    tree = copy.deepcopy(make_tree())
    setter(path, value)(tree)
    with pytest.raises(FrameFormatError, match=match) as info:
        decode_frame(json.dumps(tree), source=SOURCE)
    assert info.value.key == key
    assert info.value.source == SOURCE
    assert str(info.value).startswith(f"Frame {SOURCE!r}")
    assert str(info.value).endswith(".")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\xff{}", r"is not UTF-8 \(byte 0\)\."),
        (b'{"points": ', r"is not valid JSON \(Expecting value at char 11\)\."),
        (b'{"device_position": NaN}', r"is not valid JSON \(NaN is not valid JSON\)\."),
        (b"[1, 2]", r"must be a JSON object, found array\."),
        ("null", r"must be a JSON object, found null\."),
    ],
)
def test_decode_rejects_non_frames(data: bytes | str, match: str) -> None:
    with pytest.raises(FrameFormatError, match=match) as info:
        decode_frame(data, source=SOURCE)
    assert info.value.source == SOURCE


def test_decode_rejects_overflowing_legacy_number() -> None:
    text = '{"device_position":{"x":0,"y":0,"z":0},"points":[{"x":1e400,"y":0,"z":0}]}'
    with pytest.raises(FrameFormatError, match=r"key 'points\[0\]\.x': must be finite, found inf\."):
        decode_frame(text, source=SOURCE)


def test_decode_rejects_wrong_input_type() -> None:
    with pytest.raises(FrameFormatError, match=r"expected bytes or str, found int\."):
        decode_frame(42, source=SOURCE)  # type: ignore[arg-type]


def test_read_frame_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "frame-00000.json"
    with pytest.raises(InputError, match=r"Cannot read frame file .*frame-00000\.json'") as info:
        read_frame(path)
    assert info.value.source == str(path)


def test_read_frame_names_the_file_in_format_errors(tmp_path: Path) -> None:
    path = tmp_path / "frame-00003.json"
    path.write_text('{"points": ""}')
    with pytest.raises(FrameFormatError, match=r"is missing 'device_position'") as info:
        read_frame(path)
    assert info.value.source == str(path)


def test_write_frame_into_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "frame-00000.json"
    with pytest.raises(InputError, match=r"Cannot write frame file .*nowhere/frame-00000\.json'"):
        write_frame(path, make_frame())


# --- any bytes: a frame or our own error ------------------------------------------------------------

SMALL = encode_frame(make_frame(n=2, images=(make_image(),)), include_point_timestamps=True)


def _decode_or_format_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except FormatError:
        return
    assert isinstance(frame, LidarFrameData)


def test_every_truncation_is_a_frame_or_format_error() -> None:
    for end in range(len(SMALL)):
        _decode_or_format_error(SMALL[:end])


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, len(SMALL) - 1), byte=st.integers(0, 255))
def test_flipped_bytes_give_a_frame_or_format_error(position: int, byte: int) -> None:
    _decode_or_format_error(SMALL[:position] + bytes([byte]) + SMALL[position + 1 :])


# --- relative image URLs (allow_relative_image_urls=True) -------------------------------------------


@pytest.mark.parametrize("url", ["images/front/00003.jpg", "a.png", "./cam/x.jpg", "a/b:c.jpg"])
def test_relative_image_url_is_written_verbatim_when_allowed(url: str, tmp_path: Path) -> None:
    frame = make_frame(images=(make_image(image_url=url),))
    with pytest.raises(InputError, match=r"image_url must be an http\(s\) URL, not"):
        encode_frame(frame)  # the default stays strict
    data = encode_frame(frame, allow_relative_image_urls=True)
    assert json.loads(data)["images"][0]["image_url"] == url
    assert read_frame_bytes(data).images[0].image_url == url
    path = tmp_path / "frame-00000.json"
    write_frame(path, frame, allow_relative_image_urls=True)
    assert path.read_bytes() == data


def read_frame_bytes(data: bytes) -> LidarFrameData:
    return decode_frame(data, source=SOURCE)


@pytest.mark.parametrize(
    "url",
    ["/abs/a.jpg", "//host/a.jpg", "../a.jpg", "images/../../a.jpg", "images/..", "file:a.jpg",
     "s3://bucket/a.jpg", "c:/x.jpg", ""],
)  # fmt: skip
def test_non_relative_urls_are_refused_even_when_allowed(url: str) -> None:
    frame = make_frame(images=(make_image(image_url=url),))
    message = (
        r"images\[0\]\.image_url must be an http\(s\) URL or a relative path \(no scheme, no "
        rf"leading '/', no '\.\.' segment\), not {re.escape(repr(url))}\."
    )
    with pytest.raises(InputError, match=message) as info:
        encode_frame(frame, allow_relative_image_urls=True, source=SOURCE)
    assert info.value.field == "images[0].image_url"
    assert info.value.source == SOURCE


def test_http_urls_still_pass_when_relative_ones_are_allowed() -> None:
    frame = make_frame()
    assert encode_frame(frame, allow_relative_image_urls=True) == encode_frame(frame)
