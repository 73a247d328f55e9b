"""Scene-level .sfs I/O, proven against Scale's own reader and validator (the oracles)."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sfs_scene_factory import IDENTITY, build_scene

from sfs_kit import (
    Scene,
    SceneValidationError,
    SfsFormatError,
    assert_models_equal,
    read_sfs,
    validate,
    write_sfs,
    write_sfs_dict,
)

Tree = dict[str, Any]


def scale_verdict(path: Path) -> tuple[bool, str]:
    """Scale's ``parse_and_validate_scene(read_file(path))``: (accepted, details)."""
    from scale_json_binary.json_binary_codecs import read_file
    from scale_sensor_fusion_io.validation import parse_and_validate_scene

    try:
        result = parse_and_validate_scene(read_file(str(path)))
    except Exception as err:
        return False, f"crash: {type(err).__name__}: {err}"
    return bool(result.success), str(getattr(result, "details", ""))


def _ego(t: Tree) -> None:
    t["sensors"][0]["coordinates"] = "ego"


def _ns(t: Tree) -> None:
    t["time_unit"] = "nanoseconds"
    t["time_offset"] *= 1000
    for s in t["sensors"]:
        s["poses"]["timestamps"] = [v * 1000 for v in s["poses"]["timestamps"]]
        for f in s.get("frames", []):
            f["timestamp"] *= 1000
            if "timestamps" in f["points"]:
                f["points"]["timestamps"] = f["points"]["timestamps"].astype(np.uint64) * 1000
        for img in s.get("images", []):
            img["timestamp"] *= 1000


def _uint64_absolute(t: Tree) -> None:
    for f in t["sensors"][0]["frames"]:
        f["points"]["timestamps"] = f["points"]["timestamps"].astype(np.uint64) + np.uint64(
            t["time_offset"]
        )


def _empty_frame(t: Tree) -> None:
    t["sensors"][0]["frames"][1]["points"] = {
        "positions": np.zeros((0, 3), np.float32),
        "timestamps": np.zeros(0, np.uint32),
    }


def _slightly_off_quaternion(t: Tree) -> None:
    t["sensors"][0]["poses"]["values"][1] = [1.0, 2.0, 0.5, 0.0, 0.0, 0.0, 1.0005]


def _annotated(t: Tree) -> None:
    t["annotations"] = [
        {
            "id": "c1",
            "type": "cuboid",
            "label": "car",
            "path": {"timestamps": [0, 100_000], "values": [[1.0] * 9, [1.5] * 9]},
        }
    ]
    t["metadata"] = {"source": "unit-test"}


VALID_VARIANTS: dict[str, Callable[[Tree], object]] = {
    "plain": lambda t: None,
    "ego-coordinates": _ego,
    "nanoseconds": _ns,
    "uint64-absolute-point-times": _uint64_absolute,
    "empty-frame-with-empty-timestamps": _empty_frame,
    "quaternion-within-1e-3": _slightly_off_quaternion,
    "annotations-and-metadata": _annotated,
}


@pytest.mark.parametrize("variant", sorted(VALID_VARIANTS))
@pytest.mark.parametrize("align", [4, 64])
def test_written_scenes_pass_scales_validator(tmp_path: Path, variant: str, align: int) -> None:
    tree = build_scene()
    VALID_VARIANTS[variant](tree)
    scene = Scene.model_validate(tree)
    path = tmp_path / "scene.sfs"
    size = write_sfs(scene, path, align=align)
    assert path.stat().st_size == size
    ok, details = scale_verdict(path)
    assert ok, details
    back = read_sfs(path)
    assert validate(back) == []


def test_round_trip_without_conversion_is_exact(tmp_path: Path) -> None:
    scene = Scene.model_validate(build_scene())
    write_sfs(scene, tmp_path / "a.sfs")
    back = read_sfs(tmp_path / "a.sfs")
    assert_models_equal(scene, back)
    assert not back.sensors[0].frames[0].points.positions.flags.writeable


def test_scale_json_binary_reads_our_files(tmp_path: Path) -> None:
    from scale_json_binary.json_binary_codecs import read_file

    scene = Scene.model_validate(build_scene())
    write_sfs(scene, tmp_path / "a.sfs")
    raw = read_file(str(tmp_path / "a.sfs"))
    assert_models_equal(Scene.model_validate(raw), scene)


def test_ego_points_are_posed_into_world(tmp_path: Path) -> None:
    tree = build_scene()
    _ego(tree)
    write_sfs(Scene.model_validate(tree), tmp_path / "a.sfs")
    back = read_sfs(tmp_path / "a.sfs")
    lidar = back.sensors[0]
    assert lidar.type == "lidar"
    assert lidar.coordinates == "world"
    # frame 1 at t=100000 lies between poses at 50000 (x=1, y=2) and 150000 (x=2, y=4)
    src = tree["sensors"][0]["frames"][1]["points"]["positions"].astype(np.float64)
    expected = (src + np.array([1.5, 3.0, 0.5])).astype(np.float32)
    np.testing.assert_allclose(lidar.frames[1].points.positions, expected, atol=1e-5)


# --- superset: what Scale rejects, we reject ------------------------------------------------

INVALID_VARIANTS: dict[str, Callable[[Tree], object]] = {
    "bad-version": lambda t: t.update(version="2.0"),
    "duplicate-ids": lambda t: t["sensors"][1].update(id="lidar_top"),
    "negative-time-offset": lambda t: t.update(time_offset=-5),
    "frames-not-increasing": lambda t: t["sensors"][0]["frames"][2].update(timestamp=0),
    "not-normalized": lambda t: (
        [f.update(timestamp=f["timestamp"] + 200_000_000) for f in t["sensors"][0]["frames"]]
        and None
    ),
    "too-fast": lambda t: (
        [f.update(timestamp=i) for i, f in enumerate(t["sensors"][0]["frames"])] and None
    ),
    "positions-float64": lambda t: t["sensors"][0]["frames"][0]["points"].update(
        positions=np.zeros((20, 3))
    ),
    "colors-wrong-length": lambda t: t["sensors"][0]["frames"][0]["points"].update(
        colors=np.zeros((3, 3), np.uint8)
    ),
    "intensities-2d": lambda t: t["sensors"][0]["frames"][0]["points"].update(
        intensities=np.zeros((20, 2), np.uint8)
    ),
    "uint64-point-times": lambda t: t["sensors"][0]["frames"][0]["points"].update(
        timestamps=np.arange(20, dtype=np.uint64)
    ),
    "point-before-frame": lambda t: t["sensors"][0]["frames"][1]["points"][
        "timestamps"
    ].__setitem__(0, 1),
    "no-frames": lambda t: t["sensors"][0].update(frames=[]),
    "odometry": lambda t: t["sensors"].append(
        {"type": "odometry", "id": "o", "poses": {"timestamps": [0], "values": [IDENTITY]}}
    ),
    "camera-without-content": lambda t: t["sensors"][2].pop("images") and None,
    "nanoseconds": lambda t: t.update(time_unit="nanoseconds"),
    "pose-row-short": lambda t: t["sensors"][0]["poses"]["values"].__setitem__(0, [0.0] * 6),
}


@pytest.mark.parametrize("variant", sorted(INVALID_VARIANTS))
def test_what_scale_rejects_we_reject(tmp_path: Path, variant: str) -> None:
    tree = build_scene()
    INVALID_VARIANTS[variant](tree)
    for s in tree["sensors"]:
        for f in s.get("frames", []):
            f["points"] = {
                k: v.copy() if isinstance(v, np.ndarray) else v for k, v in f["points"].items()
            }
    path = tmp_path / "bad.sfs"
    write_sfs_dict(copy.deepcopy(tree), path, align=4)
    ok, _ = scale_verdict(path)
    assert not ok, f"{variant}: Scale unexpectedly accepted it"
    assert [i for i in validate(tree) if i.severity == "error"], f"{variant}: we accepted it"


# --- errors ---------------------------------------------------------------------------------


def test_write_refuses_an_invalid_scene(tmp_path: Path) -> None:
    tree = build_scene()
    tree["sensors"][2]["intrinsics"]["fx"] = -1.0
    scene = Scene.model_validate(tree)
    with pytest.raises(
        SceneValidationError, match=r"fails spec-mode validation with 1 error\(s\): error V-C2"
    ) as info:
        write_sfs(scene, tmp_path / "x.sfs")
    assert [getattr(i, "code", None) for i in info.value.issues] == ["V-C2"]
    assert not (tmp_path / "x.sfs").exists()


def test_compat_write_refuses_odometry_sensors_but_spec_write_keeps_them(tmp_path: Path) -> None:
    tree = build_scene()
    tree["sensors"].append(
        {"type": "odometry", "id": "o", "poses": {"timestamps": [0], "values": [IDENTITY]}}
    )
    scene = Scene.model_validate(tree)
    with pytest.raises(SceneValidationError, match=r"fails compat-mode validation.*V-N1"):
        write_sfs(scene, tmp_path / "x.sfs")
    write_sfs(scene, tmp_path / "y.sfs", compat=False)
    assert_models_equal(read_sfs(tmp_path / "y.sfs"), scene)


def test_compat_write_refuses_point_times_beyond_uint32(tmp_path: Path) -> None:
    tree = build_scene()
    tree["sensors"][0]["frames"][0]["points"]["timestamps"] = np.full(20, 2**33, dtype=np.uint64)
    with pytest.raises(
        SceneValidationError,
        match=r"Point timestamps of sensor 'lidar_top' frame 0 reach 8589934592 us",
    ):
        write_sfs(Scene.model_validate(tree), tmp_path / "x.sfs")


def test_read_wraps_pydantic_errors(tmp_path: Path) -> None:
    tree = build_scene()
    tree["sensors"][0]["frames"][0]["timestamp"] = 0.5
    write_sfs_dict(tree, tmp_path / "bad.sfs")
    with pytest.raises(
        SceneValidationError,
        match=r"bad\.sfs' is not a valid SFS 1\.0 scene: 1 problem\(s\), first at "
        r"sensors\.0\.lidar\.frames\.0\.timestamp",
    ) as info:
        read_sfs(tmp_path / "bad.sfs")
    first = info.value.pydantic_errors[0]
    assert isinstance(first, dict)
    assert first["loc"][-1] == "timestamp"
    assert info.value.__cause__ is not None


def test_read_of_broken_bytes_is_a_format_error() -> None:
    with pytest.raises(SfsFormatError):
        read_sfs(b"{}")


def test_files_written_by_scale_read_back(tmp_path: Path) -> None:
    import dataclasses

    from scale_json_binary.json_binary_codecs import read_file, write_file
    from scale_sensor_fusion_io.spec.sfs import types as SFS  # noqa: N812

    poses = SFS.PosePath(timestamps=[0, 100_000], values=[IDENTITY, IDENTITY])
    points = SFS.LidarSensorPoints(
        positions=np.arange(12, dtype=np.float32).reshape(4, 3),
        intensities=np.arange(4, dtype=np.uint8),
    )
    lidar = SFS.LidarSensor(
        id="l", poses=poses, frames=[SFS.LidarSensorFrame(timestamp=0, points=points)]
    )
    path = tmp_path / "scale.sfs"
    write_file(str(path), dataclasses.asdict(SFS.Scene(sensors=[lidar], time_offset=0)))
    scene = read_sfs(path)
    assert validate(scene) == []
    assert_models_equal(scene, Scene.model_validate(read_file(str(path))))
    tree = scene.to_sfs_dict()
    assert tree["sensors"][0]["parent_id"] is None  # explicit nulls come back key for key
    assert np.array_equal(tree["sensors"][0]["frames"][0]["points"]["positions"], points.positions)
