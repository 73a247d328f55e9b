"""``recentre``: shift a scene towards the origin so float32 keeps millimetres (V-O1, D15).

The origin (float64 metres) is subtracted from every pose translation, every world-frame point
array (cast back to float32) and every 3D annotation coordinate (cuboid centres, polygon,
polyline and point rows). Ego-frame point arrays and radar directions are untouched. The total
shift is recorded in ``metadata["sfs_kit"]["origin_offset"]`` (accumulating over calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.models.base import replace
from sfs_kit.models.pose import PosePath
from sfs_kit.models.scene import Scene
from sfs_kit.models.sensors import (
    CameraSensor,
    LidarSensor,
    OdometrySensor,
    PointsSensor,
    RadarSensor,
    Sensor,
)

__all__ = ["default_origin", "recentre"]

_ROW_TYPES = frozenset({"polygon", "polygon_topdown", "polyline", "point", "point_topdown"})


def default_origin(scene: Scene) -> npt.NDArray[np.float64]:
    """The first pose translation of the first lidar (else of any posed sensor), in whole metres."""
    posed = [s for s in scene.sensors if s.type == "lidar"] + [
        s for s in scene.sensors if s.type != "lidar"
    ]
    for sensor in posed:
        poses: PosePath | None = getattr(sensor, "poses", None)
        if poses is not None:
            result: npt.NDArray[np.float64] = np.round(poses.values[0, :3])
            return result
    return np.zeros(3)


def recentre(scene: Scene, origin_m: Sequence[float] | npt.ArrayLike | None = None) -> Scene:
    """A copy of ``scene`` shifted by ``-origin_m`` (default: ``default_origin(scene)``)."""
    origin = default_origin(scene) if origin_m is None else np.asarray(origin_m, dtype=np.float64)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        msg = f"recentre() needs origin_m as three finite numbers in metres, found {origin_m!r}."
        raise InputError(msg, field="origin_m")
    sensors = tuple(_sensor(s, origin) for s in scene.sensors)
    metadata = dict(scene.metadata or {})
    own = dict(metadata.get("sfs_kit") or {})
    previous = np.asarray(own.get("origin_offset", [0.0, 0.0, 0.0]), dtype=np.float64)
    own["origin_offset"] = (previous + origin).tolist()
    metadata["sfs_kit"] = own
    changes: dict[str, Any] = {"sensors": sensors, "metadata": metadata}
    if scene.annotations is not None:
        changes["annotations"] = tuple(_annotation(a, origin) for a in scene.annotations)
    return replace(scene, **changes)


def _shift_poses(poses: PosePath, origin: npt.NDArray[np.float64]) -> PosePath:
    values = poses.values.copy()
    values[:, :3] -= origin
    values.flags.writeable = False
    return PosePath(timestamps=poses.timestamps, values=values)


def _shift_points(
    positions: npt.NDArray[np.float32], origin: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    out = (positions.astype(np.float64) - origin).astype(np.float32)
    out.flags.writeable = False
    return out


def _sensor(sensor: Sensor, origin: npt.NDArray[np.float64]) -> Sensor:
    if isinstance(sensor, LidarSensor | RadarSensor):
        frames = sensor.frames
        if sensor.coordinates == "world":
            frames = tuple(  # type: ignore[assignment]
                replace(
                    f, points=replace(f.points, positions=_shift_points(f.points.positions, origin))
                )
                for f in sensor.frames
            )
        return replace(sensor, poses=_shift_poses(sensor.poses, origin), frames=frames)
    if isinstance(sensor, CameraSensor | OdometrySensor):
        return replace(sensor, poses=_shift_poses(sensor.poses, origin))
    assert isinstance(sensor, PointsSensor)
    return replace(
        sensor,
        points=replace(sensor.points, positions=_shift_points(sensor.points.positions, origin)),
    )


def _annotation(ann: Any, origin: npt.NDArray[np.float64]) -> Any:
    if not isinstance(ann, dict):
        return ann
    kind = ann.get("type")
    out = dict(ann)
    path = ann.get("path")
    if isinstance(path, dict) and isinstance(path.get("values"), list):
        if kind == "cuboid":
            out["path"] = {**path, "values": [_shift_row(r, origin, 3, 6) for r in path["values"]]}
        elif kind in _ROW_TYPES:
            out["path"] = {
                **path,
                "values": [_shift_row(r, origin, 0, None) for r in path["values"]],
            }
    if kind == "cuboid":
        for key in ("activations", "projections"):
            if isinstance(ann.get(key), list):
                out[key] = [
                    {**item, "cuboids": [_shift_row(r, origin, 3, 6) for r in item["cuboids"]]}
                    if isinstance(item, dict) and isinstance(item.get("cuboids"), list)
                    else item
                    for item in ann[key]
                ]
    return out


def _shift_row(row: Any, origin: npt.NDArray[np.float64], start: int, stop: int | None) -> Any:
    """Subtract the origin from xyz triplets in ``row[start:stop]``; anything else is kept."""
    if not isinstance(row, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in row
    ):
        return row
    out = [float(v) for v in row]
    end = len(out) if stop is None else min(stop, len(out))
    for i in range(start, end - (end - start) % 3, 3):
        out[i] -= float(origin[0])
        out[i + 1] -= float(origin[1])
        out[i + 2] -= float(origin[2])
    return out
