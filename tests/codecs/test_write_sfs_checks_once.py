"""write_sfs checks a scene in one validation walk when it can, yet refuses (and warns about)
every scene exactly as the two walks did: spec mode on the scene, then compat mode on its
``to_compat`` form. Each case below is a kind of scene the writer must pass, warn about or
refuse; the reference is that two-walk procedure, run with the public functions."""

from __future__ import annotations

import io
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sfs_scene_factory import build_scene

import sfs_kit.codecs.scene_io as scene_io
from sfs_kit import Issue, Scene, SceneValidationError, validate, write_sfs
from sfs_kit.models import validate as validation
from sfs_kit.models.compat import to_compat

Tree = dict[str, Any]
Outcome = tuple[str, list[str]] | None  # (which check refused, its errors), or None: written


def _lidar(tree: Tree) -> Tree:
    sensor: Tree = tree["sensors"][0]
    assert sensor["type"] == "lidar"
    return sensor


def _ego(tree: Tree) -> None:
    for sensor in tree["sensors"]:
        if sensor["type"] in ("lidar", "radar"):
            sensor["coordinates"] = "ego"


def _late_point_stamp(tree: Tree) -> None:  # V-A9 warning
    frames = _lidar(tree)["frames"]
    stamps = frames[0]["points"]["timestamps"].copy()
    stamps[-1] = frames[1]["timestamp"] + 5
    frames[0]["points"]["timestamps"] = stamps


def _ego_late_point_stamp(tree: Tree) -> None:
    _ego(tree)
    _late_point_stamp(tree)


def _far_world_points(tree: Tree) -> None:  # V-O1 warning in both modes
    points = _lidar(tree)["frames"][1]["points"]
    points["positions"] = points["positions"] + np.float32(2e5)


def _far_given_ego_points(tree: Tree) -> None:  # V-O1 only once posed (compat), not in spec
    _ego(tree)
    _far_world_points(tree)


def _far_ego_pose(tree: Tree) -> None:  # V-O1 in both, from the pose (spec) or the points
    _ego(tree)
    for row in _lidar(tree)["poses"]["values"]:
        row[0] = 2e5


def _quat_norm(scale: float) -> Callable[[Tree], None]:
    def change(tree: Tree) -> None:
        for row in tree["sensors"][2]["poses"]["values"]:
            row[3:7] = [v * scale for v in row[3:7]]

    return change


def _nan_point(ego: bool) -> Callable[[Tree], None]:
    def change(tree: Tree) -> None:
        if ego:
            _ego(tree)
        points = _lidar(tree)["frames"][1]["points"]
        positions = points["positions"].copy()
        positions[3, 2] = np.nan
        points["positions"] = positions

    return change


def _overflow_when_posed(tree: Tree) -> None:  # finite given, inf once posed: compat V-A7
    _ego(tree)
    half = math.pi / 8
    lidar = _lidar(tree)
    lidar["poses"]["values"] = [[*v[:3], 0.0, 0.0, math.sin(half), math.cos(half)]
                                for v in lidar["poses"]["values"]]
    lidar["frames"][1]["points"] = {"positions": np.full((3, 3), 3e38, np.float32)}


def _nanoseconds(tree: Tree) -> None:
    tree["time_unit"] = "nanoseconds"
    tree["time_offset"] = 0
    for sensor in tree["sensors"]:
        sensor["poses"]["timestamps"] = [t * 1000 for t in sensor["poses"]["timestamps"]]
        for frame in sensor.get("frames", []):
            frame["timestamp"] *= 1000
            stamps = frame["points"].get("timestamps")
            if stamps is not None:
                frame["points"]["timestamps"] = stamps.astype(np.uint64) * np.uint64(1000)
        for image in sensor.get("images", []):
            image["timestamp"] *= 1000


def _uint64_point_stamps(tree: Tree) -> None:
    for frame in _lidar(tree)["frames"]:
        frame["points"]["timestamps"] = frame["points"]["timestamps"].astype(np.uint64)


def _absolute_point_stamps(tree: Tree) -> None:  # spec warns (V-A9), compat sees them moved
    tree["time_offset"] = 1_000_000_000
    for frame in _lidar(tree)["frames"]:
        points = frame["points"]
        points["timestamps"] = points["timestamps"].astype(np.uint64) + np.uint64(1_000_000_000)


def _stamps_beyond_uint32(tree: Tree) -> None:  # to_compat refuses them (D11)
    _uint64_point_stamps(tree)
    stamps = _lidar(tree)["frames"][3]["points"]["timestamps"]
    stamps[-1] = 2**33


def _empty_frame(tree: Tree) -> None:  # zero-length timestamps are dropped by to_compat
    frame = _lidar(tree)["frames"][0]
    frame["points"] = {key: value[:0] for key, value in frame["points"].items()}


def _odometry(tree: Tree) -> None:  # spec accepts it, compat refuses it (V-N1)
    poses = _lidar(tree)["poses"]
    tree["sensors"].append({"type": "odometry", "id": "odom",
                            "poses": {"timestamps": list(poses["timestamps"]),
                                      "values": [list(v) for v in poses["values"]]}})


def _frames_outside_poses(tree: Tree) -> None:  # V-T6 warning
    poses = _lidar(tree)["poses"]
    poses["timestamps"], poses["values"] = poses["timestamps"][:2], poses["values"][:2]


CASES: dict[str, Callable[[Tree], None]] = {
    "world": lambda tree: None,
    "world, late point stamp": _late_point_stamp,
    "world, far points": _far_world_points,
    "world, frames outside poses": _frames_outside_poses,
    "ego": _ego,
    "ego, late point stamp": _ego_late_point_stamp,
    "ego, far given points": _far_given_ego_points,
    "ego, far pose": _far_ego_pose,
    "quaternion slightly off": _quat_norm(1 + 5e-4),
    "quaternion far off": _quat_norm(1.01),
    "NaN world point": _nan_point(ego=False),
    "NaN ego point": _nan_point(ego=True),
    "overflow once posed": _overflow_when_posed,
    "nanoseconds": _nanoseconds,
    "uint64 point stamps": _uint64_point_stamps,
    "absolute point stamps": _absolute_point_stamps,
    "point stamps beyond uint32": _stamps_beyond_uint32,
    "empty frame": _empty_frame,
    "odometry sensor": _odometry,
}


def _scene(case: str) -> Scene:
    tree = build_scene(frames=4, points=30)
    CASES[case](tree)
    return Scene.model_validate(tree)


def _two_walks(scene: Scene) -> tuple[Outcome, list[str]]:
    """The verdict and logged warnings of the procedure write_sfs used to follow."""
    spec = validate(scene, mode="spec")
    warnings = [str(i) for i in spec if i.severity == "warning"]
    errors = [str(i) for i in spec if i.severity == "error"]
    if errors:
        return ("spec", errors), warnings
    try:
        with np.errstate(over="ignore"):
            converted = to_compat(scene)
    except SceneValidationError as err:
        return ("to_compat", [str(err)]), warnings
    compat = validate(converted, mode="compat")
    errors = [str(i) for i in compat if i.severity == "error"]
    return (("compat", errors) if errors else None), warnings


def _write(scene: Scene, dest: Path | io.BytesIO,
           caplog: pytest.LogCaptureFixture) -> tuple[Outcome, list[str]]:
    caplog.clear()
    outcome: Outcome = None
    with caplog.at_level(logging.WARNING, logger=scene_io.__name__), np.errstate(over="ignore"):
        try:
            write_sfs(scene, dest)
        except SceneValidationError as err:
            message = str(err)
            if "-mode validation" not in message:
                outcome = ("to_compat", [message])
            else:
                mode = "spec" if "fails spec-mode" in message else "compat"
                errors = [i for i in err.issues if isinstance(i, Issue) and i.severity == "error"]
                outcome = (mode, [str(i) for i in errors])
    warnings = [r.getMessage() for r in caplog.records if r.name == scene_io.__name__]
    return outcome, warnings


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("to", ["path", "stream"])
def test_every_kind_of_scene_is_judged_as_the_two_walks_judged_it(
    case: str, to: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scene = _scene(case)
    path = tmp_path / "scene.sfs"
    got = _write(scene, path if to == "path" else io.BytesIO(), caplog)
    assert got == _two_walks(scene)
    assert path.exists() == (to == "path" and got[0] is None)  # refused: nothing at the path


def test_the_cases_cover_passing_warning_and_each_refusal() -> None:
    verdicts = {case: _two_walks(_scene(case)) for case in CASES}
    refused_by = {outcome[0] for outcome, _ in verdicts.values() if outcome is not None}
    assert refused_by == {"spec", "to_compat", "compat"}
    warned = {case for case, (outcome, warnings) in verdicts.items()
              if outcome is None and warnings}
    assert {"world, late point stamp", "world, far points", "ego, far pose",
            "world, frames outside poses", "absolute point stamps"} <= warned
    assert verdicts["ego, far given points"] == (None, [])  # posed far: compat warns, spec not


@pytest.mark.parametrize("case", ["world", "ego", "quaternion slightly off"])
def test_a_scene_that_passes_is_walked_once(case: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    walks: list[str] = []
    real_tree, real_scene = validation.validate_tree, validation.validate

    def counted_tree(tree: object, **kwargs: Any) -> list[Any]:
        walks.append(kwargs["mode"])
        return real_tree(tree, **kwargs)

    def counted_scene(scene: Any, **kwargs: Any) -> list[Any]:
        walks.append(kwargs["mode"])
        return real_scene(scene, **kwargs)

    monkeypatch.setattr(f"{scene_io.__name__}.validate_tree", counted_tree)
    monkeypatch.setattr(f"{scene_io.__name__}.validate", counted_scene)
    write_sfs(_scene(case), tmp_path / "scene.sfs")
    assert walks == ["compat"]
    walks.clear()
    write_sfs(_scene("nanoseconds"), tmp_path / "ns.sfs")  # converted times: both walks
    assert walks == ["spec", "compat"]
