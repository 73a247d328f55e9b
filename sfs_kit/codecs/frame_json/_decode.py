"""``decode_frame``: the bytes of one frame file (ours or the legacy layout) to a
``LidarFrameData`` record; every violation raises ``FrameFormatError`` naming the key."""

from __future__ import annotations

import binascii
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Final, NoReturn, cast

import numpy as np
import numpy.typing as npt

from sfs_kit._documents import strict_int
from sfs_kit.codecs.frame_json._records import (
    _UINT64_LIMIT,
    CAMERA_MODELS,
    DISTORTION_NAMES,
    CameraModel,
    FrameFieldDroppedWarning,
    FrameImage,
    LidarFrameData,
    Quat,
    RadarPointsWorld,
    Vec3,
)
from sfs_kit.errors import FrameFormatError

logger = logging.getLogger(__name__)


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
