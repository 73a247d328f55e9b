"""``describe_input``: a JSON-ready summary of one raw input file (for ``sfs-kit inspect``).

Point clouds and images are told apart by their extension. A calibration or pose document
(``.json``, ``.yaml``/``.yml``, ``.csv``/``.txt``) is tried as each kind it could be, in order:
intrinsics (every ``M<n>``/``D<n>`` camera of an OpenCV stereo file), extrinsics, then poses
(position + quaternion, then 4x4 matrices). The first that parses is reported; when none does,
the error lists every attempt's reason, so the user sees why each reading failed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np

from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud
from sfs_kit.readers._rigid import quat_from_matrix
from sfs_kit.readers._source import read_all
from sfs_kit.readers.calibration import (
    CameraCalibration,
    load_calibration_document,
    read_extrinsics,
    read_intrinsics,
)
from sfs_kit.readers.dispatch import POINT_CLOUD_SUFFIXES, read_point_cloud
from sfs_kit.readers.image import read_image
from sfs_kit.readers.kitti_bin import KITTI_COLUMNS, NUSCENES_COLUMNS
from sfs_kit.readers.pcd import fields_of, parse_header
from sfs_kit.readers.poses import PoseLayout, QuatOrder, TimeUnit, read_poses
from sfs_kit.readers.raw_layout import observe_raw_floats

__all__ = ["describe_input"]

_UNITS: Mapping[str, str] = {
    "positions": "m (file units) minus origin_m",
    "intensity": "raw sensor units",
    "colors": "sRGB 0..255",
    "time_s": "s",
    "ring": "index",
}
_STEREO_MATRIX = re.compile(r"^M(\d+)$")
_Attempt = tuple[str, Callable[[], dict[str, object]]]


def _describe_cloud(cloud: PointCloud) -> dict[str, object]:
    channels: dict[str, object] = {}
    for name, array in cloud.channels().items():
        if name.startswith("extra.") and (array.ndim == 0 or array.shape[0] != cloud.num_points):
            continue  # file-level values (e.g. the PCD VIEWPOINT), not per-point channels
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
            "bounds": bounds,
            "viewpoint": cloud.extra["viewpoint"].tolist() if "viewpoint" in cloud.extra else None}


def _describe_raw(path: str | os.PathLike[str], columns: Sequence[str] | None
                  ) -> dict[str, object]:
    """A headerless .bin: what the bytes hold as the named (or declared) layout, and the cloud.

    The observation comes first, so a file that cannot be the layout is still described (as
    ``raw_points``, with the reason) instead of only failing.
    """
    name = os.fspath(path)
    nuscenes = name.lower().endswith(".pcd.bin")
    layout = "raw" if columns is not None else ("nuscenes_bin" if nuscenes else "kitti_bin")
    names = list(columns) if columns is not None else list(
        NUSCENES_COLUMNS if nuscenes else KITTI_COLUMNS)
    data, _ = read_all(path)
    observed = observe_raw_floats(data, names, layout=layout)
    try:
        cloud = read_point_cloud(path, columns=columns)
    except InputError as err:
        return {"path": name, "kind": "raw_points", "format": layout, "observed": observed,
                "error": str(err.args[0])}
    return {"path": name, **_describe_cloud(cloud), "observed": observed}


def _pcd_stored(path: str | os.PathLike[str]) -> dict[str, object]:
    """The PCD header as stored: DATA kind and each field's dtype and count (no data read)."""
    data, name = read_all(path)
    header = parse_header(data, name)
    return {"data": header.data, "fields": {n: {"dtype": d.str, "count": c}
                                            for n, (d, c) in fields_of(header).items()}}


def describe_input(
    path: str | os.PathLike[str],
    *,
    time_unit: TimeUnit | None = None,
    columns: Sequence[str] | None = None,
    layout: PoseLayout | None = None,
    camera: str | None = None,
    quat_order: QuatOrder | None = None,
) -> dict[str, object]:
    """Describe a point cloud, image, pose file or calibration file; raise if it is none of them.

    ``columns`` names the columns of an (N, k) ``.npy``/``.bin``; ``time_unit`` the unit of a
    pose file's timestamps (else a ``_us``-style column suffix must say it); ``layout`` limits
    pose parsing to ``quaternion`` or ``matrix`` rows; ``camera`` picks one camera (a key such as
    ``M1`` of an OpenCV stereo file, or a named camera); ``quat_order`` orders unnamed
    quaternions. Pose time spans are reported in µs.
    """
    name = os.fspath(path)
    lower = name.lower()
    if lower.endswith(".bin"):
        return _describe_raw(path, columns)
    if lower.endswith(POINT_CLOUD_SUFFIXES):
        info = {"path": name, **_describe_cloud(read_point_cloud(path, columns=columns))}
        if lower.endswith(".pcd"):
            info["stored"] = _pcd_stored(path)
        return info
    if lower.endswith((".jpg", ".jpeg", ".png")):
        image = read_image(path)
        return {"path": name, "kind": "image", "format": image.format, "width": image.width,
                "height": image.height, "bytes": len(image.content)}
    attempts: list[_Attempt] = []
    if lower.endswith((".yml", ".yaml", ".json")):
        attempts += [("intrinsics", lambda: _describe_intrinsics(path, camera)),
                     ("extrinsics", lambda: _describe_extrinsics(path, camera, quat_order))]
    if lower.endswith((".json", ".csv", ".txt")):
        for kind in ("quaternion", "matrix") if layout is None else (layout,):
            attempts.append((f"poses ({kind})",
                             _pose_attempt(path, time_unit, kind, quat_order)))
    if not attempts:
        raise InputError(f"File {name!r} is not a known raw input (point cloud, image, poses or "
                         "calibration).", source=name, field="suffix")
    reasons: list[str] = []
    for label, attempt in attempts:
        try:
            return {"path": name, **attempt()}
        except InputError as err:
            reasons.append(f"{label}: {str(err.args[0]).rstrip('.')}")
    raise InputError(f"File {name!r} is none of {', '.join(a[0] for a in attempts)} ("
                     + "; ".join(reasons) + ").", source=name, field="kind")


def _pose_attempt(path: str | os.PathLike[str], time_unit: TimeUnit | None,
                  kind: Literal["quaternion", "matrix"], quat_order: QuatOrder | None
                  ) -> Callable[[], dict[str, object]]:
    return lambda: _describe_poses(path, time_unit, kind, quat_order)


def _camera_info(calibration: CameraCalibration, sized: tuple[bool, bool]) -> dict[str, object]:
    return {"fx": calibration.fx, "fy": calibration.fy, "cx": calibration.cx,
            "cy": calibration.cy, "width": calibration.width if sized[0] else None,
            "height": calibration.height if sized[1] else None, "skew": calibration.skew,
            "distortion_model": calibration.distortion_model,
            "distortion_params": list(calibration.distortion_params)}


def _read_camera(path: str | os.PathLike[str], *, camera: str | None = None,
                 matrix_key: str | None = None, distortion_key: str | None = None
                 ) -> dict[str, object]:
    """One camera's intrinsics; an image size the file lacks is reported as None."""
    missing: set[str] = set()
    while True:
        try:
            calibration = read_intrinsics(
                path, camera=camera, matrix_key=matrix_key, distortion_key=distortion_key,
                width=0 if "width" in missing else None,
                height=0 if "height" in missing else None)
        except InputError as err:
            if err.field in ("width", "height") and err.field not in missing and \
                    "has no image" in str(err):
                missing.add(err.field)  # not in the file: describe it without the size
                continue
            raise
        return _camera_info(calibration, ("width" not in missing, "height" not in missing))


def _describe_intrinsics(path: str | os.PathLike[str], camera: str | None) -> dict[str, object]:
    document = load_calibration_document(path)
    stereo = sorted(k for k in document if _STEREO_MATRIX.match(k))
    if camera is not None and camera in stereo:
        stereo = [camera]
    elif camera is not None:
        return {"kind": "intrinsics", "cameras": {camera: _read_camera(path, camera=camera)}}
    if stereo:
        cameras = {}
        for key in stereo:
            suffix = key[1:]
            distortion = f"D{suffix}" if f"D{suffix}" in document else None
            cameras[key] = _read_camera(path, matrix_key=key, distortion_key=distortion)
        return {"kind": "intrinsics", "cameras": cameras}
    return {"kind": "intrinsics", "cameras": {"camera": _read_camera(path)}}


def _describe_extrinsics(path: str | os.PathLike[str], camera: str | None,
                         quat_order: QuatOrder | None) -> dict[str, object]:
    matrix = read_extrinsics(path, direction="sensor_to_ego", camera=camera,
                             quat_order=quat_order)
    return {"kind": "extrinsics", "matrix": matrix.tolist(),
            "translation_m": matrix[:3, 3].tolist(),
            "quat_xyzw": quat_from_matrix(matrix[:3, :3]).tolist(),
            "direction": "as stored; the file does not say (declare it in capture.yaml)"}


def _describe_poses(path: str | os.PathLike[str], time_unit: TimeUnit | None,
                    layout: Literal["quaternion", "matrix"], quat_order: QuatOrder | None
                    ) -> dict[str, object]:
    table = read_poses(path, time_unit=time_unit, layout=layout, quat_order=quat_order)
    first, last = int(table.timestamps_us[0]), int(table.timestamps_us[-1])
    return {"kind": "poses", "layout": layout, "count": len(table),
            "first_timestamp_us": first, "last_timestamp_us": last, "span_us": last - first}
