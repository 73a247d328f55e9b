"""``describe_input``: a JSON-ready summary of one raw input file (for ``sfs-kit inspect``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud
from sfs_kit.readers.calibration import read_intrinsics
from sfs_kit.readers.dispatch import POINT_CLOUD_SUFFIXES, read_point_cloud
from sfs_kit.readers.image import read_image
from sfs_kit.readers.poses import TimeUnit, read_poses

__all__ = ["describe_input"]

_UNITS: Mapping[str, str] = {
    "positions": "m (file units) minus origin_m",
    "intensity": "raw sensor units",
    "colors": "sRGB 0..255",
    "time_s": "s",
    "ring": "index",
}


def _describe_cloud(cloud: PointCloud) -> dict[str, object]:
    channels: dict[str, object] = {}
    for name, array in cloud.channels().items():
        channels[name] = {"dtype": array.dtype.str, "shape": list(array.shape),
                          "units": _UNITS.get(name, "as stored")}
    bounds: dict[str, object] | None = None
    finite = cloud.positions[np.isfinite(cloud.positions).all(axis=1)]
    if finite.shape[0]:
        bounds = {"min": [float(v) for v in finite.min(axis=0) + cloud.origin_m],
                  "max": [float(v) for v in finite.max(axis=0) + cloud.origin_m]}
    return {"kind": "point_cloud", "format": cloud.format, "points": cloud.num_points,
            "channels": channels, "intensity_range": list(cloud.intensity_range)
            if cloud.intensity_range else None, "origin_m": cloud.origin_m.tolist(),
            "bounds": bounds}


def describe_input(path: str | os.PathLike[str], *, time_unit: TimeUnit | None = None
                   ) -> dict[str, object]:
    """Describe a point cloud, image, pose file or calibration file; raise if it is none of them.

    Pose time spans are reported in µs; the file's timestamp unit comes from the column's suffix
    (``timestamp_us``) or ``time_unit`` (never assumed).
    """
    name = os.fspath(path)
    lower = name.lower()
    if lower.endswith(POINT_CLOUD_SUFFIXES):
        return {"path": name, **_describe_cloud(read_point_cloud(path))}
    if lower.endswith((".jpg", ".jpeg", ".png")):
        image = read_image(path)
        return {"path": name, "kind": "image", "format": image.format, "width": image.width,
                "height": image.height, "bytes": len(image.content)}
    if lower.endswith((".yml", ".yaml", ".json")):
        try:
            calibration = read_intrinsics(path)
        except InputError as calibration_error:
            if not lower.endswith(".json"):
                raise
            try:
                return {"path": name, **_describe_poses(path, time_unit)}
            except InputError:
                raise calibration_error from None
        return {"path": name, "kind": "intrinsics", "fx": calibration.fx, "fy": calibration.fy,
                "cx": calibration.cx, "cy": calibration.cy, "width": calibration.width,
                "height": calibration.height, "skew": calibration.skew,
                "distortion_model": calibration.distortion_model,
                "distortion_params": list(calibration.distortion_params)}
    if lower.endswith((".csv", ".txt")):
        return {"path": name, **_describe_poses(path, time_unit)}
    raise InputError(f"File {name!r} is not a known raw input (point cloud, image, poses or "
                     "calibration).", source=name, field="suffix")


def _describe_poses(path: str | os.PathLike[str], time_unit: TimeUnit | None
                    ) -> dict[str, object]:
    table = read_poses(path, time_unit=time_unit)
    first, last = int(table.timestamps_us[0]), int(table.timestamps_us[-1])
    return {"kind": "poses", "count": len(table), "first_timestamp_us": first,
            "last_timestamp_us": last, "span_us": last - first}
