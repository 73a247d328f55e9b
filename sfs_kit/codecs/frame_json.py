"""Per-frame LiDAR JSON in the ``split_base64`` style (spec §4.2, D19–D20); reads legacy frames too.

This module is model-free: it turns a plain ``LidarFrameData`` record into bytes and back. Scene
conversion lives in ``sfs_kit.codecs.frames_from_scene``.

Layout written by ``encode_frame`` (one UTF-8/ASCII JSON object, compact separators, no newline,
keys in exactly this order)::

    {"device_position":{"x":F,"y":F,"z":F},      world frame, metres, float64 repr (never rounded)
     "device_heading":{"w":F,"x":F,"y":F,"z":F},  world orientation, scalar FIRST
     "timestamp":I,                               int, absolute nanoseconds (D20)
     "points":"B64",                              N*3 little-endian float32, C order, 16*N chars
     "intensities":"B64",                         N little-endian float32 in [0, 1], always present
     "timestamps":"B64",                          N little-endian uint64 ns; only on request
     "images":[CAMERA, ...],                      [] without cameras
     "radar_points":[RADAR, ...]}                 only when the frame has radar points

    CAMERA = {"image_url", "position":{x,y,z}, "heading":{w,x,y,z}, "camera_model",
              "fx", "fy", "cx", "cy", "skew", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6",
              "lx", "ly", "xi", "scale_factor", "timestamp" (int ns; omitted when unknown)}
    RADAR  = {"position":{x,y,z}, "direction":{x,y,z} (optional), "size":F (optional)}

``image_url`` is an http(s) URL, or (``allow_relative_image_urls=True``) a path relative to the
frame's folder, as a converted folder holds before upload.

B64 is RFC 4648 §4 base64 (standard alphabet, ``=`` padding, no line breaks); an empty array is
``""``. Floats use Python's shortest round-trip repr, so every float64 and float32 value survives.

``decode_frame`` reads that layout and the legacy one (§4.1): pose keys by name (camelCase
``devicePosition``/``deviceHeading`` accepted; a missing heading is the identity, as in Scale's
debug reader), ``points`` as base64 (length a multiple of 12; ``intensities`` exactly 4N bytes,
``timestamps`` exactly 8N) or as a legacy list ``[{x,y,z,i?,t?,d?,is_ground?}]``, and legacy
``point_colors`` (flat ``[r,g,b,...]`` or ``[[r,g,b],...]`` of 0..255 ints). Unknown keys are
ignored (logged at DEBUG). Every violation raises ``FrameFormatError`` with ``source`` (the file)
and ``key`` (a path such as ``images[2].fx``).

Lost data is reported with ``warnings.warn(..., FrameFieldDroppedWarning)``: point colours on
encode (no confirmed base64 field), and non-zero legacy device ids ``d`` or ``is_ground`` flags on
decode. Bad *in-memory* input to ``encode_frame`` raises ``InputError`` naming the field.
Decoding does not range-check intensities (legacy files carry whatever their writer chose);
encoding does.
"""

from __future__ import annotations

import binascii
import json
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NoReturn, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from sfs_kit._atomic import write_bytes_atomic
from sfs_kit._documents import strict_int
from sfs_kit._paths import read_input
from sfs_kit.errors import FrameFormatError, InputError

__all__ = [
    "CAMERA_MODELS",
    "CameraModel",
    "FrameFieldDroppedWarning",
    "FrameImage",
    "LidarFrameData",
    "RadarPointsWorld",
    "decode_frame",
    "encode_frame",
    "frame_file_name",
    "is_relative_image_url",
    "read_frame",
    "write_frame",
]

logger = logging.getLogger(__name__)

CameraModel: TypeAlias = Literal["brown_conrady", "fisheye", "omnidirectional"]
#: The camera models a legacy camera object can carry (the ones Scale's protobuf knows).
CAMERA_MODELS: Final[tuple[str, ...]] = ("brown_conrady", "fisheye", "omnidirectional")
#: Distortion parameters of a camera object, by name, in output order.
DISTORTION_NAMES: Final[tuple[str, ...]] = (
    "k1",
    "k2",
    "p1",
    "p2",
    "k3",
    "k4",
    "k5",
    "k6",
    "lx",
    "ly",
    "xi",
)
_QUAT_NORM_TOLERANCE: Final[float] = 1e-3
_UINT64_LIMIT: Final[int] = 2**64

Vec3: TypeAlias = tuple[float, float, float]
Quat: TypeAlias = tuple[float, float, float, float]


class FrameFieldDroppedWarning(UserWarning):
    """Data present in the input cannot be carried by the frame format and was left out."""


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameImage:
    """One camera object of ``images[]`` (spec §4.3): world pose at the image time, intrinsics."""

    image_url: str
    position_m: Vec3
    heading_quat_xyzw: Quat
    camera_model: CameraModel
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float = 0.0
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0
    k5: float = 0.0
    k6: float = 0.0
    lx: float = 0.0
    ly: float = 0.0
    xi: float = 0.0
    scale_factor: float = 1.0
    timestamp_ns: int | None = None


@dataclass(frozen=True, eq=False)
class RadarPointsWorld:
    """Radar points of one frame in the world frame (spec §4.4); arrays share the length M."""

    positions: npt.NDArray[np.float32]
    directions: npt.NDArray[np.float32] | None = None
    sizes: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True, eq=False)
class LidarFrameData:
    """One lidar frame as the frame JSON carries it: world points, device pose, cameras, radar.

    ``timestamp_ns`` is ``None`` only for legacy files that have no ``timestamp``; encoding
    needs it. ``point_colors_rgb`` is read from legacy files and dropped (with a warning) on
    encode. Compare records with ``frames_equal`` (arrays make ``==`` ambiguous).
    """

    points_world: npt.NDArray[np.float32]
    device_position_m: Vec3
    device_heading_quat_xyzw: Quat
    timestamp_ns: int | None
    intensities: npt.NDArray[np.float32] | None = None
    point_timestamps_ns: npt.NDArray[np.uint64] | None = None
    images: Sequence[FrameImage] = ()
    radar: RadarPointsWorld | None = None
    point_colors_rgb: npt.NDArray[np.uint8] | None = None


def _arrays_equal(a: npt.NDArray[np.generic] | None, b: npt.NDArray[np.generic] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    # Bitwise: -0.0 differs from 0.0 and NaN payloads count, which is what "lossless" means.
    return a.tobytes() == b.tobytes()


def frames_equal(a: LidarFrameData, b: LidarFrameData) -> bool:
    """True when both records hold the same values; arrays compare dtype, shape and bits."""
    radar_same = (a.radar is None and b.radar is None) or (
        a.radar is not None
        and b.radar is not None
        and _arrays_equal(a.radar.positions, b.radar.positions)
        and _arrays_equal(a.radar.directions, b.radar.directions)
        and _arrays_equal(a.radar.sizes, b.radar.sizes)
    )
    return (
        radar_same
        and _arrays_equal(a.points_world, b.points_world)
        and a.device_position_m == b.device_position_m
        and a.device_heading_quat_xyzw == b.device_heading_quat_xyzw
        and a.timestamp_ns == b.timestamp_ns
        and _arrays_equal(a.intensities, b.intensities)
        and _arrays_equal(a.point_timestamps_ns, b.point_timestamps_ns)
        and tuple(a.images) == tuple(b.images)
        and _arrays_equal(a.point_colors_rgb, b.point_colors_rgb)
    )


def frame_file_name(index: int) -> str:
    """``frame-00000.json`` for index 0: five digits, more when needed (spec §4.2)."""
    return f"frame-{index:05d}.json"


# --- encoding -----------------------------------------------------------------------------------

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


# --- decoding -----------------------------------------------------------------------------------


def _fail(message: str, source: str, key: str | None) -> NoReturn:
    where = f"Frame {source!r}" + (f" key {key!r}" if key else "")
    raise FrameFormatError(f"{where}: {message}", source=source, key=key)


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _get_number(obj: Mapping[str, object], name: str, source: str, path: str) -> float:
    if name not in obj:
        _fail(f"is missing {name!r}.", source, path)
    value = obj[name]
    if type(value) not in (int, float):
        _fail(f"must be a number, found {_type_name(value)} {value!r}.", source, f"{path}.{name}")
    return float(cast(float, value))


def _get_object(
    obj: Mapping[str, object], names: Sequence[str], source: str
) -> dict[str, object] | None:
    for name in names:
        if name in obj:
            value = obj[name]
            if not isinstance(value, dict):
                _fail(f"must be an object, found {_type_name(value)}.", source, name)
            return cast(dict[str, object], value)
    return None


def _read_xyz(obj: object, source: str, path: str) -> Vec3:
    if not isinstance(obj, dict):
        _fail(f"must be an object with x, y, z, found {_type_name(obj)}.", source, path)
    x, y, z = (_get_number(obj, k, source, path) for k in ("x", "y", "z"))
    return (x, y, z)


def _read_wxyz(obj: object, source: str, path: str) -> Quat:
    """Read a scalar-first ``{w,x,y,z}`` object by name; return it as ``(x, y, z, w)``."""
    if not isinstance(obj, dict):
        _fail(f"must be an object with w, x, y, z, found {_type_name(obj)}.", source, path)
    w, x, y, z = (_get_number(obj, k, source, path) for k in ("w", "x", "y", "z"))
    return (x, y, z, w)


def _read_int(value: object, source: str, path: str) -> int:
    if type(value) is not int:
        _fail(f"must be an integer number of nanoseconds, found {value!r}.", source, path)
    if not 0 <= value < _UINT64_LIMIT:
        _fail(f"must be in [0, 2**64), found {value!r}.", source, path)
    return value


def _unbase64(value: object, itemsize: int, source: str, key: str) -> bytes:
    if not isinstance(value, str):
        _fail(f"must be a base64 string, found {_type_name(value)}.", source, key)
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as err:
        raise FrameFormatError(
            f"Frame {source!r} key {key!r}: is not valid standard base64 ({err}).",
            source=source,
            key=key,
        ) from err
    if len(raw) % itemsize:
        _fail(f"decodes to {len(raw)} bytes, which is not a multiple of {itemsize}.", source, key)
    return raw


def _per_point(value: object, n: int, dtype: str, source: str, key: str) -> npt.NDArray[Any]:
    itemsize = np.dtype(dtype).itemsize
    raw = _unbase64(value, itemsize, source, key)
    if len(raw) != itemsize * n:
        _fail(
            f"decodes to {len(raw)} bytes but {n} points need exactly {itemsize * n}.", source, key
        )
    return np.frombuffer(raw, dtype=dtype)


def _numbers(
    values: list[object], source: str, key: str, name: str, *, allow_float: bool = True
) -> npt.NDArray[np.float64]:
    """A list of JSON numbers as float64, locating the first non-number on failure."""
    allowed = (int, float) if allow_float else (int,)
    if not set(map(type, values)) <= set(allowed):
        i, bad = next((i, v) for i, v in enumerate(values) if type(v) not in allowed)
        kind = "a number" if allow_float else "an integer"
        where = f"{key}[{i}].{name}" if name else f"{key}[{i}]"
        _fail(f"must be {kind}, found {_type_name(bad)} {bad!r}.", source, where)
    return np.array(values, dtype=np.float64)


def _column(
    items: list[dict[str, object]],
    name: str,
    source: str,
    *,
    required: bool,
    default: object = None,
) -> list[object] | None:
    """One field of every legacy point; ``None`` when no point has it (and it is optional).

    A point lacking the field gets ``default`` when one is given (``d`` = 0, ``is_ground`` =
    false, as documented); otherwise a partly present field is an error.
    """
    if not items and not required:
        return None
    values = [p.get(name) for p in items]
    missing = [i for i, v in enumerate(values) if v is None] if None in values else []
    if not missing:
        return values
    if not required and len(missing) == len(items):
        return None
    if default is not None:
        return [default if v is None else v for v in values]
    i = missing[0]
    why = "is required" if required else "is present on other points"
    _fail(f"lacks {name!r}, which {why}.", source, f"points[{i}]")


def _legacy_points(
    items: list[object], source: str
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None, npt.NDArray[np.uint64] | None]:
    """Vectorised read of legacy ``[{x,y,z,i?,t?,d?,is_ground?}]`` points (floats -> float32)."""
    if not all(type(p) is dict for p in items):
        i, bad = next((i, p) for i, p in enumerate(items) if type(p) is not dict)
        _fail(f"must be an object, found {_type_name(bad)}.", source, f"points[{i}]")
    points = cast(list[dict[str, object]], items)
    n = len(points)
    xyz = np.empty((n, 3), dtype="<f4")
    for axis, name in enumerate("xyz"):
        values = cast(list[object], _column(points, name, source, required=True))
        column = _numbers(values, source, "points", name)
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:
            _fail(
                f"must be finite, found {float(column[bad[0]])!r}.",
                source,
                f"points[{bad[0]}].{name}",
            )
        xyz[:, axis] = column
    intensities = None
    column_i = _column(points, "i", source, required=False)
    if column_i is not None:
        intensities = _numbers(column_i, source, "points", "i").astype("<f4")
    stamps = None
    column_t = _column(points, "t", source, required=False)
    if column_t is not None:
        stamps = _integral(column_t, source, "t")
    column_d = _column(points, "d", source, required=False, default=0)
    if column_d is not None and np.any(_numbers(column_d, source, "points", "d") != 0):
        warnings.warn(
            f"Frame {source!r}: legacy device ids 'd' are not kept by LidarFrameData and were "
            "dropped.",
            FrameFieldDroppedWarning,
            stacklevel=3,
        )
    column_g = _column(points, "is_ground", source, required=False, default=False)
    if column_g is not None:
        if not set(map(type, column_g)) <= {bool}:
            i, bad = next((i, v) for i, v in enumerate(column_g) if type(v) is not bool)
            _fail(f"must be a boolean, found {bad!r}.", source, f"points[{i}].is_ground")
        if any(column_g):
            warnings.warn(
                f"Frame {source!r}: legacy 'is_ground' flags are not kept by LidarFrameData and "
                "were dropped.",
                FrameFieldDroppedWarning,
                stacklevel=3,
            )
    for array in (xyz, intensities, stamps):
        if array is not None:
            array.flags.writeable = False  # like the base64 path: decoded arrays are read-only
    return xyz, intensities, stamps


def _integral(values: list[object], source: str, name: str) -> npt.NDArray[np.uint64]:
    """Legacy ``t`` values: ints, or floats with integral values (pandas writes ``0.0``)."""
    if set(map(type, values)) <= {int}:
        ints = cast(list[int], values)
        if min(ints) < 0 or max(ints) >= _UINT64_LIMIT:
            i = next(i for i, v in enumerate(ints) if not 0 <= v < _UINT64_LIMIT)
            _fail(f"must be in [0, 2**64), found {ints[i]!r}.", source, f"points[{i}].{name}")
        return np.array(ints, dtype="<u8")
    floats = _numbers(values, source, "points", name)
    bad = np.flatnonzero(~((floats >= 0) & (floats < _UINT64_LIMIT) & (np.floor(floats) == floats)))
    if bad.size:
        i = int(bad[0])
        _fail(
            f"must be a whole number of nanoseconds in [0, 2**64), found {values[i]!r}.",
            source,
            f"points[{i}].{name}",
        )
    return floats.astype("<u8")


def _colors(value: object, n: int, source: str) -> npt.NDArray[np.uint8]:
    key = "point_colors"
    if not isinstance(value, list):
        _fail(f"must be an array, found {_type_name(value)}.", source, key)
    flat: list[object] = value
    if value and isinstance(value[0], list):
        if not all(isinstance(c, list) and len(c) == 3 for c in value):
            i = next(i for i, c in enumerate(value) if not (isinstance(c, list) and len(c) == 3))
            _fail("must be an [r, g, b] array.", source, f"{key}[{i}]")
        flat = [c for rgb in cast(list[list[object]], value) for c in rgb]
    if len(flat) != 3 * n:
        _fail(f"holds {len(flat)} values but {n} points need {3 * n}.", source, key)
    ints = _numbers(flat, source, key, "", allow_float=False) if flat else np.zeros(0)
    if ints.size and not (ints.min() >= 0 and ints.max() <= 255):
        i = int(np.flatnonzero((ints < 0) | (ints > 255))[0])
        _fail(f"must be an int in 0..255, found {flat[i]!r}.", source, f"{key}[{i}]")
    colors = ints.astype(np.uint8).reshape(n, 3)
    colors.flags.writeable = False
    return colors


def _read_image(obj: object, source: str, path: str) -> FrameImage:
    if not isinstance(obj, dict):
        _fail(f"must be an object, found {_type_name(obj)}.", source, path)
    url = obj.get("image_url")
    if not isinstance(url, str):
        _fail(f"must be a string, found {url!r}.", source, f"{path}.image_url")
    model = obj.get("camera_model", "brown_conrady")
    if model not in CAMERA_MODELS:
        _fail(
            f"must be one of {', '.join(CAMERA_MODELS)}, found {model!r}.",
            source,
            f"{path}.camera_model",
        )
    if "position" not in obj:
        _fail("is missing 'position'.", source, path)
    if "heading" not in obj:
        _fail("is missing 'heading'.", source, path)
    numbers = {name: _get_number(obj, name, source, path) for name in ("fx", "fy", "cx", "cy")}
    defaults = {"skew": 0.0, **dict.fromkeys(DISTORTION_NAMES, 0.0), "scale_factor": 1.0}
    for name, default in defaults.items():
        numbers[name] = _get_number(obj, name, source, path) if name in obj else default
    timestamp = obj.get("timestamp")
    timestamp_ns = None if timestamp is None else _read_int(timestamp, source, f"{path}.timestamp")
    return FrameImage(
        image_url=url,
        position_m=_read_xyz(obj["position"], source, f"{path}.position"),
        heading_quat_xyzw=_read_wxyz(obj["heading"], source, f"{path}.heading"),
        camera_model=cast(CameraModel, model),
        timestamp_ns=timestamp_ns,
        **numbers,
    )


def _read_radar(value: object, source: str) -> RadarPointsWorld | None:
    key = "radar_points"
    if not isinstance(value, list):
        _fail(f"must be an array, found {_type_name(value)}.", source, key)
    if not value:
        return None
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            _fail(f"must be an object, found {_type_name(item)}.", source, f"{key}[{i}]")
        if "position" not in item:
            _fail("is missing 'position'.", source, f"{key}[{i}]")
    items = cast(list[dict[str, object]], value)
    m = len(items)
    positions = [
        _read_xyz(p["position"], source, f"{key}[{i}].position") for i, p in enumerate(items)
    ]
    optional: dict[str, list[int]] = {}
    for name in ("direction", "size"):
        present = [i for i, p in enumerate(items) if name in p]
        if present and len(present) != m:
            i = next(i for i, p in enumerate(items) if name not in p)
            _fail(f"lacks {name!r}, which other radar points have.", source, f"{key}[{i}]")
        optional[name] = present
    directions = sizes = None
    if optional["direction"]:
        rows = [
            _read_xyz(p["direction"], source, f"{key}[{i}].direction") for i, p in enumerate(items)
        ]
        directions = np.array(rows, dtype="<f4")
    if optional["size"]:
        values = [_get_number(p, "size", source, f"{key}[{i}]") for i, p in enumerate(items)]
        sizes = np.array(values, dtype="<f4")
    return RadarPointsWorld(
        positions=np.array(positions, dtype="<f4"), directions=directions, sizes=sizes
    )


_KNOWN_KEYS: Final[frozenset[str]] = frozenset(
    {
        "device_position",
        "devicePosition",
        "device_heading",
        "deviceHeading",
        "timestamp",
        "points",
        "intensities",
        "timestamps",
        "images",
        "radar_points",
        "point_colors",
    }
)


_IDENTITY: Final[Quat] = (0.0, 0.0, 0.0, 1.0)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def decode_frame(data: bytes | str, *, source: str = "<frame>") -> LidarFrameData:
    """Decode split_base64 or legacy frame JSON; any malformation raises ``FrameFormatError``.

    Arrays decoded from base64 are read-only views of the decoded bytes (no extra copy).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray | memoryview) else data
        if not isinstance(text, str):
            _fail(f"expected bytes or str, found {type(data).__name__}.", source, None)
        tree = json.loads(text, parse_constant=_reject_constant, parse_int=strict_int)
    except UnicodeDecodeError as err:
        raise FrameFormatError(
            f"Frame {source!r}: is not UTF-8 (byte {err.start}).", source=source, offset=err.start
        ) from err
    except json.JSONDecodeError as err:
        raise FrameFormatError(
            f"Frame {source!r}: is not valid JSON ({err.msg} at char {err.pos}).",
            source=source,
            offset=err.pos,
        ) from err
    except (ValueError, RecursionError) as err:
        msg = f"Frame {source!r}: is not valid JSON ({err})."
        raise FrameFormatError(msg, source=source) from err
    if not isinstance(tree, dict):
        _fail(f"must be a JSON object, found {_type_name(tree)}.", source, None)
    for name in tree.keys() - _KNOWN_KEYS:
        logger.debug("Frame %r: ignoring unknown key %r.", source, name)

    position_obj = _get_object(tree, ("device_position", "devicePosition"), source)
    if position_obj is None:
        _fail("is missing 'device_position'.", source, None)
    pos_key = "device_position" if "device_position" in tree else "devicePosition"
    position = _read_xyz(position_obj, source, pos_key)
    heading_obj = _get_object(tree, ("device_heading", "deviceHeading"), source)
    head_key = "device_heading" if "device_heading" in tree else "deviceHeading"
    heading = _IDENTITY if heading_obj is None else _read_wxyz(heading_obj, source, head_key)
    stamp = tree.get("timestamp")
    timestamp = None if stamp is None else _read_int(stamp, source, "timestamp")

    if "points" not in tree:
        _fail("is missing 'points'.", source, None)
    raw_points = tree["points"]
    intensities: npt.NDArray[np.float32] | None = None
    stamps: npt.NDArray[np.uint64] | None = None
    if isinstance(raw_points, list):
        for name in ("intensities", "timestamps"):
            if name in tree:
                _fail("is not allowed with a legacy list of 'points'.", source, name)
        points, intensities, stamps = _legacy_points(raw_points, source)
    else:
        raw = _unbase64(raw_points, 12, source, "points")
        points = np.frombuffer(raw, dtype="<f4").reshape(-1, 3)
        n = points.shape[0]
        if "intensities" in tree:
            intensities = _per_point(tree["intensities"], n, "<f4", source, "intensities")
        if "timestamps" in tree:
            stamps = _per_point(tree["timestamps"], n, "<u8", source, "timestamps")
    n = points.shape[0]

    images_value = tree.get("images", [])
    if not isinstance(images_value, list):
        _fail(f"must be an array, found {_type_name(images_value)}.", source, "images")
    images = tuple(_read_image(im, source, f"images[{i}]") for i, im in enumerate(images_value))
    radar = _read_radar(tree["radar_points"], source) if "radar_points" in tree else None
    colors = _colors(tree["point_colors"], n, source) if "point_colors" in tree else None
    return LidarFrameData(
        points_world=points,
        device_position_m=position,
        device_heading_quat_xyzw=heading,
        timestamp_ns=timestamp,
        intensities=intensities,
        point_timestamps_ns=stamps,
        images=images,
        radar=radar,
        point_colors_rgb=colors,
    )


# --- paths --------------------------------------------------------------------------------------


def write_frame(
    path: str | os.PathLike[str],
    frame: LidarFrameData,
    *,
    include_point_timestamps: bool = False,
    allow_relative_image_urls: bool = False,
) -> int:
    """Encode ``frame`` and write it atomically to ``path``; returns the number of bytes written."""
    data = encode_frame(
        frame,
        include_point_timestamps=include_point_timestamps,
        allow_relative_image_urls=allow_relative_image_urls,
        source=str(path),
    )
    try:
        return write_bytes_atomic(path, data, mode=0o600)  # frames hold presigned image URLs
    except OSError as err:
        msg = f"Cannot write frame file {str(path)!r}: {err.strerror or err}."
        raise InputError(msg, source=str(path)) from err


def read_frame(path: str | os.PathLike[str]) -> LidarFrameData:
    """Read and decode one frame file; errors name the file."""
    data = read_input(path, what="frame file")
    return decode_frame(data, source=str(path))
