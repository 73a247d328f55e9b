"""``to_compat``: rewrite a scene into the subset Scale's tools accept (spec 3.5, D9-D12).

- ``time_unit`` becomes microseconds: every timestamp (poses, frames, images, video, point
  timestamps, annotation paths and ``time_offset``) is floor-divided by 1000 when it was ns (D10).
- Point timestamps become uint32 on the scene clock (D11). A uint64 array whose smallest value is
  at least ``time_offset + frame.timestamp`` holds absolute times, so ``time_offset`` is
  subtracted; anything else is already on the scene clock. A value above 2^32 - 1 is an error.
- Zero-length point-timestamp arrays are dropped (V-A10: Scale fails them).
- ``coordinates: "ego"`` becomes ``"world"``: points are posed by the sensor pose interpolated at
  the frame timestamp, computed in float64 and cast to float32 (D9); radar directions are rotated.
- Quaternions within 1e-3 of unit norm are renormalised (D12); further off is an error.

Odometry and points sensors are left as they are: ``validate(mode="compat")`` reports them.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import SceneValidationError
from sfs_kit.models.base import replace
from sfs_kit.models.geometry import (
    interpolate_pose,
    pose_to_matrix,
    rotate_vectors,
    transform_points,
)
from sfs_kit.models.pose import PosePath
from sfs_kit.models.scene import Scene
from sfs_kit.models.sensors import (
    CameraImage,
    CameraSensor,
    LidarFrame,
    LidarSensor,
    RadarFrame,
    RadarSensor,
    Sensor,
)
from sfs_kit.models.validate import QUAT_NORM_TOLERANCE

__all__ = ["to_compat"]

_UINT32_MAX: Final = 2**32 - 1


Posing = dict[tuple[int, int], npt.NDArray[np.float64]]
"""(sensor index, frame index) -> the 4x4 world_from_sensor transform of an ego frame."""


def to_compat(scene: Scene, *, defer_posing: Posing | None = None) -> Scene:
    """A copy of ``scene`` that Scale's parser and validator accept (see the module docstring).

    Raises ``SceneValidationError`` when a quaternion is too far from unit norm or a point
    timestamp cannot be expressed as uint32 microseconds on the scene clock.

    ``defer_posing`` (a dict, for writers): ego frames keep their points as they are, marked
    world, and the dict receives each frame's transform, so the writer poses one frame at a time
    as it writes (``transform_points``/``rotate_vectors`` of positions/directions) instead of
    holding every posed frame. The returned scene is then only for that writer.
    """
    div = 1000 if scene.time_unit == "nanoseconds" else 1
    offset = scene.time_offset or 0
    sensors = tuple(_sensor(s, div, offset, index, defer_posing)
                    for index, s in enumerate(scene.sensors))
    changes: dict[str, Any] = {"sensors": sensors}
    if div != 1 or "time_unit" in scene.model_fields_set:
        changes["time_unit"] = "microseconds"
    if scene.time_offset is not None:
        changes["time_offset"] = scene.time_offset // div
    if div != 1:
        if scene.annotations is not None:
            changes["annotations"] = tuple(_scale_times(a, div) for a in scene.annotations)
        if scene.attributes is not None:
            changes["attributes"] = tuple(_scale_times(a, div) for a in scene.attributes)
    return replace(scene, **changes)


def _frozen(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    arr.flags.writeable = False
    return arr


def _poses(poses: PosePath, div: int, where: str) -> PosePath:
    values = poses.values
    norms = np.linalg.norm(values[:, 3:7], axis=1)
    bad = ~(np.abs(norms - 1.0) <= QUAT_NORM_TOLERANCE)
    if bad.any():
        i = int(np.argmax(bad))
        msg = (
            f"Quaternion {i} of {where} has norm {norms[i]:.6g}; it must be within "
            f"{QUAT_NORM_TOLERANCE} of 1 to be normalised (V-P4)."
        )
        raise SceneValidationError(msg)
    if div == 1 and np.all(norms == 1.0):
        return poses
    new_values = values.copy()
    new_values[:, 3:7] /= norms[:, None]
    return PosePath(timestamps=_frozen(poses.timestamps // div), values=_frozen(new_values))


def _sensor(sensor: Sensor, div: int, offset: int, index: int = 0,
            posing: Posing | None = None) -> Sensor:
    where = f"sensor {sensor.id!r}"
    if isinstance(sensor, LidarSensor | RadarSensor):
        poses = _poses(sensor.poses, div, f"{where} poses")
        source: tuple[LidarFrame | RadarFrame, ...] = sensor.frames
        matrices = (world_from_sensor(poses, [f.timestamp // div for f in source])
                    if sensor.coordinates == "ego" else None)
        frames = tuple(
            _frame(frame, None if matrices is None else matrices[i], div, offset,
                   f"{where} frame {i}", None if posing is None else (posing, (index, i)))
            for i, frame in enumerate(source)
        )
        return replace(sensor, poses=poses, frames=frames, coordinates="world")
    if isinstance(sensor, CameraSensor):
        poses = _poses(sensor.poses, div, f"{where} poses")
        changes: dict[str, Any] = {"poses": poses}
        if div != 1 and sensor.images is not None:
            changes["images"] = tuple(
                CameraImage(timestamp=img.timestamp // div, content=img.content)
                for img in sensor.images
            )
        if div != 1 and sensor.video is not None:
            changes["video"] = replace(
                sensor.video, timestamps=_frozen(sensor.video.timestamps // div)
            )
        return replace(sensor, **changes)
    return sensor


def world_from_sensor(poses: PosePath, timestamps: list[int]) -> npt.NDArray[np.float64]:
    """``(F, 4, 4)``: the pose interpolated at each timestamp, for all of a sensor's frames in
    one vectorised call (bit for bit what one call per frame gives: every step is element-wise
    or a per-row reduction; tests/models/test_compat_posing.py checks it)."""
    pos, quat = interpolate_pose(poses, timestamps)
    return pose_to_matrix(np.concatenate([pos, quat], axis=1))


def _frame(  # noqa: PLR0917
    frame: LidarFrame | RadarFrame,
    world_from_sensor: npt.NDArray[np.float64] | None,
    div: int,
    offset: int,
    where: str,
    deferred: tuple[Posing, tuple[int, int]] | None = None,
) -> LidarFrame | RadarFrame:
    """``frame`` for Scale; an ego frame (``world_from_sensor`` given) is posed, or its
    transform handed to the writer in ``deferred``."""
    points = frame.points
    changes: dict[str, Any] = {}
    if points.timestamps is not None:
        changes["timestamps"] = _point_times(points.timestamps, frame.timestamp, div, offset, where)
    if world_from_sensor is not None and deferred is not None:
        deferred[0][deferred[1]] = world_from_sensor
    elif world_from_sensor is not None:
        changes["positions"] = _frozen(transform_points(points.positions, world_from_sensor))
        directions = getattr(points, "directions", None)
        if directions is not None:
            changes["directions"] = _frozen(rotate_vectors(directions, world_from_sensor))
    if div == 1 and all(value is getattr(points, key) for key, value in changes.items()):
        return frame  # nothing to change (world, uint32 point times, us): no copy to validate
    new_points = replace(points, **changes) if changes else points
    if "timestamps" in changes and changes["timestamps"] is None:
        data = {k: getattr(new_points, k) for k in new_points.model_fields_set if k != "timestamps"}
        new_points = type(points).model_validate(data)
    return replace(frame, timestamp=frame.timestamp // div, points=new_points)


def _point_times(
    stamps: npt.NDArray[Any], frame_ts: int, div: int, offset: int, where: str
) -> npt.NDArray[Any] | None:
    if stamps.size == 0:
        return None
    absolute = stamps.dtype == np.uint64 and offset > 0 and int(stamps.min()) >= offset + frame_ts
    if stamps.dtype == np.uint32 and div == 1:
        return stamps  # already uint32 on the scene clock: keep the read-only array
    rel = stamps.astype(np.uint64)
    if absolute:
        rel -= np.uint64(offset)  # absolute times: move onto the scene clock
    if div != 1:
        rel //= np.uint64(div)
    hi = int(rel.max())
    if hi > _UINT32_MAX:
        msg = (
            f"Point timestamps of {where} reach {hi} us on the scene clock, beyond uint32 "
            f"({_UINT32_MAX}); normalise them to time_offset or split the scene (D11)."
        )
        raise SceneValidationError(msg)
    return _frozen(rel.astype(np.uint32))


def _scale_times(node: Any, div: int) -> Any:
    """Annotation/attribute trees: ns -> us in ``timestamps`` lists and event start/duration."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "timestamps" and isinstance(value, list):
                out[key] = [
                    v // div if isinstance(v, int) and not isinstance(v, bool) else v for v in value
                ]
            elif (
                key in ("start", "duration")
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                out[key] = value // div
            else:
                out[key] = _scale_times(value, div)
        return out
    if isinstance(node, list):
        return [_scale_times(v, div) for v in node]
    return node
