"""Per-point channel conversions shared by the capture layouts (private).

Intensity: SFS stores uint8. Values are mapped by a declared maximum (``intensity_max``, the value
that becomes 255) when one is given, else by the reader's nominal range for the format; otherwise
uint8 passes through, floats in [0, 1] are scaled
by 255 and values in [0, 255] are kept. Anything else is an ``InputError`` asking for
``intensity_max``: we never guess a scale silently. Point time: a declared unit and reference
(``frame``: relative to the frame timestamp; ``absolute``: same clock as the frame timestamps).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

__all__ = ["TIME_UNIT_US", "TimeUnit", "intensity_to_uint8", "point_time_to_us"]

TimeUnit = Literal["s", "ms", "us", "ns"]
TIME_UNIT_US: dict[str, float] = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}


def intensity_to_uint8(
    values: npt.NDArray[np.generic],
    *,
    source: str,
    intensity_max: float | None = None,
    intensity_range: tuple[float, float] | None = None,
) -> npt.NDArray[np.uint8]:
    """Intensity as SFS uint8, by the rule in the module docstring.

    ``intensity_range`` is the reader's nominal range for the format (e.g. KITTI 0..1, uint16
    fields 0..65535); it maps linearly onto 0..255 when no ``intensity_max`` is declared.
    """
    if intensity_max is None and intensity_range is not None and intensity_range[0] >= 0:
        intensity_max = intensity_range[1] if intensity_range[1] > 0 else None
        if intensity_max == 255.0 and values.dtype == np.uint8:
            intensity_max = None
    if values.dtype == np.uint8 and intensity_max is None:
        return np.asarray(values, dtype=np.uint8)
    v = np.asarray(values, dtype=np.float64)
    if v.size and not np.isfinite(v.min() + v.max()):  # NaN/inf propagate through min/max
        raise InputError(
            f"{source}: intensity contains NaN or infinity.", source=source, field="intensity"
        )
    if intensity_max is not None:
        if not intensity_max > 0:
            raise InputError(
                f"{source}: intensity_max must be > 0, got {intensity_max!r}.",
                source=source,
                field="intensity_max",
            )
        top = float(v.max()) if v.size else 0.0
        low = float(v.min()) if v.size else 0.0
        if low < 0 or top > intensity_max:
            raise InputError(
                f"{source}: intensity values span [{low!r}, {top!r}], outside [0, "
                f"{intensity_max!r}] (intensity_max).",
                source=source,
                field="intensity",
            )
        scaled = v * (255.0 / intensity_max)
        np.rint(scaled, out=scaled)
        return scaled.astype(np.uint8)
    lo = float(v.min()) if v.size else 0.0
    hi = float(v.max()) if v.size else 0.0
    if lo < 0 or hi > 255:
        raise InputError(
            f"{source}: intensity values span [{lo!r}, {hi!r}], outside [0, 255]; declare "
            f"intensity_max for this sensor in the manifest.",
            source=source,
            field="intensity",
        )
    is_float = np.issubdtype(values.dtype, np.floating)
    scaled = v * 255.0 if is_float and hi <= 1.0 else v
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def point_time_to_us(
    values: npt.NDArray[np.generic],
    *,
    unit: TimeUnit,
    reference: Literal["frame", "absolute"],
    frame_timestamp_us: int,
    source: str,
) -> npt.NDArray[np.int64]:
    """Per-point times as absolute integer µs (floor), on the frame timestamps' clock."""
    if np.issubdtype(values.dtype, np.integer):
        raw = values.astype(np.int64)
        if unit == "ns":
            t = raw // 1000
        elif unit == "us":
            t = raw
        else:
            t = raw * int(TIME_UNIT_US[unit])
    else:
        f = np.asarray(values, dtype=np.float64)
        if f.size and not np.isfinite(f).all():
            raise InputError(
                f"{source}: per-point time contains NaN or infinity.", source=source, field="time"
            )
        t = np.floor(f * TIME_UNIT_US[unit] + 1e-6).astype(np.int64)
    if reference == "frame":
        t = t + np.int64(frame_timestamp_us)
    return t
