"""to_compat poses every ego frame with the pose interpolated at its timestamp; the transforms
are computed for all frames of a sensor at once, and must be bit for bit those of one frame at
a time (what the posed bytes in files written before depend on)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from models.sfs_scene_factory import build_scene
from sfs_kit import PosePath, Scene, to_compat
from sfs_kit.models.compat import world_from_sensor
from sfs_kit.models.geometry import interpolate_pose, pose_to_matrix, transform_points


def _one_at_a_time(poses: PosePath, stamp: int) -> np.ndarray[Any, Any]:
    """The transform as to_compat computed it frame by frame."""
    pos, quat = interpolate_pose(poses, [stamp])
    return pose_to_matrix(np.concatenate([pos[0], quat[0]]))


def _random_ego_tree(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    tree = build_scene(frames=9, points=40, with_radar=False, with_camera=False)
    lidar = tree["sensors"][0]
    lidar["coordinates"] = "ego"
    stamps = sorted(int(t) for t in rng.choice(2_000_000, size=6, replace=False))
    quats = rng.normal(size=(6, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    lidar["poses"] = {"timestamps": stamps,
                      "values": [[*rng.normal(0, 50, 3).tolist(), *q.tolist()] for q in quats]}
    for i, frame in enumerate(lidar["frames"]):
        frame["timestamp"] = int(rng.integers(0, 2_100_000)) if i else 0
    lidar["frames"].sort(key=lambda f: f["timestamp"])
    for i, frame in enumerate(lidar["frames"]):
        frame["timestamp"] += i  # strictly increasing
        frame["points"].pop("timestamps", None)
        frame["points"]["positions"] = rng.normal(0, 30, (40, 3)).astype(np.float32)
    return tree


@pytest.mark.parametrize("seed", range(8))
def test_ego_frames_are_posed_as_one_frame_at_a_time_would(seed: int) -> None:
    scene = Scene.model_validate(_random_ego_tree(seed))
    lidar = scene.sensors[0]
    converted = to_compat(scene).sensors[0]
    deferred: dict[tuple[int, int], np.ndarray[Any, Any]] = {}
    to_compat(scene, defer_posing=deferred)
    for i, (frame, posed) in enumerate(zip(lidar.frames, converted.frames, strict=True)):
        matrix = _one_at_a_time(converted.poses, frame.timestamp)  # renormalised poses
        assert deferred[(0, i)].tobytes() == matrix.tobytes()
        expected = transform_points(frame.points.positions, matrix)
        assert posed.points.positions.tobytes() == expected.tobytes()


def _random_path(rng: np.random.Generator, k: int) -> PosePath:
    stamps = np.sort(rng.choice(10_000_000, size=k, replace=False)).astype(np.int64)
    quats = rng.normal(size=(k, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    if k > 1:
        quats[1] = quats[0] * -1 + rng.normal(0, 1e-12, 4)  # nearly opposite: the slerp's flip
        quats[1] /= np.linalg.norm(quats[1])
    values = np.concatenate([rng.normal(0, 1e4, (k, 3)), quats], axis=1)
    return PosePath(timestamps=stamps, values=values)


@pytest.mark.parametrize("seed", range(40))
def test_all_frames_at_once_give_the_transforms_of_one_frame_at_a_time(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    poses = _random_path(rng, int(rng.integers(1, 12)))
    stamps = [int(t) for t in rng.integers(-1_000_000, 11_000_000, size=int(rng.integers(1, 60)))]
    stamps += [int(t) for t in poses.timestamps[:3]]  # exactly on poses too
    batched = world_from_sensor(poses, stamps)
    for i, stamp in enumerate(stamps):
        assert batched[i].tobytes() == _one_at_a_time(poses, stamp).tobytes(), (seed, i)
