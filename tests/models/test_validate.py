"""Validation: every V-* rule triggered by name and message, both modes, never a crash."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.sfs_scene_factory import IDENTITY, build_scene, content, jpeg_bytes, png_bytes
from sfs_kit import Issue, Scene, validate
from sfs_kit.models.validate import _cameras as camera_rules
from sfs_kit.models.validate import validate_tree

Tree = dict[str, Any]


def lidar(t: Tree) -> Tree:
    s: Tree = t["sensors"][0]
    return s


def radar(t: Tree) -> Tree:
    s: Tree = t["sensors"][1]
    return s


def cam(t: Tree) -> Tree:
    s: Tree = t["sensors"][2]
    return s


def pts(t: Tree, i: int = 0) -> Tree:
    p: Tree = lidar(t)["frames"][i]["points"]
    return p


def _del(container: Callable[[Tree], Tree], key: str) -> Callable[[Tree], object]:
    return lambda t: container(t).pop(key) and None


def _both(a: Tree, a_new: Tree, b: Tree, b_new: Tree) -> None:
    a.update(a_new)
    b.update(b_new)


# (mutation, code, severity, path, message regex)
CASES: list[tuple[str, Callable[[Tree], object], str, str, str, str]] = [
    (
        "version missing",
        _del(lambda t: t, "version"),
        "V-S1",
        "error",
        "version",
        "has no 'version'",
    ),
    (
        "version float",
        lambda t: t.update(version=1.0),
        "V-S1",
        "error",
        "version",
        "must be the string '1.0', found float",
    ),
    (
        "version 1.0.1",
        lambda t: t.update(version="1.0.1"),
        "V-S1",
        "error",
        "version",
        "exactly '1.0', found '1.0.1'",
    ),
    ("no sensors", _del(lambda t: t, "sensors"), "V-S2", "error", "sensors", "it is missing"),
    ("empty sensors", lambda t: t.update(sensors=[]), "V-S2", "error", "sensors", "is empty"),
    (
        "nanoseconds",
        lambda t: t.update(time_unit="nanoseconds"),
        "V-S3",
        "error",
        "time_unit",
        "only 'microseconds'",
    ),
    (
        "negative offset",
        lambda t: t.update(time_offset=-1),
        "V-S4",
        "error",
        "time_offset",
        "int >= 0, found int -1",
    ),
    (
        "float offset",
        lambda t: t.update(time_offset=1.0),
        "V-S4",
        "error",
        "time_offset",
        "found float 1.0",
    ),
    (
        "duplicate id",
        lambda t: radar(t).update(id="lidar_top"),
        "V-S5",
        "error",
        "sensors",
        "'lidar_top' is used more than once",
    ),
    (
        "$items key",
        lambda t: t.update(annotations=[{"id": 1, "type": "object", "$items": []}]),
        "V-S6",
        "error",
        "annotations[0].$items",
        "reserved",
    ),
    (
        "$items key in metadata",
        lambda t: t.update(metadata={"$items": 1}),
        "V-S6",
        "error",
        "metadata.$items",
        "the key '\\$items' is reserved by the .sfs container",
    ),
    (
        "$items key nested in metadata",
        lambda t: t.update(metadata={"x": {"$items": 1}}),
        "V-S6",
        "error",
        "metadata.x.$items",
        "reserved",
    ),
    (
        "int key",
        lambda t: t.update(attributes=[{1: "x", "name": "a", "timestamps": [], "values": []}]),
        "V-S6",
        "error",
        "attributes[0]",
        "keys must be str",
    ),
    (
        "nan in annotation",
        lambda t: t.update(annotations=[{"id": 1, "type": "object", "x": math.nan}]),
        "V-S6",
        "error",
        "annotations[0].x",
        "finite numbers, found nan",
    ),
    (
        "huge int",
        lambda t: t.update(annotations=[{"id": 1, "type": "object", "x": 2**60}]),
        "V-S7",
        "warning",
        "annotations[0].x",
        "beyond 2\\^53 - 1",
    ),
    (
        "type missing",
        _del(radar, "type"),
        "V-N1",
        "error",
        "sensors[radar_front].type",
        "has no 'type'",
    ),
    (
        "type unknown",
        lambda t: radar(t).update(type="sonar"),
        "V-N1",
        "error",
        "sensors[radar_front].type",
        "unknown sensor type 'sonar'",
    ),
    (
        "odometry in compat",
        lambda t: t["sensors"].append(
            {"type": "odometry", "id": "odo", "poses": {"timestamps": [0], "values": [IDENTITY]}}
        ),
        "V-N1",
        "error",
        "sensors[odo].type",
        "not accepted by Scale",
    ),
    (
        "poses missing",
        _del(radar, "poses"),
        "V-N2",
        "error",
        "sensors[radar_front].poses",
        "needs 'poses'",
    ),
    (
        "list positions",
        lambda t: pts(t).update(positions=[[0.0, 0.0, 0.0]]),
        "V-N2",
        "error",
        "sensors[lidar_top].frames[0].points.positions",
        "must be a numpy array, found list",
    ),
    (
        "unknown field",
        lambda t: lidar(t).update(skew=0.0),
        "V-N2",
        "error",
        "sensors[lidar_top].skew",
        "unknown field 'skew'.*cannot express",
    ),
    (
        "bad coordinates",
        lambda t: lidar(t).update(coordinates="body"),
        "V-N2",
        "error",
        "sensors[lidar_top].coordinates",
        "'world' or 'ego', found 'body'",
    ),
    (
        "bad distortion model",
        lambda t: cam(t)["intrinsics"].update(distortion={"model": "pinhole", "params": []}),
        "V-N2",
        "error",
        "sensors[cam_front].intrinsics.distortion.model",
        "unknown distortion model 'pinhole'",
    ),
    (
        "parent missing",
        lambda t: radar(t).update(parent_id="nope"),
        "V-N3",
        "error",
        "sensors[radar_front].parent_id",
        "'nope' names no sensor",
    ),
    (
        "parent self",
        lambda t: radar(t).update(parent_id="radar_front"),
        "V-N3",
        "error",
        "sensors[radar_front].parent_id",
        "its own parent",
    ),
    (
        "parent cycle",
        lambda t: _both(radar(t), {"parent_id": "cam_front"}, cam(t), {"parent_id": "radar_front"}),
        "V-N3",
        "error",
        "sensors",
        "form a cycle",
    ),
    (
        "bool id",
        lambda t: radar(t).update(id=True),
        "V-N3",
        "error",
        "sensors[#1].id",
        "not a bool",
    ),
    (
        "ids equal after str",
        lambda t: _both(lidar(t), {"id": 1}, radar(t), {"id": "1"}),
        "V-N3",
        "error",
        "sensors",
        "equal after str",
    ),
    (
        "no frames",
        lambda t: lidar(t).update(frames=[]),
        "V-N4",
        "error",
        "sensors[lidar_top].frames",
        "at least one frame",
    ),
    (
        "negative ts",
        lambda t: lidar(t)["poses"]["timestamps"].__setitem__(0, -5),
        "V-T1",
        "error",
        "sensors[lidar_top].poses.timestamps",
        "not be negative, found -5",
    ),
    (
        "not increasing",
        lambda t: lidar(t)["frames"][1].update(timestamp=0),
        "V-T2",
        "error",
        "sensors[lidar_top].frames",
        "strictly increasing; \\[1\\] = 0 follows",
    ),
    (
        "not normalized",
        lambda t: cam(t)["poses"].update(timestamps=[200_000_000, 300_000_000]),
        "V-T3",
        "error",
        "sensors[cam_front].poses.timestamps",
        "normalized.*200000000 > 100000000",
    ),
    (
        "too fast",
        lambda t: [f.update(timestamp=i * 1000) for i, f in enumerate(lidar(t)["frames"])] and None,
        "V-T4",
        "error",
        "sensors[lidar_top].frames",
        "rate 1000 fps is above 100",
    ),
    (
        "float frame ts",
        lambda t: lidar(t)["frames"][0].update(timestamp=0.0),
        "V-T5",
        "error",
        "sensors[lidar_top].frames[0].timestamp",
        "must be an int, found float",
    ),
    (
        "bool image ts",
        lambda t: cam(t)["images"][0].update(timestamp=False),
        "V-T5",
        "error",
        "sensors[cam_front].images[0].timestamp",
        "found bool False",
    ),
    (
        "outside span",
        lambda t: lidar(t)["poses"].update(timestamps=[10, 20, 30, 40]),
        "V-T6",
        "warning",
        "sensors[lidar_top].frames",
        "outside the pose span \\[10, 40\\]",
    ),
    (
        "pose rows",
        lambda t: lidar(t)["poses"].update(timestamps=[0]),
        "V-P1",
        "error",
        "sensors[lidar_top].poses",
        "1 timestamps but 4 value rows",
    ),
    (
        "empty poses",
        lambda t: lidar(t).update(poses={"timestamps": [], "values": []}),
        "V-P1",
        "error",
        "sensors[lidar_top].poses.values",
        "at least one pose",
    ),
    (
        "pose row 6",
        lambda t: lidar(t)["poses"]["values"].__setitem__(1, [0.0] * 6),
        "V-P2",
        "error",
        "sensors[lidar_top].poses.values[1]",
        "must be 7 numbers",
    ),
    (
        "pose nan",
        lambda t: lidar(t)["poses"]["values"].__setitem__(1, [math.nan, 0, 0, 0, 0, 0, 1.0]),
        "V-P3",
        "error",
        "sensors[lidar_top].poses.values[1]",
        "must be finite",
    ),
    (
        "quat norm",
        lambda t: lidar(t)["poses"]["values"].__setitem__(1, [0, 0, 0, 0, 0, 0, 1.01]),
        "V-P4",
        "error",
        "sensors[lidar_top].poses.values[1]",
        "norm is 1.01",
    ),
    (
        "zero quat",
        lambda t: lidar(t)["poses"]["values"].__setitem__(1, [0, 0, 0, 0, 0, 0, 0.0]),
        "V-P4",
        "error",
        "sensors[lidar_top].poses.values[1]",
        "norm is 0",
    ),
    (
        "positions f64",
        lambda t: pts(t).update(positions=pts(t)["positions"].astype(np.float64)),
        "V-A1",
        "error",
        "sensors[lidar_top].frames[0].points.positions",
        "must be float32, found float64",
    ),
    (
        "positions shape",
        lambda t: pts(t).update(positions=np.zeros((20, 4), np.float32)),
        "V-A1",
        "error",
        "sensors[lidar_top].frames[0].points.positions",
        "shape \\(N, 3\\), found \\(20, 4\\)",
    ),
    (
        "colors dtype",
        lambda t: pts(t).update(colors=pts(t)["colors"].astype(np.uint16)),
        "V-A2",
        "error",
        "sensors[lidar_top].frames[0].points.colors",
        "must be uint8, found uint16",
    ),
    (
        "intensities 2d",
        lambda t: pts(t).update(intensities=pts(t)["intensities"].reshape(-1, 1)),
        "V-A3",
        "error",
        "sensors[lidar_top].frames[0].points.intensities",
        "shape \\(N,\\), found \\(20, 1\\)",
    ),
    (
        "uint64 point ts",
        lambda t: pts(t).update(timestamps=pts(t)["timestamps"].astype(np.uint64)),
        "V-A4",
        "error",
        "sensors[lidar_top].frames[0].points.timestamps",
        "must be uint32, found uint64",
    ),
    (
        "directions dtype",
        lambda t: radar(t)["frames"][0]["points"].update(directions=np.zeros((4, 3), np.float64)),
        "V-A5",
        "error",
        "sensors[radar_front].frames[0].points.directions",
        "must be float32",
    ),
    (
        "lengths 2d",
        lambda t: radar(t)["frames"][0]["points"].update(lengths=np.zeros((4, 3), np.float32)),
        "V-A5",
        "error",
        "sensors[radar_front].frames[0].points.lengths",
        "shape \\(N,\\)",
    ),
    (
        "point before frame",
        lambda t: pts(t, 1)["timestamps"].__setitem__(0, 5),
        "V-A6",
        "error",
        "sensors[lidar_top].frames[1].points.timestamps",
        "frame timestamp \\(100000\\) must be <= the smallest point timestamp \\(5\\)",
    ),
    (
        "nan positions",
        lambda t: pts(t)["positions"].__setitem__((3, 1), np.nan),
        "V-A7",
        "error",
        "sensors[lidar_top].frames[0].points.positions",
        "must be finite",
    ),
    (
        "inf lengths",
        lambda t: radar(t)["frames"][0]["points"]["lengths"].__setitem__(0, np.inf),
        "V-A7",
        "error",
        "sensors[radar_front].frames[0].points.lengths",
        "must be finite",
    ),
    (
        "flat %3",
        lambda t: pts(t).update(positions=np.zeros(7, np.float32)),
        "V-A8",
        "error",
        "sensors[lidar_top].frames[0].points.positions",
        "7 values, not a multiple of 3",
    ),
    (
        "length mismatch",
        lambda t: pts(t).update(intensities=np.zeros(3, np.uint8)),
        "V-A8",
        "error",
        "sensors[lidar_top].frames[0].points.intensities",
        "3 rows but positions has 20",
    ),
    (
        "point ts after next frame",
        lambda t: pts(t)["timestamps"].__setitem__(19, 100_000),
        "V-A9",
        "warning",
        "sensors[lidar_top].frames[0].points.timestamps",
        "not before the next frame's timestamp \\(100000\\)",
    ),
    (
        "huge coordinates",
        lambda t: pts(t)["positions"].__setitem__((0, 0), 4.5e6),
        "V-O1",
        "warning",
        "sensors[lidar_top].frames[0].points.positions",
        "magnitude 4.5e\\+06 m.*recentre",
    ),
    (
        "huge pose",
        lambda t: cam(t)["poses"]["values"].__setitem__(0, [3e5, 0, 0, 0, 0, 0, 1.0]),
        "V-O1",
        "warning",
        "sensors[cam_front].poses.values",
        "magnitude 300000 m",
    ),
    ("no content", _del(cam, "images"), "V-C1", "error", "sensors[cam_front]", "has neither"),
    (
        "empty images",
        lambda t: cam(t).update(images=[]),
        "V-C1",
        "error",
        "sensors[cam_front].images",
        "is empty",
    ),
    (
        "both content",
        lambda t: cam(t).update(
            video={"timestamps": [0], "content": np.zeros(16, np.uint8), "fps": 10.0}
        ),
        "V-C1b",
        "error",
        "sensors[cam_front]",
        "it has both",
    ),
    (
        "fx zero",
        lambda t: cam(t)["intrinsics"].update(fx=0.0),
        "V-C2",
        "error",
        "sensors[cam_front].intrinsics.fx",
        "must be > 0",
    ),
    (
        "cx nan",
        lambda t: cam(t)["intrinsics"].update(cx=math.nan),
        "V-C2",
        "error",
        "sensors[cam_front].intrinsics.cx",
        "finite number",
    ),
    (
        "width float",
        lambda t: cam(t)["intrinsics"].update(width=32.0),
        "V-C2",
        "error",
        "sensors[cam_front].intrinsics.width",
        "int > 0, found float",
    ),
    (
        "param count",
        lambda t: cam(t)["intrinsics"]["distortion"].update(params=[0.0] * 5),
        "V-C3",
        "error",
        "sensors[cam_front].intrinsics.distortion.params",
        "'brown_conrady' takes exactly 10 params, found 5",
    ),
    (
        "not an image",
        lambda t: cam(t)["images"][0].update(content=np.zeros(30, np.uint8)),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "neither a JPEG",
    ),
    (
        "image 2d",
        lambda t: cam(t)["images"][0].update(content=np.zeros((2, 2, 3), np.uint8)),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "non-empty 1-D uint8",
    ),
    (
        "image empty",
        lambda t: cam(t)["images"][0].update(content=np.zeros(0, np.uint8)),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "non-empty 1-D uint8",
    ),
    (
        "jpeg size",
        lambda t: cam(t)["images"][1].update(content=content(jpeg_bytes(40, 24))),
        "V-C4",
        "error",
        "sensors[cam_front].images[1].content",
        "JPEG is 40x24 but the intrinsics say 32x24",
    ),
    (
        "png size",
        lambda t: cam(t)["images"][1].update(content=content(png_bytes(32, 30))),
        "V-C4",
        "error",
        "sensors[cam_front].images[1].content",
        "PNG is 32x30 but the intrinsics say 32x24",
    ),
    (
        "truncated jpeg",
        lambda t: cam(t)["images"][0].update(content=content(b"\xff\xd8\xff\xe0\x00\x10JFIF")),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "no readable image size",
    ),
    (
        "jpeg cut after its header",
        lambda t: cam(t)["images"][0].update(content=content(jpeg_bytes()[:-10])),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "the JPEG is incomplete: it does not end with the end-of-image marker FF D9",
    ),
    (
        "jpeg cut before its scan",
        lambda t: cam(t)["images"][0].update(content=content(jpeg_bytes()[:170])),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "the JPEG is incomplete: no start-of-scan \\(SOS\\) marker",
    ),
    (
        "png without IEND",
        lambda t: cam(t)["images"][0].update(content=content(png_bytes()[:-12])),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "the PNG is incomplete: it does not end with the IEND chunk",
    ),
    (
        "png with trailing bytes",
        lambda t: cam(t)["images"][0].update(content=content(png_bytes() + b"x")),
        "V-C4",
        "error",
        "sensors[cam_front].images[0].content",
        "the PNG is incomplete: it does not end with the IEND chunk",
    ),
    (
        "annotation dup id",
        lambda t: t.update(annotations=[{"id": 1, "type": "object"}, {"id": 1, "type": "object"}]),
        "V-X1",
        "error",
        "annotations[1].id",
        "used more than once",
    ),
    (
        "annotation type",
        lambda t: t.update(annotations=[{"id": 1, "type": "blob"}]),
        "V-X1",
        "error",
        "annotations[0].type",
        "unknown annotation type 'blob'",
    ),
    (
        "annotation sensor ref",
        lambda t: t.update(
            annotations=[
                {
                    "id": 1,
                    "type": "box_2d",
                    "sensor_id": "cam_x",
                    "path": {"timestamps": [0], "values": [[0, 0, 1, 1]]},
                }
            ]
        ),
        "V-X1",
        "error",
        "annotations[0].sensor_id",
        "'cam_x' names no sensor",
    ),
    (
        "annotation link",
        lambda t: t.update(
            annotations=[
                {
                    "id": 1,
                    "type": "link",
                    "from_id": 1,
                    "to_id": 9,
                    "label": "x",
                    "is_bidirectional": False,
                }
            ]
        ),
        "V-X1",
        "error",
        "annotations[0].to_id",
        "9 names no annotation",
    ),
    (
        "annotation path",
        lambda t: t.update(
            annotations=[
                {
                    "id": 1,
                    "type": "cuboid",
                    "path": {"timestamps": [5, 5], "values": [[0] * 9, [0] * 9]},
                }
            ]
        ),
        "V-X1",
        "error",
        "annotations[0].path.timestamps",
        "strictly increasing",
    ),
    (
        "annotation rows",
        lambda t: t.update(
            annotations=[
                {"id": 1, "type": "cuboid", "path": {"timestamps": [5, 6], "values": [[0] * 9]}}
            ]
        ),
        "V-X1",
        "error",
        "annotations[0].path.values",
        "one value row per timestamp",
    ),
    (
        "metadata nan",
        lambda t: t.update(metadata={"a": [math.inf]}),
        "V-M1",
        "error",
        "metadata.a[0]",
        "finite, found inf",
    ),
    (
        "metadata array",
        lambda t: t.update(metadata={"a": np.zeros(2)}),
        "V-M1",
        "error",
        "metadata.a",
        "may not hold arrays",
    ),
    (
        "metadata list",
        lambda t: t.update(metadata=[1]),
        "V-M1",
        "error",
        "metadata",
        "must be a JSON object, found list",
    ),
    (
        "origin offset",
        lambda t: t.update(metadata={"sfs_kit": {"origin_offset": [1, 2]}}),
        "V-M1",
        "error",
        "metadata.sfs_kit.origin_offset",
        "\\[x, y, z\\]",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "code", "severity", "path", "message"), CASES, ids=[c[0] for c in CASES]
)
def test_rule(
    name: str, mutate: Callable[[Tree], object], code: str, severity: str, path: str, message: str
) -> None:
    tree = build_scene()
    mutate(tree)
    issues = validate(tree)
    hits = [i for i in issues if i.code == code and i.path == path]
    assert hits, f"{name}: expected {code} at {path!r}, got {[str(i) for i in issues]}"
    assert any(i.severity == severity for i in hits)
    assert any(__import__("re").search(message, i.message) for i in hits), [i.message for i in hits]


def test_every_rule_code_is_covered() -> None:
    codes = {c[2] for c in CASES} | {"V-C5", "V-A10"}
    expected = (
        {f"V-S{i}" for i in range(1, 8)}
        | {f"V-N{i}" for i in range(1, 5)}
        | {f"V-T{i}" for i in range(1, 7)}
        | {f"V-P{i}" for i in range(1, 5)}
        | {f"V-A{i}" for i in range(1, 11)}
        | {"V-O1", "V-C1", "V-C1b", "V-C2", "V-C3", "V-C4", "V-C5", "V-X1", "V-M1"}
    )
    assert expected <= codes


def test_valid_scene_has_no_issues_as_dict_and_model() -> None:
    tree = build_scene()
    assert validate(tree) == []
    assert validate(Scene.model_validate(tree)) == []
    assert validate(build_scene(png=True)) == []


def test_all_problems_are_reported_not_just_the_first() -> None:
    tree = build_scene()
    tree["version"] = 2
    pts(tree).update(intensities=np.zeros(3, np.uint8))
    cam(tree)["intrinsics"].update(fx=-1.0)
    codes = {i.code for i in validate(tree)}
    assert {"V-S1", "V-A8", "V-C2"} <= codes


def test_spec_mode_relaxes_only_compat_rules() -> None:
    tree = build_scene()
    tree["time_unit"] = "nanoseconds"
    pts(tree).update(timestamps=pts(tree)["timestamps"].astype(np.uint64))
    tree["sensors"].append(
        {"type": "points", "id": "map", "points": {"positions": np.zeros((2, 3), np.float32)}}
    )
    compat = {i.code for i in validate(tree, mode="compat")}
    assert {"V-S3", "V-A4", "V-N1"} <= compat
    assert "V-S3" not in {i.code for i in validate(tree, mode="spec")}
    tree["time_unit"] = "microseconds"
    assert validate(tree, mode="spec") == []
    pts(tree).update(timestamps=pts(tree)["timestamps"].astype(np.int64))
    assert [i.code for i in validate(tree, mode="spec")] == ["V-A4"]


def test_nanosecond_thresholds_scale_with_the_unit() -> None:
    tree = build_scene()
    tree["time_unit"] = "nanoseconds"
    for f in lidar(tree)["frames"]:
        f["timestamp"] *= 1000
    for img in cam(tree)["images"]:
        img["timestamp"] *= 1000
    assert not [i for i in validate(tree, mode="spec") if i.code in ("V-T3", "V-T4")]


def test_empty_frame_with_empty_timestamps_is_valid_v_a10() -> None:
    tree = build_scene()
    pts(tree).update(
        positions=np.zeros((0, 3), np.float32),
        colors=np.zeros((0, 3), np.uint8),
        intensities=np.zeros(0, np.uint8),
        timestamps=np.zeros(0, np.uint32),
    )
    assert validate(tree) == []


def _video(
    tree: Tree, fps: float, payload: bytes = b"\x00\x00\x00\x18ftypmp42" + bytes(16)
) -> None:
    cam(tree).pop("images")
    cam(tree)["video"] = {
        "timestamps": [0, 100_000, 200_000],
        "content": content(payload),
        "fps": fps,
    }


def test_video_rules_v_c5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_rules, "have_av", lambda: False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    tree = build_scene()
    _video(tree, 10.0)
    issues = validate(tree)
    assert [(i.code, i.severity) for i in issues] == [("V-C5", "warning")]
    assert "not checked" in issues[0].message
    assert "'video' extra" in issues[0].message
    tree = build_scene()
    _video(tree, 13.0)
    assert any("disagrees with the timestamps' rate 10" in i.message for i in validate(tree))
    tree = build_scene()
    _video(tree, 0.0)
    assert any(
        i.code == "V-C5" and i.severity == "error" and "fps must be" in i.message
        for i in validate(tree)
    )
    tree = build_scene()
    _video(tree, 10.0, payload=bytes(32))
    assert any(i.code == "V-C5" and "not an MP4" in i.message for i in validate(tree))


def test_video_frame_count_uses_ffprobe_without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_rules, "have_av", lambda: False)
    monkeypatch.setattr(camera_rules, "count_video_frames", lambda content: 5)
    tree = build_scene()
    _video(tree, 10.0)
    issues = validate(tree)
    assert [(i.code, i.severity, i.message) for i in issues] == [
        ("V-C5", "error", "the MP4 has 5 frames but there are 3 timestamps")
    ]


def _mp4(frames: int, width: int = 32, height: int = 24, fps: float = 10.0) -> bytes:
    """A real H.264 MP4 made with our D8 encoder (PyAV)."""
    import tempfile
    from pathlib import Path

    from sfs_kit.codecs.video import Mp4Encoder

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        with Mp4Encoder(path, width=width, height=height, fps=fps) as enc:
            for k in range(frames):
                enc.add_frame(np.full((height, width, 3), 40 * k, np.uint8))
        return path.read_bytes()


def _video_issues(payload: bytes) -> list[tuple[str, str, str]]:
    tree = build_scene()
    _video(tree, 10.0, payload=payload)
    return [(i.code, i.severity, i.message) for i in validate(tree)]


def test_v_c5_with_pyav_accepts_a_matching_video() -> None:
    assert _video_issues(_mp4(3)) == []


def test_v_c5_with_pyav_counts_the_frames() -> None:
    issues = _video_issues(_mp4(5))
    assert issues == [("V-C5", "error", "the MP4 has 5 frames but there are 3 timestamps")]


def test_v_c5_with_pyav_checks_the_size_against_the_intrinsics() -> None:
    issues = _video_issues(_mp4(3, width=64, height=48))
    assert issues == [("V-C5", "error", "the video is 64x48 but the intrinsics say 32x24")]


def test_v_c5_with_pyav_checks_the_duration_against_the_timestamps() -> None:
    issues = _video_issues(_mp4(3, fps=30.0))  # 3 frames at 30 Hz: 0.1 s, not 0.3 s
    assert len(issues) == 1
    code, severity, message = issues[0]
    assert (code, severity) == ("V-C5", "error")
    assert "lasts 0.100 s" in message
    assert "0.300 s" in message


def test_v_c5_with_pyav_reports_an_undecodable_mp4() -> None:
    issues = _video_issues(b"\x00\x00\x00\x18ftypmp42" + bytes(16))
    assert len(issues) == 1
    assert issues[0][:2] == ("V-C5", "error")
    assert issues[0][2].startswith("the MP4 cannot be read as a video")


def test_v_c5_with_pyav_wants_a_keyframe_first(tmp_path: Path) -> None:
    from capture.video_support import without_first_packets

    cut = without_first_packets(_mp4(4), 1, tmp_path)  # D8 keyframes 0, 2: now at 1 of 3
    assert _video_issues(cut) == [
        (
            "V-C5",
            "error",
            "the video does not start with a keyframe (its first keyframe: frame 1), so no "
            "decoder shows the frames before it and the pictures no longer line up with the "
            "timestamps",
        )
    ]


def test_v_c5_names_the_camera_in_the_path() -> None:
    tree = build_scene()
    _video(tree, 10.0, payload=_mp4(4))
    (issue,) = validate(tree)
    assert issue.path == "sensors[cam_front].video.content"


# --- Scale crashes, we don't (spec 3.4) -----------------------------------------------------

SCALE_CRASHES: list[tuple[str, Callable[[Tree], object], str]] = [
    ("non-string version", lambda t: t.update(version=1), "V-S1"),
    ("flat positions not %3", lambda t: pts(t).update(positions=np.zeros(61, np.float32)), "V-A8"),
    ("flat colors not %3", lambda t: pts(t).update(colors=np.zeros(61, np.uint8)), "V-A8"),
    (
        "flat directions not %3",
        lambda t: radar(t)["frames"][0]["points"].update(directions=np.zeros(13, np.float32)),
        "V-A8",
    ),
    ("camera with neither", lambda t: cam(t).pop("images") and None, "V-C1"),
    (
        "images and video",
        lambda t: cam(t).update(
            video={"timestamps": [0], "content": np.zeros(16, np.uint8), "fps": 10.0}
        ),
        "V-C1b",
    ),
    ("bool timestamps", lambda t: lidar(t)["frames"][0].update(timestamp=True), "V-T5"),
    ("bool ids", lambda t: radar(t).update(id=False), "V-N3"),
    ("5.1 version", lambda t: t.update(version="5.1"), "V-S1"),
]


@pytest.mark.parametrize(
    ("name", "mutate", "code"), SCALE_CRASHES, ids=[c[0] for c in SCALE_CRASHES]
)
def test_scale_crashes_we_report(name: str, mutate: Callable[[Tree], object], code: str) -> None:
    tree = build_scene()
    mutate(tree)
    assert code in {i.code for i in validate(tree)}


def test_garbage_never_crashes() -> None:
    junks: tuple[object, ...] = (
        None,
        3,
        "x",
        [],
        {"sensors": "x"},
        {"sensors": [1, None, "s"]},
        {"sensors": [{"type": "lidar", "id": "a", "poses": 1, "frames": [1, {"points": 2}]}]},
        {
            "sensors": [
                {
                    "type": "camera",
                    "id": "c",
                    "poses": {"timestamps": "x", "values": [1]},
                    "intrinsics": [],
                    "video": {"content": 5},
                }
            ]
        },
    )
    for junk in junks:
        issues = validate_tree(junk)
        assert issues
        assert all(isinstance(i, Issue) for i in issues)


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_tree = st.recursive(
    json_leaf | st.builds(lambda n: np.zeros(n, np.float32), st.integers(0, 7)),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "id",
                    "poses",
                    "frames",
                    "points",
                    "positions",
                    "timestamps",
                    "values",
                    "images",
                    "video",
                    "intrinsics",
                    "version",
                    "sensors",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["version", "sensors", "time_unit", "annotations", "metadata"]),
        json_tree,
        max_size=5,
    )
)
def test_random_trees_never_crash(tree: Tree) -> None:
    issues = validate(tree)
    assert all(i.severity in ("error", "warning") for i in issues)
    assert not any("could not finish" in i.message for i in issues)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2), st.integers(0, 6), st.sampled_from(["sensors", "frames", "points", "poses"])
)
def test_mangled_valid_scenes_never_crash(sensor: int, frame: int, where: str) -> None:
    tree = build_scene()
    s = tree["sensors"][sensor]
    if where == "sensors":
        tree["sensors"][sensor] = list(s.items())
    elif where == "frames" and "frames" in s:
        s["frames"] = [
            f if i != frame % len(s["frames"]) else {"timestamp": "x"}
            for i, f in enumerate(s["frames"])
        ]
    elif where == "points" and "frames" in s:
        s["frames"][0]["points"] = {"positions": np.zeros((frame, 2), np.int8)}
    else:
        s["poses"] = {"timestamps": [0] * frame, "values": [[0]] * frame}
    issues = validate(copy.deepcopy(tree))
    assert issues
    assert not any("could not finish" in i.message for i in issues)


def test_issue_rendering() -> None:
    issue = Issue("V-A8", "error", "sensors[a].frames[0].points", "bad")
    assert str(issue) == "error V-A8 at sensors[a].frames[0].points: bad"
    assert issue.to_dict() == {
        "code": "V-A8",
        "severity": "error",
        "path": "sensors[a].frames[0].points",
        "message": "bad",
    }


@pytest.mark.parametrize("metadata", [{"$items": 1}, {"x": {"$items": 1}}, {"x": [{"$items": 1}]}])
def test_validate_agrees_with_the_writer_on_items_in_metadata(
    metadata: dict[str, object], tmp_path: Any
) -> None:
    from sfs_kit import write_sfs_dict
    from sfs_kit.errors import SfsKitError

    tree = build_scene()
    tree["metadata"] = metadata
    assert [i.code for i in validate(tree) if i.severity == "error"] == ["V-S6"]
    with pytest.raises(SfsKitError, match=r"\$items"):
        write_sfs_dict(tree, tmp_path / "x.sfs")


def test_jpeg_zero_padding_after_eoi_is_accepted_other_trailing_bytes_not() -> None:
    padded = build_scene()
    cam(padded)["images"][0].update(content=content(jpeg_bytes() + bytes(4096)))
    assert [i for i in validate(padded) if i.code == "V-C4"] == []
    trailing = build_scene()
    cam(trailing)["images"][0].update(content=content(jpeg_bytes() + b"\x00\x01\x00"))
    issues = [i for i in validate(trailing) if i.code == "V-C4"]
    assert [i.message for i in issues] == [
        "the JPEG is incomplete: it does not end with the end-of-image marker FF D9 (last bytes "
        "'ff d9 00 01'; truncated?)"
    ]
