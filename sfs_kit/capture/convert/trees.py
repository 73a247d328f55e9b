"""The scene tree pieces (head, sensors, points, intrinsics) and their validation: each frame in
a one-frame tree as it is produced, the scene-level rules on a skeleton with empty frames."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit._version import __version__
from sfs_kit.capture.base import CameraSource, Capture, LidarSource, RadarSource
from sfs_kit.capture.convert.frame import FrameArrays, RadarArrays
from sfs_kit.capture.convert.plan import Plan, SensorPlan
from sfs_kit.errors import InputError, SceneValidationError
from sfs_kit.models.validate import Issue, validate_tree


def _arrays_tree(
    arrays: dict[str, npt.NDArray[Any] | None], put: Callable[[npt.NDArray[Any]], object]
) -> dict[str, object]:
    """The frame's ``points`` object: each present array passed through ``put``, in order."""
    return {name: put(array) for name, array in arrays.items() if array is not None}


def points_tree(
    arrays: FrameArrays, put: Callable[[npt.NDArray[Any]], object]
) -> dict[str, object]:
    return _arrays_tree(
        {
            "positions": arrays.positions,
            "colors": arrays.colors,
            "intensities": arrays.intensities,
            "timestamps": arrays.timestamps,
        },
        put,
    )


def radar_points_tree(
    arrays: RadarArrays, put: Callable[[npt.NDArray[Any]], object]
) -> dict[str, object]:
    return _arrays_tree(
        {"positions": arrays.positions, "directions": arrays.directions, "lengths": arrays.lengths},
        put,
    )


def intrinsics_tree(camera: CameraSource, *, for_sfs: bool) -> dict[str, object]:
    intr = camera.intrinsics
    if for_sfs and intr.skew != 0:
        raise InputError(
            f"{intr.source}: camera {camera.sensor_id!r} has skew {intr.skew!r}; SFS 1.0 cannot "
            f"express skew (D13), so it must be 0 for .sfs output.",
            source=intr.source,
            field="skew",
        )
    dist: dict[str, object] | None = None
    if intr.distortion_model is not None:
        dist = {
            "model": intr.distortion_model,
            "params": [float(v) for v in intr.distortion_params],
        }
    return {
        "fx": float(intr.fx),
        "fy": float(intr.fy),
        "cx": float(intr.cx),
        "cy": float(intr.cy),
        "width": int(intr.width),
        "height": int(intr.height),
        "distortion": dist,
    }


def _png_stub(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A 45-byte PNG (signature, IHDR with the size, IEND) standing in for the skeleton images."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    return np.frombuffer(data, dtype=np.uint8)


def scene_head(plan: Plan, capture: Capture) -> dict[str, object]:
    own: dict[str, object] = {"writer": f"sfs_kit {__version__}", "source_layout": capture.layout}
    if plan.origin_m is not None:
        own["origin_offset"] = [float(v) for v in plan.origin_m]
    metadata: dict[str, object] = {**dict(capture.metadata), "sfs_kit": own}
    return {"time_offset": plan.time_offset_us, "time_unit": "microseconds", "metadata": metadata}


_EMPTY_POSITIONS = np.zeros((0, 3), dtype=np.float32)
_EMPTY_POSITIONS.flags.writeable = False


def lidar_tree(
    lidar: LidarSource | RadarSource, sp: SensorPlan, frames: list[dict[str, object]]
) -> dict[str, object]:
    """A lidar's (or, for a ``RadarSource``, a radar's) tree, its frames in the world."""
    return {
        "id": lidar.sensor_id,
        "type": "radar" if isinstance(lidar, RadarSource) else "lidar",
        "poses": {"timestamps": sp.rel_us, "values": sp.poses},
        "frames": frames,
        "coordinates": "world",
    }


def camera_tree(
    camera: CameraSource,
    sp: SensorPlan,
    images: list[dict[str, object]] | None,
    *,
    for_sfs: bool,
    video: dict[str, object] | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, object]:
    """A camera's tree; ``size`` replaces the intrinsics' width and height (an even video)."""
    content: dict[str, object] = {"images": images} if video is None else {"video": video}
    intrinsics = intrinsics_tree(camera, for_sfs=for_sfs)
    if size is not None:
        intrinsics["width"], intrinsics["height"] = size
    return {
        "id": camera.sensor_id,
        "type": "camera",
        "poses": {"timestamps": sp.rel_us, "values": sp.poses},
        "intrinsics": intrinsics,
        **content,
    }


def frame_issues(
    lidar: LidarSource | RadarSource,
    sp: SensorPlan,
    k: int,
    arrays: FrameArrays | RadarArrays,
    head: dict[str, object],
) -> list[Issue]:
    """Array rules for frame k, checked in a one-frame tree (plus an empty next frame for V-A9)."""
    points = (
        radar_points_tree(arrays, lambda a: a)
        if isinstance(arrays, RadarArrays)
        else points_tree(arrays, lambda a: a)
    )
    frames: list[dict[str, object]] = [{"timestamp": sp.rel_us[k], "points": points}]
    if k + 1 < len(sp.rel_us):
        frames.append({"timestamp": sp.rel_us[k + 1], "points": {"positions": _EMPTY_POSITIONS}})
    # only this frame's pose: pose-path rules are the skeleton's job, and a short path keeps the
    # per-frame validation cost independent of the capture length
    sensor = lidar_tree(lidar, sp, frames)
    sensor["poses"] = {"timestamps": [sp.rel_us[k]], "values": [sp.poses[k]]}
    tree = {"version": "1.0", "sensors": [sensor], **head}
    prefix = f"sensors[{lidar.sensor_id}].frames[0]"
    out = []
    for issue in validate_tree(tree):
        if issue.path == prefix or issue.path.startswith(prefix + "."):
            path = f"sensors[{lidar.sensor_id}].frames[{k}]" + issue.path[len(prefix) :]
            out.append(Issue(issue.code, issue.severity, path, issue.message))
    return out


def _empty_frames(sp: SensorPlan) -> list[dict[str, object]]:
    return [{"timestamp": t, "points": {"positions": _EMPTY_POSITIONS}} for t in sp.rel_us]


def skeleton_issues(
    capture: Capture, plan: Plan, head: dict[str, object], *, for_sfs: bool
) -> list[Issue]:
    """Scene-level rules (ids, times, rates, poses, intrinsics) on a tree with empty frames."""
    sensors: list[dict[str, object]] = []
    for lidar, sp in zip(capture.lidars, plan.lidars, strict=True):
        sensors.append(lidar_tree(lidar, sp, _empty_frames(sp)))
    for camera, sp in zip(capture.cameras, plan.cameras, strict=True):
        stub = _png_stub(camera.intrinsics.width, camera.intrinsics.height)
        images: list[dict[str, object]] = [{"timestamp": t, "content": stub} for t in sp.rel_us]
        sensors.append(camera_tree(camera, sp, images, for_sfs=for_sfs))
    for radar, sp in zip(capture.radars, plan.radars, strict=True):
        sensors.append(lidar_tree(radar, sp, _empty_frames(sp)))
    return validate_tree({"version": "1.0", "sensors": sensors, **head})


def check_issues(issues: list[Issue], what: str) -> None:
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise SceneValidationError(
            f"The converted scene is invalid ({len(errors)} error(s), first: {errors[0]}); "
            f"nothing was written to {what}.",
            issues=issues,
        )
