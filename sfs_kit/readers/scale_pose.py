"""Scale lidar toolkit pose documents: ``{"heading": quaternion, "position": vector}``.

scale-lidar-toolkit's recommended folder (``scale_format``) stores each frame's device pose
(``poses/N.json``, ``world_from_ego``) and each camera's mounting (``cameras/<cam>/
extrinsics.json``, the camera's pose in the device frame, OpenCV optical axes as scale-lidar-io's
``LidarCamera.calibrate(pose=...)`` takes it) in this form. ``heading`` is a quaternion in
**w, x, y, z** order (pyquaternion's, as the toolkit builds ``Quaternion(heading)``), a list or an
object with ``w``/``x``/``y``/``z`` keys; ``position`` is ``[x, y, z]`` or ``{x, y, z}``. A
document is JSON, or YAML when its name ends ``.yaml``/``.yml`` (the toolkit's older example data,
``poses/1.yaml``, read by its example with ``yaml.safe_load``), both parsed by
``sfs_kit._documents``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sfs_kit._documents import load_document
from sfs_kit.errors import InputError
from sfs_kit.readers._source import read_capped_text

__all__ = ["POSE_SUFFIXES", "ScalePose", "read_scale_pose"]

POSE_SUFFIXES = (".json", ".yaml", ".yml")

_MAX_BYTES = 1 << 20  # a pose document is a few hundred bytes
_UNIT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ScalePose:
    """One pose: translation in metres and the rotation as a unit quaternion (x, y, z, w)."""

    position_m: tuple[float, float, float]
    quat_xyzw: tuple[float, float, float, float]
    source: str


def _numbers(value: object, keys: tuple[str, ...], what: str, source: str) -> list[float]:
    if isinstance(value, dict):
        missing = [k for k in keys if k not in value]
        if missing:
            raise InputError(f"{source}: {what!r} has no {missing[0]!r} (keys {list(keys)!r}).",
                             source=source, field=f"{what}.{missing[0]}")
        items = [value[k] for k in keys]
    elif isinstance(value, list) and len(value) == len(keys):
        items = value
    else:
        raise InputError(f"{source}: {what!r} must be a list of {len(keys)} numbers or an object "
                         f"with keys {list(keys)!r}, found {type(value).__name__}.",
                         source=source, field=what)
    out = []
    for key, item in zip(keys, items, strict=True):
        if isinstance(item, bool) or not isinstance(item, int | float) \
                or not math.isfinite(float(item)):
            raise InputError(f"{source}: {what}.{key} = {item!r} is not a finite number.",
                             source=source, field=f"{what}.{key}")
        out.append(float(item))
    return out


def read_scale_pose(path: str | os.PathLike[str]) -> ScalePose:
    """Read one heading/position JSON or YAML document; errors name the file and the key."""
    source = os.fspath(path)
    text = read_capped_text(path, what="pose file", limit=_MAX_BYTES,
                            why="a pose document is a few hundred bytes")
    document = load_document(text, source=source, what="Pose document")
    if not isinstance(document, dict):
        raise InputError(f"{source}: a pose document is a JSON object with 'heading' and "
                         f"'position', found {type(document).__name__}.", source=source)
    for key in ("heading", "position"):
        if key not in document:
            raise InputError(f"{source}: the pose has no {key!r} (expected {{\"heading\": "
                             "[w, x, y, z], \"position\": [x, y, z]}).", source=source, field=key)
    w, x, y, z = _numbers(document["heading"], ("w", "x", "y", "z"), "heading", source)
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if abs(norm - 1.0) > _UNIT_TOLERANCE:
        raise InputError(f"{source}: heading [w, x, y, z] = {[w, x, y, z]!r} has norm {norm:.6g}, "
                         "not a unit quaternion.", source=source, field="heading")
    px, py, pz = _numbers(document["position"], ("x", "y", "z"), "position", source)
    return ScalePose(position_m=(px, py, pz),
                     quat_xyzw=(x / norm, y / norm, z / norm, w / norm), source=source)
