"""numpy array field types for the scene models (house style section 8).

Each type is ``Annotated[NDArray, PlainValidator, PlainSerializer]``: the validator checks the
number of dimensions and the shape, converts to the field's explicit little-endian dtype only when
``np.can_cast(src, dst, "safe")`` holds (a float64 array for a float32 field is refused, never
rounded), and returns a **read-only** array. The caller's array is copied, so it stays writable;
the copy is skipped when the buffer is already read-only all the way down (``np.frombuffer`` on
``bytes``, a read-only memory map, or an array a model already froze).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import PlainSerializer, PlainValidator

__all__ = [
    "ColorsRGB",
    "Float32Vector",
    "ImageContent",
    "PointTimestamps",
    "PointsXYZ",
    "PoseTimestamps",
    "PoseValues",
    "Uint8Vector",
    "array_to_json",
    "frozen_array",
    "is_frozen",
]

_log = logging.getLogger(__name__)

# (None means "any length"); a leading None with shape[-1] == 3 also accepts flat (3N,) input.
Shape = tuple[int | None, ...]


def is_frozen(arr: npt.NDArray[Any]) -> bool:
    """True when ``arr`` and every ndarray it views are read-only (nobody can write through it)."""
    base: object = arr
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    # The chain ends in bytes, an mmap, or None (the array owns its data and is read-only).
    return not isinstance(base, bytearray | memoryview) or (
        isinstance(base, memoryview) and base.readonly
    )


def _shape_text(shape: Shape) -> str:
    parts = ["N" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def frozen_array(
    value: object,
    *,
    dtypes: Sequence[str],
    shape: Shape,
    accept_flat3: bool = False,
    accept_bytes: bool = False,
) -> npt.NDArray[Any]:
    """Check ``value`` against ``dtypes``/``shape`` and return a read-only little-endian array.

    The first dtype in ``dtypes`` that ``value``'s dtype equals (ignoring byte order) is kept;
    otherwise the first one it can be cast to safely. Raises ``ValueError`` (pydantic reports it
    with the field location) for anything else.
    """
    if accept_bytes and isinstance(value, bytes | bytearray | memoryview):
        value = (
            np.frombuffer(value, dtype=np.uint8)
            if isinstance(value, bytes)
            else np.array(memoryview(value).cast("B"), dtype=np.uint8)
        )
    if not isinstance(value, np.ndarray):
        raise ValueError(f"expected a numpy array, found {type(value).__name__}")
    arr: npt.NDArray[Any] = value
    target = _pick_dtype(arr.dtype, dtypes)
    if accept_flat3 and arr.ndim == 1 and len(shape) == 2 and shape[1] == 3:
        if arr.shape[0] % 3 != 0:
            raise ValueError(
                f"a flat array must have a length that is a multiple of 3, found {arr.shape[0]}"
            )
        arr = arr.reshape(-1, 3)
    if arr.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)
    ):
        raise ValueError(f"expected shape {_shape_text(shape)}, found {arr.shape}")
    if arr.dtype == target and is_frozen(arr) and arr.flags.c_contiguous:
        return arr
    out = np.ascontiguousarray(arr, dtype=target)
    if out is arr or np.may_share_memory(out, value):
        out = out.copy()
    out.flags.writeable = False
    return out


def _pick_dtype(src: np.dtype[Any], dtypes: Sequence[str]) -> np.dtype[Any]:
    src_le = src.newbyteorder("<") if src.byteorder == ">" else src
    for name in dtypes:
        dst = np.dtype(name)
        if src_le == dst:
            return dst
    for name in dtypes:
        dst = np.dtype(name)
        if np.can_cast(src, dst, casting="safe"):
            return dst
    wanted = " or ".join(np.dtype(d).name for d in dtypes)
    raise ValueError(f"expected dtype {wanted} (safe casts only), found {src.name}")


def array_to_json(arr: npt.NDArray[Any]) -> list[Any]:
    """JSON view of an array (nested lists); used only by ``model_dump(mode="json")``."""
    result: list[Any] = arr.tolist()
    return result


def _image_content(value: object) -> npt.NDArray[np.uint8]:
    """Encoded JPEG/PNG bytes as 1-D uint8; decoded (H, W, C) uint8 pixels pass with a warning."""
    if isinstance(value, np.ndarray) and value.ndim == 3:
        _log.warning(
            "Camera image content is a decoded %s array; sfs_kit stores encoded JPEG/PNG bytes "
            "(spec D7), and the validator reports this as V-C4.",
            value.shape,
        )
        return frozen_array(value, dtypes=("<u1",), shape=(None, None, None))
    return frozen_array(value, dtypes=("<u1",), shape=(None,), accept_bytes=True)


def _number_rows(value: object) -> npt.NDArray[np.float64]:
    """Pose values: a (K, 7) float64 array from nested lists of numbers (bools refused)."""
    if isinstance(value, np.ndarray):
        return frozen_array(value, dtypes=("<f8",), shape=(None, 7))
    if not isinstance(value, list | tuple):
        raise ValueError(
            f"expected a list of [x, y, z, qx, qy, qz, qw] rows, found {type(value).__name__}"
        )
    for i, row in enumerate(value):
        if not isinstance(row, list | tuple) or len(row) != 7:
            raise ValueError(
                f"row {i} must hold 7 numbers [x, y, z, qx, qy, qz, qw], found {row!r}"
            )
        for v in row:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"row {i} must hold numbers only, found {v!r}")
    try:
        out = np.array(value, dtype=np.float64).reshape(-1, 7)
    except OverflowError as err:  # a JSON integer of 400 digits
        raise ValueError("a pose value does not fit in float64") from err
    out.flags.writeable = False
    return out


def _int_list(value: object) -> npt.NDArray[np.int64]:
    """Timestamps held in the JSON header: a list of ints (bools and floats refused) -> int64."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu":
            raise ValueError(f"expected integer timestamps, found dtype {value.dtype.name}")
        return frozen_array(value, dtypes=("<i8",), shape=(None,))
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of int timestamps, found {type(value).__name__}")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"timestamp {i} must be an int, found {v!r}")
    try:
        out = np.array(value, dtype=np.int64).reshape(-1)
    except OverflowError as err:
        raise ValueError("a timestamp does not fit in int64") from err
    out.flags.writeable = False
    return out


def _to_list(arr: npt.NDArray[Any]) -> list[Any]:
    result: list[Any] = arr.tolist()
    return result


_json = PlainSerializer(array_to_json, when_used="json")

PointsXYZ = Annotated[
    npt.NDArray[np.float32],
    PlainValidator(partial(frozen_array, dtypes=("<f4",), shape=(None, 3), accept_flat3=True)),
    _json,
]
"""float32 (N, 3) positions or directions, metres; flat (3N,) input is reshaped."""

ColorsRGB = Annotated[
    npt.NDArray[np.uint8],
    PlainValidator(partial(frozen_array, dtypes=("<u1",), shape=(None, 3), accept_flat3=True)),
    _json,
]
"""uint8 (N, 3) RGB colours; flat (3N,) input is reshaped."""

Uint8Vector = Annotated[
    npt.NDArray[np.uint8],
    PlainValidator(partial(frozen_array, dtypes=("<u1",), shape=(None,), accept_bytes=True)),
    _json,
]
"""uint8 (N,): intensities, or encoded file bytes (``bytes`` accepted without a copy)."""

Float32Vector = Annotated[
    npt.NDArray[np.float32],
    PlainValidator(partial(frozen_array, dtypes=("<f4",), shape=(None,))),
    _json,
]
"""float32 (N,), e.g. radar lengths."""

PointTimestamps = Annotated[
    npt.NDArray[np.uint32] | npt.NDArray[np.uint64],
    PlainValidator(partial(frozen_array, dtypes=("<u4", "<u8"), shape=(None,))),
    _json,
]
"""Per-point timestamps, uint32 or uint64 (uint8/uint16 widen safely to uint32)."""

ImageContent = Annotated[npt.NDArray[np.uint8], PlainValidator(_image_content), _json]
"""Encoded image file bytes, 1-D uint8 (spec D7)."""

PoseValues = Annotated[
    npt.NDArray[np.float64],
    PlainValidator(_number_rows),
    PlainSerializer(_to_list, when_used="always"),
]
"""Pose rows [x, y, z, qx, qy, qz, qw] as a read-only (K, 7) float64 array; dumps as lists."""

PoseTimestamps = Annotated[
    npt.NDArray[np.int64],
    PlainValidator(_int_list),
    PlainSerializer(_to_list, when_used="always"),
]
"""Header timestamps (pose and video) as a read-only int64 array; dumps as a list of ints."""
