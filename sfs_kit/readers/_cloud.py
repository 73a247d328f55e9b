"""The one result type of every point-cloud reader, and the field-name mapping they share.

Channel units (stated once, here):

- ``positions``: float32 (N, 3), the file's own coordinates minus ``origin_m``, in the file's
  length unit (metres for PCD, KITTI, nuScenes, PLY and NPY by convention; LAS/LAZ in the unit of
  its coordinate reference system, e.g. US survey feet for State Plane files). No frame change.
- ``origin_m``: float64 (3,), the offset already subtracted from ``positions`` (zeros normally).
  When a source stores float64 coordinates with magnitude >= 8192 (where the float32 step exceeds
  1 mm), the readers subtract the whole-unit floor of the bounding-box minimum, so the float32
  positions keep the file's precision and ``positions + origin_m`` gives the file's coordinates.
- ``intensity``: float32 (N,), the raw sensor value as stored; ``intensity_range`` gives the
  nominal range where the format defines it (KITTI 0..1, nuScenes 0..255, LAS 0..65535, integer
  PCD/PLY fields their dtype range), else None.
- ``colors``: uint8 (N, 3), sRGB 0..255. Wider integer colour (16-bit LAS/PLY) is shifted right
  by 8, unless every value is <= 255 (8-bit values stored in 16-bit fields, as many LAS writers
  do), when it is kept; float colours are taken as 0..1 and scaled.
- ``time_s``: float64 (N,), per-point time in seconds, as stored (relative to the sweep or
  absolute, as the file has it; integer time fields given in another unit are scaled by the
  reader's ``time_unit`` argument, and their raw integers are kept in ``extra``).
- ``ring``: uint16 (N,), the laser/beam index.
- ``extra``: every other named field, unchanged (padding fields ``_`` dropped).

Arrays may be read-only, strided views into the file's bytes (zero copy, e.g. positions of a
binary PCD whose x y z fields are adjacent float32); copy them before writing into them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

__all__ = ["PointCloud", "TimeUnit", "cloud_from_fields"]

TimeUnit = Literal["s", "ms", "us", "ns"]
TIME_UNIT_SCALE_S: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

#: float32 keeps a step <= 0.98 mm below this magnitude; beyond it float64 input is recentred.
RECENTRE_ABOVE_M = 8192.0
_FLOAT32_MAX = float(np.finfo(np.float32).max)

_INTENSITY_NAMES = ("intensity", "reflectance", "reflectivity", "i", "remission")
_TIME_NAMES = ("t", "time", "timestamp", "time_s", "gps_time", "gpstime")
_RING_NAMES = ("ring", "laser_id", "laser", "beam", "channel")
_RGB_TRIPLES = (("r", "g", "b"), ("red", "green", "blue"))
_PACKED_RGB = ("rgb", "rgba")


@dataclass(frozen=True, eq=False)
class PointCloud:
    """Points read from one raw file; see the module docstring for each channel's unit.

    Not comparable with ``==`` (it holds arrays); compare fields with ``np.array_equal``.
    """

    positions: npt.NDArray[np.float32]
    source: str
    format: str
    intensity: npt.NDArray[np.float32] | None = None
    intensity_range: tuple[float, float] | None = None
    colors: npt.NDArray[np.uint8] | None = None
    time_s: npt.NDArray[np.float64] | None = None
    ring: npt.NDArray[np.uint16] | None = None
    origin_m: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    extra: Mapping[str, npt.NDArray[np.generic]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.positions.shape[0] if self.positions.ndim == 2 else -1
        if self.positions.dtype != np.float32 or self.positions.shape != (n, 3):
            raise InputError(
                f"positions must be float32 (N, 3), found {self.positions.dtype} "
                f"{self.positions.shape!r}.", source=self.source, field="positions")
        checks: tuple[tuple[str, npt.NDArray[np.generic] | None, type[np.generic], tuple[int, ...]],
                      ...] = (
            ("intensity", self.intensity, np.float32, (n,)),
            ("colors", self.colors, np.uint8, (n, 3)),
            ("time_s", self.time_s, np.float64, (n,)),
            ("ring", self.ring, np.uint16, (n,)),
            ("origin_m", self.origin_m, np.float64, (3,)),
        )
        for name, value, dtype, shape in checks:
            if value is not None and (value.dtype != dtype or value.shape != shape):
                raise InputError(
                    f"{name} must be {np.dtype(dtype)} {shape!r}, found {value.dtype} "
                    f"{value.shape!r}.", source=self.source, field=name)

    @property
    def num_points(self) -> int:
        """The number of points N."""
        return int(self.positions.shape[0])

    def channels(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every present per-point array by name (positions first), for describing or comparing."""
        out: dict[str, npt.NDArray[np.generic]] = {"positions": self.positions}
        for name in ("intensity", "colors", "time_s", "ring"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name, value in self.extra.items():
            out[f"extra.{name}"] = value
        return out


def _dtype_range(dtype: np.dtype[np.generic]) -> tuple[float, float] | None:
    if dtype.kind in "ui":
        info = np.iinfo(dtype)  # type: ignore[type-var]
        return (float(info.min), float(info.max))
    return None


def positions_from_xyz(
    x: npt.NDArray[np.generic],
    y: npt.NDArray[np.generic],
    z: npt.NDArray[np.generic],
    *,
    source: str,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Stack x, y, z into float32 (N, 3); float64 beyond ``RECENTRE_ABOVE_M`` is recentred."""
    n = x.shape[0]
    origin = np.zeros(3)
    wide = any(a.dtype.itemsize > 4 or a.dtype.kind in "ui" for a in (x, y, z))
    if wide and n:
        stacked = np.empty((n, 3), dtype=np.float64)
        stacked[:, 0], stacked[:, 1], stacked[:, 2] = x, y, z
        finite = np.isfinite(stacked)
        if finite.all():
            low = stacked.min(axis=0)
            high = stacked.max(axis=0)
            if max(float(np.abs(low).max()), float(np.abs(high).max())) >= RECENTRE_ABOVE_M:
                origin = np.floor(low)
                stacked -= origin
            reach = float(np.abs(stacked).max())
            if reach > _FLOAT32_MAX:
                raise InputError(
                    f"Point coordinates reach {reach:.6g} (after the origin shift), beyond "
                    "float32's range: the file's coordinates or scale factors are corrupt.",
                    source=source, field="positions")
        return stacked.astype(np.float32), origin
    view = _adjacent_float32_view(x, y, z)
    if view is not None:
        return view, origin
    out = np.empty((n, 3), dtype=np.float32)
    for column, values in enumerate((x, y, z)):
        out[:, column] = values
    return out, origin


def _adjacent_float32_view(*axes: npt.NDArray[np.generic]) -> npt.NDArray[np.float32] | None:
    """A zero-copy read-only (N, 3) view when x, y, z are adjacent float32 fields of one buffer.

    This is the common PCD/PLY/NPY record layout; the view keeps the record stride.
    """
    x = axes[0]
    if any(a.dtype != np.float32 or a.ndim != 1 or a.strides != x.strides or a.base is None
           or a.base is not x.base for a in axes):
        return None
    start = x.__array_interface__["data"][0]
    if any(a.__array_interface__["data"][0] != start + 4 * i for i, a in enumerate(axes)):
        return None
    view: npt.NDArray[np.float32] = np.lib.stride_tricks.as_strided(
        x, shape=(x.shape[0], 3), strides=(x.strides[0], 4), writeable=False)
    return view


def colors_from_channels(
    channels: Sequence[npt.NDArray[np.generic]], *, source: str, name: str,
    color_max: float | None = None,
) -> npt.NDArray[np.uint8]:
    """Three colour channels (uint8, uint16, or float 0..``color_max``) -> uint8 (N, 3) sRGB.

    Float colour is 0..1 unless ``color_max`` declares its scale (255 for ScanNet/mmdetection3d
    xyzrgb tables); it is never guessed from the values.
    """
    top = 1.0 if color_max is None else float(color_max)
    if not (math.isfinite(top) and top > 0):
        raise InputError(f"color_max must be a finite number > 0, got {color_max!r}.",
                         source=source, field="color_max")
    n = channels[0].shape[0]
    out = np.empty((n, 3), dtype=np.uint8)
    integers = [c.astype(np.int64) for c in channels if c.dtype.kind in "ui"]
    if n and integers and (min(int(c.min()) for c in integers) < 0
                           or max(int(c.max()) for c in integers) > 65535):
        raise InputError(f"Colour field {name!r} has values outside 0..65535.", source=source,
                         field=name)
    # 16-bit colour whose values all fit 0..255 was stored as 8-bit (common in LAS): keep it.
    shift = 8 if n and integers and max(int(c.max()) for c in integers) > 255 else 0
    floats = [c for c in channels if c.dtype.kind not in "ui"]
    if n and floats:
        spans = [(float(np.min(c)), float(np.max(c))) for c in floats]  # NaN propagates
        lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo >= 0.0 and hi <= top):
            hint = "" if color_max is not None else (
                " (declare color_max, e.g. 255, when the file stores 0..255 floats)")
            raise InputError(
                f"Float colour fields from {name!r} must lie in 0..{top:g}, found {lo:g}..{hi:g}"
                f"{hint}.", source=source, field=name)
    for column, values in enumerate(channels):
        if values.dtype == np.uint8:
            out[:, column] = values
        elif values.dtype.kind in "ui":
            out[:, column] = values.astype(np.int64) >> shift
        else:
            out[:, column] = np.rint(values.astype(np.float64) * (255.0 / top)).astype(np.uint8)
    return out


def colors_from_packed(
    packed: npt.NDArray[np.generic], *, source: str, name: str
) -> npt.NDArray[np.uint8]:
    """PCL's packed ``rgb``/``rgba`` (float32 or uint32 bits 0x00RRGGBB / 0xAARRGGBB) -> uint8."""
    if packed.dtype.itemsize != 4:
        raise InputError(
            f"Packed colour field {name!r} must be 4 bytes wide, found {packed.dtype}.",
            source=source, field=name)
    bits = np.ascontiguousarray(packed).view(np.uint32)
    out = np.empty((bits.shape[0], 3), dtype=np.uint8)
    out[:, 0] = (bits >> 16) & 0xFF
    out[:, 1] = (bits >> 8) & 0xFF
    out[:, 2] = bits & 0xFF
    return out


def ring_from_values(values: npt.NDArray[np.generic], *, source: str, name: str
                     ) -> npt.NDArray[np.uint16]:
    """Ring indices of any numeric dtype -> uint16, refusing fractions and out-of-range values."""
    if values.dtype == np.uint16:
        return values.astype(np.uint16, copy=False)
    wide = values.astype(np.float64)
    if wide.size and (not np.isfinite(wide).all() or wide.min() < 0 or wide.max() > 65535
                      or not np.array_equal(wide, np.floor(wide))):
        raise InputError(
            f"Ring field {name!r} must hold whole numbers 0..65535.", source=source, field=name)
    return wide.astype(np.uint16)


def cloud_from_fields(
    fields: Mapping[str, npt.NDArray[np.generic]],
    *,
    source: str,
    format: str,
    intensity_range: tuple[float, float] | None = None,
    time_unit: TimeUnit = "s",
    color_max: float | None = None,
) -> PointCloud:
    """Map named 1-D per-point arrays to a ``PointCloud`` (x, y, z required; names case-blind).

    Known channels are recognised by name (``intensity``/``reflectance``, ``rgb``/``rgba`` or
    ``r g b``/``red green blue``, ``t``/``time``/``timestamp``, ``ring``); others go to ``extra``.
    """
    by_lower: dict[str, str] = {}
    for name in fields:
        lowered = name.lower()
        if lowered.startswith("scalar_"):
            lowered = lowered[len("scalar_"):]
        by_lower.setdefault(lowered, name)
    missing = [axis for axis in ("x", "y", "z") if axis not in by_lower]
    if missing:
        raise InputError(
            f"Point fields {sorted(fields)!r} lack {missing!r}; x, y and z are required.",
            source=source, field=missing[0])
    used: set[str] = set()

    def take(key: str) -> npt.NDArray[np.generic]:
        used.add(by_lower[key])
        values = fields[by_lower[key]]
        if values.ndim != 1:
            raise InputError(
                f"Point field {by_lower[key]!r} holds {values.shape[1:]!r} values a point "
                f"(e.g. a PCD COUNT > 1), but it names a known channel (x, y, z, intensity, "
                "colour, time or ring), which takes one value a point; rename the field in the "
                "file to keep it as an extra channel.", source=source, field=by_lower[key])
        return values

    positions, origin = positions_from_xyz(take("x"), take("y"), take("z"), source=source)
    intensity = None
    range_found = intensity_range
    for key in _INTENSITY_NAMES:
        if key in by_lower:
            raw = take(key)
            if range_found is None:
                range_found = _dtype_range(raw.dtype)
            intensity = raw.astype(np.float32, copy=False)
            break
    else:
        range_found = None
    colors = None
    for key in _PACKED_RGB:
        if key in by_lower:
            per_channel = fields[by_lower[key]]
            if (per_channel.ndim == 2 and per_channel.shape[1] in (3, 4)
                    and per_channel.dtype.kind in "ui"):
                # rgb COUNT 3 / rgba COUNT 4 of integers: one channel a value, not packed bits
                used.add(by_lower[key])
                colors = colors_from_channels([per_channel[:, i] for i in range(3)], source=source,
                                              name=by_lower[key], color_max=color_max)
            else:
                colors = colors_from_packed(take(key), source=source, name=by_lower[key])
            break
    else:
        for triple in _RGB_TRIPLES:
            if all(k in by_lower for k in triple):
                colors = colors_from_channels([take(k) for k in triple], source=source,
                                              name=by_lower[triple[0]], color_max=color_max)
                break
    time_s = None
    extra: dict[str, npt.NDArray[np.generic]] = {}
    for key in _TIME_NAMES:
        if key in by_lower:
            raw = take(key)
            scale = TIME_UNIT_SCALE_S[time_unit]
            time_s = raw.astype(np.float64, copy=False)
            if scale != 1.0:
                time_s = time_s * scale
            if raw.dtype.kind in "ui":
                extra[by_lower[key]] = raw
            break
    ring = None
    for key in _RING_NAMES:
        if key in by_lower:
            ring = ring_from_values(take(key), source=source, name=by_lower[key])
            break
    for name, value in fields.items():
        if name not in used and not name.startswith("_"):
            extra[name] = value
    return PointCloud(
        positions=positions, source=source, format=format, intensity=intensity,
        intensity_range=range_found, colors=colors, time_s=time_s, ring=ring, origin_m=origin,
        extra=extra,
    )

