"""``sensor_msgs/PointCloud2`` -> ``FramePoints`` through the message's field table, vectorised.

One ``np.frombuffer`` with a structured dtype built from the fields' names, offsets and datatypes,
``point_step`` (padding) and ``is_bigendian`` reads every point at once; organised clouds
(``height > 1``) with row padding are flattened row by row. Per-point time follows the common
drivers' conventions (``POINT_TIME_FIELDS``); intensity comes from ``intensity`` or
``reflectivity``. A time field with an unexpected datatype is an ``InputError`` naming the topic
and the field; ``CloudMapping`` lets the user name the fields instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sfs_kit.capture._channels import TimeUnit, intensity_to_uint8, point_time_to_us
from sfs_kit.capture.base import FramePoints
from sfs_kit.errors import InputError

__all__ = [
    "POINT_TIME_FIELDS",
    "CloudField",
    "CloudMapping",
    "PointTime",
    "cloud_dtype",
    "decode_cloud",
]

# sensor_msgs/PointField datatype codes -> numpy kinds
_DATATYPES: dict[int, str] = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    8: "f8",
}


@dataclass(frozen=True)
class PointTime:
    """A per-point time field: its name, unit, reference and the datatypes drivers use for it."""

    field: str
    unit: TimeUnit
    reference: Literal["frame", "absolute"]
    datatypes: tuple[str, ...] = ()


# the drivers' conventions, first match wins: Ouster, Velodyne, Hesai, Livox
POINT_TIME_FIELDS: tuple[PointTime, ...] = (
    PointTime("t", "ns", "frame", ("u4",)),
    PointTime("time", "s", "frame", ("f4", "f8")),
    PointTime("timestamp", "s", "absolute", ("f8",)),
    PointTime("offset_time", "ns", "frame", ("u4",)),
)


@dataclass(frozen=True)
class CloudField:
    """One ``sensor_msgs/PointField``."""

    name: str
    offset: int
    datatype: int
    count: int


@dataclass(frozen=True)
class CloudMapping:
    """Which fields carry intensity and per-point time (``None``: the drivers' defaults)."""

    intensity_field: str | None = None
    point_time: PointTime | None = None
    intensity_max: float | None = None
    sweep_end: bool = False  # the stamp is the sweep's last point (relative times end there)


def cloud_dtype(
    fields: list[CloudField], point_step: int, *, big_endian: bool, where: str
) -> np.dtype[np.void]:
    """The structured dtype of one point (``itemsize == point_step``); errors name the field."""
    order = ">" if big_endian else "<"
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for f in fields:
        kind = _DATATYPES.get(f.datatype)
        if kind is None:
            raise InputError(
                f"{where}: PointCloud2 field {f.name!r} has datatype {f.datatype}, not one of the "
                f"sensor_msgs/PointField codes 1..8.",
                source=where,
                field=f.name,
            )
        if f.count < 1:
            continue  # a zero-count field holds no data
        size = int(kind[1]) * f.count
        if f.offset < 0 or f.offset + size > point_step:
            raise InputError(
                f"{where}: PointCloud2 field {f.name!r} (offset {f.offset}, {size} bytes) does not "
                f"fit in point_step {point_step}.",
                source=where,
                field=f.name,
            )
        if f.name in names or not f.name:
            raise InputError(
                f"{where}: PointCloud2 field name {f.name!r} is empty or given twice.",
                source=where,
                field=f.name,
            )
        names.append(f.name)
        formats.append(order + kind if f.count == 1 else (order + kind, (f.count,)))
        offsets.append(f.offset)
    spec = {"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step}
    return np.dtype(spec)  # type: ignore[call-overload,no-any-return]


def _points(
    data: npt.NDArray[np.uint8] | bytes,
    dtype: np.dtype[np.void],
    *,
    width: int,
    height: int,
    row_step: int,
    where: str,
) -> npt.NDArray[np.void]:
    """All points as one structured array (organised rows with padding are flattened)."""
    step = dtype.itemsize
    buf = np.frombuffer(data, dtype=np.uint8)
    row = width * step
    if width < 0 or height < 0 or row_step < row:
        raise InputError(
            f"{where}: PointCloud2 row_step {row_step} is smaller than width {width} x "
            f"point_step {step}.",
            source=where,
            field="row_step",
        )
    need = 0 if height == 0 else (height - 1) * row_step + row
    if buf.size < need:
        raise InputError(
            f"{where}: PointCloud2 data has {buf.size} bytes, {need} needed for {height} row(s) "
            f"of {width} points (row_step {row_step}).",
            source=where,
            field="data",
        )
    if row_step == row or height <= 1:
        return np.frombuffer(buf[: width * height * step], dtype=dtype)
    rows = np.lib.stride_tricks.as_strided(buf, shape=(height, row), strides=(row_step, 1))
    return np.frombuffer(np.ascontiguousarray(rows), dtype=dtype)


def _positions(arr: npt.NDArray[np.void], dtype: np.dtype[np.void]) -> npt.NDArray[np.floating]:
    """``(N, 3)`` positions: a strided view of the points when x, y, z are consecutive fields of
    one native float type (every driver's layout), so no pass copies them before they are posed;
    else a copy (float64 when any axis is)."""
    (kx, ox), (ky, oy), (kz, oz) = (dtype.fields[a][:2] for a in ("x", "y", "z"))  # type: ignore[index]
    size = kx.itemsize
    if arr.size and kx == ky == kz and kx.isnative and (oy, oz) == (ox + size, ox + 2 * size):
        view: npt.NDArray[np.floating] = np.ndarray(
            (arr.shape[0], 3), dtype=kx, buffer=arr, offset=ox, strides=(dtype.itemsize, size)
        )
        return view
    wide = any(k.itemsize == 8 for k in (kx, ky, kz))
    positions = np.empty((arr.shape[0], 3), dtype=np.float64 if wide else np.float32)
    for i, axis in enumerate(("x", "y", "z")):
        positions[:, i] = arr[axis]
    return positions


def _point_time(names: dict[str, str], mapping: CloudMapping, where: str) -> PointTime | None:
    if mapping.point_time is not None:
        if mapping.point_time.field not in names:
            raise InputError(
                f"{where}: the point_time field {mapping.point_time.field!r} is not in the cloud "
                f"(fields {sorted(names)}).",
                source=where,
                field=mapping.point_time.field,
            )
        return mapping.point_time
    for convention in POINT_TIME_FIELDS:
        kind = names.get(convention.field)
        if kind is None:
            continue
        if kind not in convention.datatypes:
            raise InputError(
                f"{where}: per-point time field {convention.field!r} is {kind}, but the driver "
                f"convention for it is {'/'.join(convention.datatypes)} ({convention.unit}, "
                f"{convention.reference}); give point_time (field, unit, reference) for this "
                f"topic.",
                source=where,
                field=convention.field,
            )
        return convention
    return None


def _intensity_range(dtype: np.dtype[Any], names: dict[str, str]) -> tuple[float, float] | None:
    """The nominal range of an intensity channel: its integer type, or Velodyne's 0..255 floats."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return (0.0, float(info.max))
    if "ring" in names and "time" in names:  # the velodyne_pointcloud layout: float 0..255
        return (0.0, 255.0)
    return None


def decode_cloud(
    msg: Any,
    *,
    stamp_us: int,
    where: str,
    mapping: CloudMapping | None = None,
    frame_us: int | None = None,
) -> FramePoints:
    """Positions (float32 or float64 as stored), uint8 intensity and absolute µs per point.

    ``msg`` is a deserialised ``sensor_msgs/PointCloud2``; ``stamp_us`` its ``header.stamp``.
    ``frame_us`` is the frame's time on the declared clock (default ``stamp_us``; the log time
    with ``time_source: log``): relative per-point times count from it, and absolute ones move
    by ``frame_us - stamp_us``, so every time of the scene is on the one clock.
    """
    mapping = mapping or CloudMapping()
    fields = [CloudField(f.name, int(f.offset), int(f.datatype), int(f.count)) for f in msg.fields]
    dtype = cloud_dtype(fields, int(msg.point_step), big_endian=bool(msg.is_bigendian), where=where)
    names = {n: dtype.fields[n][0].base.str[1:] for n in dtype.names or ()}  # type: ignore[index]
    for axis in ("x", "y", "z"):
        if axis not in names:
            raise InputError(
                f"{where}: PointCloud2 has no {axis!r} field (fields {sorted(names)}).",
                source=where,
                field=axis,
            )
        if names[axis] not in ("f4", "f8") or dtype.fields[axis][0].shape:  # type: ignore[index]
            raise InputError(
                f"{where}: PointCloud2 field {axis!r} is {names[axis]}; positions must be "
                f"float32 or float64.",
                source=where,
                field=axis,
            )
    arr = _points(
        msg.data,
        dtype,
        width=int(msg.width),
        height=int(msg.height),
        row_step=int(msg.row_step),
        where=where,
    )
    positions = _positions(arr, dtype)
    intensity = None
    name = mapping.intensity_field or next(
        (n for n in ("intensity", "reflectivity") if n in names), None
    )
    if name is not None:
        if name not in names:
            raise InputError(
                f"{where}: the intensity field {name!r} is not in the cloud.",
                source=where,
                field=name,
            )
        values = arr[name]
        intensity = intensity_to_uint8(
            values,
            source=f"{where} field {name!r}",
            intensity_max=mapping.intensity_max,
            intensity_range=_intensity_range(values.dtype, names),
        )
    time_us = None
    convention = _point_time(names, mapping, where)
    if convention is not None:
        time_us = point_time_to_us(
            arr[convention.field],
            unit=convention.unit,
            reference=convention.reference,
            frame_timestamp_us=stamp_us if frame_us is None else frame_us,
            source=f"{where} field {convention.field!r}",
        )
        if convention.reference == "absolute" and frame_us is not None and frame_us != stamp_us:
            time_us = time_us + np.int64(frame_us - stamp_us)
        elif convention.reference == "frame" and mapping.sweep_end and time_us.size:
            anchor = stamp_us if frame_us is None else frame_us
            time_us = time_us + np.int64(anchor - int(time_us.max()))
    return FramePoints(positions_m=positions, intensity=intensity, time_us=time_us)
