"""``encode_frame``: a ``LidarFrameData`` record to the bytes of one split_base64 frame; bad
in-memory input raises ``InputError`` naming the field."""

from __future__ import annotations

import binascii
import json
import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any, Final, NoReturn, cast

import numpy as np
import numpy.typing as npt

from sfs_kit.codecs.frame_json._records import (
    _QUAT_NORM_TOLERANCE,
    _UINT64_LIMIT,
    CAMERA_MODELS,
    DISTORTION_NAMES,
    FrameFieldDroppedWarning,
    FrameImage,
    LidarFrameData,
    RadarPointsWorld,
)
from sfs_kit.errors import InputError

logger = logging.getLogger(__name__)


_COMPACT: Final[dict[str, object]] = {"separators": (",", ":"), "allow_nan": False}


def _bad_input(message: str, source: str, field: str) -> NoReturn:
    raise InputError(message, source=source, field=field)


def _real(value: object, source: str, field: str) -> float:
    """A finite float from an int/float (numpy scalars included); bools and others are refused."""
    number = int | float | np.integer | np.floating
    if isinstance(value, bool | np.bool_) or not isinstance(value, number):
        _bad_input(f"{field} must be a number, not {value!r}.", source, field)
    result = float(value)
    if not math.isfinite(result):
        _bad_input(f"{field} must be finite, not {result!r}.", source, field)
    return result


def _vec3(values: Sequence[object], source: str, field: str) -> list[float]:
    if len(values) != 3:
        _bad_input(f"{field} must hold 3 numbers (x, y, z), not {len(values)}.", source, field)
    return [_real(v, source, f"{field}[{i}]") for i, v in enumerate(values)]


def _quat_wxyz(values: Sequence[object], source: str, field: str) -> list[float]:
    """Check an ``[x, y, z, w]`` quaternion and return it scalar first, values untouched."""
    if len(values) != 4:
        _bad_input(f"{field} must hold 4 numbers (x, y, z, w), not {len(values)}.", source, field)
    x, y, z, w = (_real(v, source, f"{field}[{i}]") for i, v in enumerate(values))
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if abs(norm - 1.0) > _QUAT_NORM_TOLERANCE:
        _bad_input(
            f"{field} must be a unit quaternion (norm within {_QUAT_NORM_TOLERANCE} of 1), "
            f"but its norm is {norm!r}.",
            source,
            field,
        )
    return [w, x, y, z]


def _int_ns(value: object, source: str, field: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        _bad_input(f"{field} must be an int of nanoseconds, not {value!r}.", source, field)
    result = int(value)
    if not 0 <= result < _UINT64_LIMIT:
        _bad_input(f"{field} must be in [0, 2**64), not {result!r}.", source, field)
    return result


def _le_array(
    array: object, dtype: str, ndim: int, *, n: int | None, source: str, field: str
) -> npt.NDArray[Any]:
    """``array`` as a C-contiguous little-endian ``dtype`` array; refuses lossy casts."""
    if not isinstance(array, np.ndarray):
        _bad_input(f"{field} must be a numpy array, not {type(array).__name__}.", source, field)
    target = np.dtype(dtype)
    if not np.can_cast(array.dtype, target, casting="safe"):
        _bad_input(
            f"{field} must have dtype {target.name} (or one that casts to it without loss), "
            f"not {array.dtype.name}.",
            source,
            field,
        )
    if array.ndim != ndim or (ndim == 2 and array.shape[1] != 3):
        want = "(N, 3)" if ndim == 2 else "(N,)"
        _bad_input(f"{field} must have shape {want}, not {array.shape}.", source, field)
    if n is not None and array.shape[0] != n:
        _bad_input(
            f"{field} must have {n} rows (one per point), not {array.shape[0]}.", source, field
        )
    return np.ascontiguousarray(array, dtype=target)


def _check_finite(array: npt.NDArray[np.floating], source: str, field: str) -> None:
    if array.size == 0:
        return
    # min/max propagate NaN and keep inf: two cheap reductions instead of a full boolean mask.
    if math.isfinite(float(array.min())) and math.isfinite(float(array.max())):
        return
    first = int(np.flatnonzero(~np.isfinite(array))[0])
    row = first // 3 if array.ndim == 2 else first
    bad = float(array.reshape(-1)[first])
    _bad_input(f"{field} must be finite, but row {row} holds {bad!r}.", source, field)


def _b64(array: npt.NDArray[Any]) -> bytes:
    """Standard base64, no newline, straight from the array's buffer (no intermediate copy)."""
    if array.size == 0:
        return b""
    return binascii.b2a_base64(array.data, newline=False)


def _xyz(v: Sequence[float]) -> dict[str, float]:
    return {"x": v[0], "y": v[1], "z": v[2]}


def is_relative_image_url(url: str) -> bool:
    """Whether ``url`` is a relative reference to a file below the frame's folder.

    Relative means: non-empty, no scheme (nothing like ``s3:`` before the first ``/``), no
    leading ``/`` and no ``..`` path segment, e.g. ``images/front/00003.jpg``.
    """
    if not url or url.startswith("/"):
        return False
    first = url.split("/", 1)[0]
    if ":" in first:  # a scheme (``file:``, ``c:``) or a colon where a scheme would be
        return False
    return ".." not in url.split("/")


def _camera_object(
    image: FrameImage, source: str, field: str, *, allow_relative: bool
) -> dict[str, object]:
    if not isinstance(image, FrameImage):
        _bad_input(f"{field} must be a FrameImage, not {type(image).__name__}.", source, field)
    url = image.image_url
    is_http = isinstance(url, str) and url.startswith(("http://", "https://"))
    if not is_http and allow_relative:
        if not isinstance(url, str) or not is_relative_image_url(url):
            _bad_input(
                f"{field}.image_url must be an http(s) URL or a relative path (no scheme, no "
                f"leading '/', no '..' segment), not {url!r}.",
                source,
                f"{field}.image_url",
            )
    elif not is_http:
        _bad_input(
            f"{field}.image_url must be an http(s) URL, not {url!r}.", source, f"{field}.image_url"
        )
    if image.camera_model not in CAMERA_MODELS:
        _bad_input(
            f"{field}.camera_model must be one of {', '.join(CAMERA_MODELS)}, "
            f"not {image.camera_model!r}.",
            source,
            f"{field}.camera_model",
        )
    w, x, y, z = _quat_wxyz(image.heading_quat_xyzw, source, f"{field}.heading_quat_xyzw")
    obj: dict[str, object] = {
        "image_url": url,
        "position": _xyz(_vec3(image.position_m, source, f"{field}.position_m")),
        "heading": {"w": w, "x": x, "y": y, "z": z},
        "camera_model": image.camera_model,
    }
    for name in ("fx", "fy", "cx", "cy", "skew", *DISTORTION_NAMES, "scale_factor"):
        obj[name] = _real(getattr(image, name), source, f"{field}.{name}")
    for name in ("fx", "fy"):
        if cast(float, obj[name]) <= 0.0:
            _bad_input(f"{field}.{name} must be > 0, not {obj[name]!r}.", source, f"{field}.{name}")
    if image.timestamp_ns is not None:
        obj["timestamp"] = _int_ns(image.timestamp_ns, source, f"{field}.timestamp_ns")
    return obj


def _radar_objects(radar: RadarPointsWorld, source: str) -> list[dict[str, object]]:
    positions = _le_array(radar.positions, "<f4", 2, n=None, source=source, field="radar.positions")
    _check_finite(positions, source, "radar.positions")
    m = positions.shape[0]
    directions = sizes = None
    if radar.directions is not None:
        directions = _le_array(
            radar.directions, "<f4", 2, n=m, source=source, field="radar.directions"
        )
        _check_finite(directions, source, "radar.directions")
    if radar.sizes is not None:
        sizes = _le_array(radar.sizes, "<f4", 1, n=m, source=source, field="radar.sizes")
        _check_finite(sizes, source, "radar.sizes")
    # float32 -> float64 is exact, and repr of that float64 reads back to the same float32.
    pos_rows = positions.astype(np.float64).tolist()
    dir_rows = None if directions is None else directions.astype(np.float64).tolist()
    size_rows = None if sizes is None else sizes.astype(np.float64).tolist()
    out: list[dict[str, object]] = []
    for i in range(m):
        point: dict[str, object] = {"position": _xyz(pos_rows[i])}
        if dir_rows is not None:
            point["direction"] = _xyz(dir_rows[i])
        if size_rows is not None:
            point["size"] = size_rows[i]
        out.append(point)
    return out


def encode_frame(
    frame: LidarFrameData,
    *,
    include_point_timestamps: bool = False,
    allow_relative_image_urls: bool = False,
    source: str = "<frame>",
) -> bytes:
    """Encode one frame as split_base64 JSON bytes (layout in the module docstring).

    Raises ``InputError`` naming ``source`` and the field for input the format cannot carry
    exactly: non-float32 points, non-finite values, intensities outside [0, 1], a non-unit
    heading, a missing timestamp, an ``image_url`` that is not http(s). With
    ``allow_relative_image_urls=True`` a relative path (``is_relative_image_url``) is accepted
    too: a converted folder references its images that way until upload gives them URLs.
    Point colours are dropped with a ``FrameFieldDroppedWarning``.
    """
    points = _le_array(frame.points_world, "<f4", 2, n=None, source=source, field="points_world")
    _check_finite(points, source, "points_world")
    n = points.shape[0]

    if frame.intensities is None:
        intensities: npt.NDArray[Any] = np.zeros(n, dtype="<f4")
    else:
        intensities = _le_array(
            frame.intensities, "<f4", 1, n=n, source=source, field="intensities"
        )
        if n and not (float(intensities.min()) >= 0.0 and float(intensities.max()) <= 1.0):
            bad = np.flatnonzero(~((intensities >= 0.0) & (intensities <= 1.0)))[0]
            _bad_input(
                f"intensities must be finite and in [0, 1], but row {int(bad)} holds "
                f"{float(intensities[bad])!r}.",
                source,
                "intensities",
            )

    timestamps_b64 = b""
    if include_point_timestamps:
        if frame.point_timestamps_ns is None:
            _bad_input(
                "point_timestamps_ns is None but include_point_timestamps=True was asked for.",
                source,
                "point_timestamps_ns",
            )
        stamps = _le_array(
            frame.point_timestamps_ns, "<u8", 1, n=n, source=source, field="point_timestamps_ns"
        )
        timestamps_b64 = b',"timestamps":"' + _b64(stamps) + b'"'

    if frame.timestamp_ns is None:
        _bad_input("timestamp_ns is required to encode a frame, not None.", source, "timestamp_ns")
    timestamp = _int_ns(frame.timestamp_ns, source, "timestamp_ns")

    if frame.point_colors_rgb is not None:
        warnings.warn(
            f"Frame {source!r}: point colours are not part of the split_base64 format and were "
            "dropped.",
            FrameFieldDroppedWarning,
            stacklevel=2,
        )

    w, x, y, z = _quat_wxyz(frame.device_heading_quat_xyzw, source, "device_heading_quat_xyzw")
    pose = {
        "device_position": _xyz(_vec3(frame.device_position_m, source, "device_position_m")),
        "device_heading": {"w": w, "x": x, "y": y, "z": z},
        "timestamp": timestamp,
    }
    cameras = [
        _camera_object(im, source, f"images[{i}]", allow_relative=allow_relative_image_urls)
        for i, im in enumerate(frame.images)
    ]
    radar_b = b""
    if frame.radar is not None and len(frame.radar.positions) > 0:
        radar_json = json.dumps(_radar_objects(frame.radar, source), **_COMPACT)  # type: ignore[arg-type]
        radar_b = b',"radar_points":' + radar_json.encode()

    head = json.dumps(pose, **_COMPACT).encode()  # type: ignore[arg-type]
    return b"".join(
        (
            head[:-1],  # the pose object without its closing brace
            b',"points":"',
            _b64(points),
            b'","intensities":"',
            _b64(intensities),
            b'"',
            timestamps_b64,
            b',"images":',
            json.dumps(cameras, **_COMPACT).encode(),  # type: ignore[arg-type]
            radar_b,
            b"}",
        )
    )
