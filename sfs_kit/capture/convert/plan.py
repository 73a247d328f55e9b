"""Planning a conversion from small metadata only: times, poses and the origin (D10, D15).

Every sensor's ``world_from_sensor`` at its content times, the scene's time offset, and the
whole-metre origin recentring subtracts; no point array is read except, at most, the first frame
(to find its centre)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sfs_kit.capture.base import CameraSource, Capture, LidarSource, RadarSource
from sfs_kit.capture.options import RecentreMode
from sfs_kit.capture.sync import sample_poses
from sfs_kit.errors import InputError
from sfs_kit.models.geometry import matrix_to_pose, pose_to_matrix

F64 = npt.NDArray[np.float64]


AUTO_RECENTRE_ABOVE_M = 1e4


@dataclass
class SensorPlan:
    """Absolute content times, ``world_from_sensor`` at each (unshifted), relative times."""

    times_us: npt.NDArray[np.int64]
    world_from_sensor: F64
    rel_us: list[int] = field(default_factory=list)
    poses: list[list[float]] = field(default_factory=list)


@dataclass
class Plan:
    time_offset_us: int
    origin_m: F64 | None
    shift: F64  # 4x4: world -> recentred world
    lidars: list[SensorPlan]
    cameras: list[SensorPlan]
    radars: list[SensorPlan] = field(default_factory=list)
    keep_nonfinite: bool = False
    # (sensor id, frame index, points dropped) for each frame that had non-finite positions
    nonfinite: list[tuple[str, int, int]] = field(default_factory=list)
    # (sensor id, frame index, [tx, ty, tz, qx, qy, qz, qw]) for non-identity PCD viewpoints
    viewpoints: list[tuple[str, int, list[float]]] = field(default_factory=list)
    # distinct notes the frames' loaders made (e.g. each sensor's intensity scale), in order
    load_notes: dict[str, None] = field(default_factory=dict)
    # sensor id -> number of frames that had point colours (split_base64 drops them)
    coloured: dict[str, int] = field(default_factory=dict)


def _world_from_ego(capture: Capture, times_us: npt.NDArray[np.int64], names: list[str]) -> F64:
    if capture.ego_poses is None:
        identity: F64 = np.tile(np.eye(4), (len(times_us), 1, 1))
        return identity
    ego = capture.ego_poses
    samples = sample_poses(
        ego.timestamps_us,
        ego.positions_m,
        ego.quat_xyzw,
        times_us,
        names=names,
        source=ego.source,
        tolerance_us=capture.pose_tolerance_us,
    )
    return pose_to_matrix(np.concatenate([samples.positions_m, samples.quat_xyzw], axis=1))


def _sensor_plan(
    capture: Capture, times: list[int], names: list[str], ego_from_sensor: F64
) -> SensorPlan:
    t = np.asarray(times, dtype=np.int64)
    world_from_ego = _world_from_ego(capture, t, names)
    return SensorPlan(times_us=t, world_from_sensor=world_from_ego @ ego_from_sensor)


def _lidar_plan(capture: Capture, lidar: LidarSource) -> SensorPlan:
    names = [
        f"lidar {lidar.sensor_id!r} frame {i} ({f.source})" for i, f in enumerate(lidar.frames)
    ]
    return _sensor_plan(
        capture, [f.timestamp_us for f in lidar.frames], names, lidar.ego_from_sensor
    )


def _camera_plan(capture: Capture, camera: CameraSource) -> SensorPlan:
    if camera.video is not None:
        names = [
            f"camera {camera.sensor_id!r} video frame {i} ({camera.video.source})"
            for i in range(camera.content_count)
        ]
    else:
        names = [
            f"camera {camera.sensor_id!r} image {i} ({im.source})"
            for i, im in enumerate(camera.images)
        ]
    return _sensor_plan(capture, camera.content_timestamps_us, names, camera.ego_from_sensor)


def _radar_plan(capture: Capture, radar: RadarSource) -> SensorPlan:
    names = [
        f"radar {radar.sensor_id!r} frame {i} ({f.source})" for i, f in enumerate(radar.frames)
    ]
    return _sensor_plan(
        capture, [f.timestamp_us for f in radar.frames], names, radar.ego_from_sensor
    )


def points_matrix(sensor: LidarSource | RadarSource, plan: SensorPlan, k: int) -> F64:
    """``world_from_points`` for frame k, by the frame the points are given in."""
    out: F64 = np.eye(4)
    if sensor.points_frame == "sensor":
        out = plan.world_from_sensor[k]
    elif sensor.points_frame == "ego":
        out = plan.world_from_sensor[k] @ np.linalg.inv(sensor.ego_from_sensor)
    return out


def _first_frame_centre(capture: Capture, plan: SensorPlan) -> F64 | None:
    """Centre of the first lidar frame's bounding box in the world (float64), if it has points."""
    lidar = capture.lidars[0]
    pts = lidar.frames[0].load()
    if not pts.positions_m.shape[0]:
        return None
    m = points_matrix(lidar, plan, 0) @ translation(pts.origin_m)
    p = np.asarray(pts.positions_m, dtype=np.float64)
    lo = p.min(axis=0) @ m[:3, :3].T + m[:3, 3]
    hi = p.max(axis=0) @ m[:3, :3].T + m[:3, 3]
    centre: F64 = (lo + hi) / 2.0
    return centre


def _choose_origin(
    capture: Capture, lidar_plans: list[SensorPlan], recentre: RecentreMode
) -> F64 | None:
    """D15: the first lidar pose translation in whole metres (or the first frame's centre)."""
    if recentre is False:
        return None
    first_pose = lidar_plans[0].world_from_sensor[0, :3, 3]
    all_t = np.concatenate([p.world_from_sensor[:, :3, 3] for p in lidar_plans])
    pose_far = float(np.abs(all_t).max()) > AUTO_RECENTRE_ABOVE_M
    pose_at_zero = float(np.abs(first_pose).max()) < 1.0
    centre = None
    if pose_at_zero and (recentre is True or not pose_far):
        centre = _first_frame_centre(capture, lidar_plans[0])
    points_far = centre is not None and float(np.abs(centre).max()) > AUTO_RECENTRE_ABOVE_M
    if recentre == "auto" and not (pose_far or points_far):
        return None
    base = centre if centre is not None else first_pose
    origin: F64 = np.round(base) + 0.0  # + 0.0 turns -0.0 into 0.0
    return origin


def translation(offset: F64 | None) -> F64:
    m = np.eye(4)
    if offset is not None:
        m[:3, 3] = offset
    return m


def make_plan(capture: Capture, recentre: RecentreMode) -> Plan:
    if not capture.lidars:
        raise InputError(
            f"Capture {str(capture.path)!r} has no lidar; a scene needs at least one.",
            source=str(capture.path),
            field="lidars",
        )
    for kind, sensors in (("lidar", capture.lidars), ("radar", capture.radars)):
        for sensor in sensors:
            if not sensor.frames:
                raise InputError(
                    f"Capture {str(capture.path)!r}: {kind} {sensor.sensor_id!r} has no frames.",
                    source=str(capture.path),
                    field=f"{kind}s",
                )
    for camera in capture.cameras:
        if not camera.content_count:
            raise InputError(
                f"Capture {str(capture.path)!r}: camera {camera.sensor_id!r} has no images.",
                source=str(capture.path),
                field="cameras",
            )
    lidars = [_lidar_plan(capture, lidar) for lidar in capture.lidars]
    cameras = [_camera_plan(capture, camera) for camera in capture.cameras]
    radars = [_radar_plan(capture, radar) for radar in capture.radars]
    offset = min(int(p.times_us[0]) for p in (*lidars, *cameras, *radars))
    origin = _choose_origin(capture, lidars, recentre)
    shift = translation(None if origin is None else -origin)
    if (
        origin is not None
        and capture.ego_poses is None
        and capture.lidars[0].points_frame == "world"
    ):
        # without a pose file the static ego of a world-frame capture is a stand-in: place it at
        # the chosen origin, so recentring keeps it beside the points instead of moving it the
        # origin's distance away (world-frame points keep their place: their matrix has no ego)
        for p in (*lidars, *cameras, *radars):
            p.world_from_sensor = translation(origin) @ p.world_from_sensor
    for p in (*lidars, *cameras, *radars):
        p.rel_us = [int(t) - offset for t in p.times_us]
        p.poses = matrix_to_pose(shift @ p.world_from_sensor).tolist()
    return Plan(
        time_offset_us=offset,
        origin_m=origin,
        shift=shift,
        lidars=lidars,
        cameras=cameras,
        radars=radars,
    )


def origin_tuple(plan: Plan) -> tuple[float, float, float] | None:
    if plan.origin_m is None:
        return None
    return (float(plan.origin_m[0]), float(plan.origin_m[1]), float(plan.origin_m[2]))
