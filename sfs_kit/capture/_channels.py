"""Per-point channel conversions shared by the capture layouts (private).

Intensity: SFS stores uint8. The scale is decided once per sensor, never from one frame's values:
values are mapped by a declared maximum (``intensity_max``, the value that becomes 255) when one
is given, else by the reader's nominal range for the format (KITTI 0..1, uint16 fields 0..65535).
Without either, integers are taken as 0..255 values (uint8 passes through) and floats are an
``InputError`` asking for ``intensity_max``: a float channel may be 0..1 or 0..255, and the
values of one frame cannot tell which (a dark frame of a 0..255 sensor looks like 0..1).
LAS/LAZ intensity is a 16-bit field that the LAS specification normalises to 0..65535, yet most
writers store 8-bit values in it. ``SensorIntensity`` decides per sensor, once, over all of the
sensor's files, never from one (a dark first file of zeros says nothing): when the first loaded
frame has a value above 255 the field is 16-bit; otherwise the other LAS/LAZ files' largest
intensity is read (``read_las_intensity_max``: the field alone, stopping at the first value above
255). Every value <= 255 in every file means the values are 8-bit and are kept, otherwise the
field is scaled 0..65535 -> 0..255. The decision, and the file that made it, is reported as a
note; ``intensity_max`` skips it.
Point time: a declared unit and reference
(``frame``: relative to the frame timestamp; ``absolute``: same clock as the frame timestamps).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

__all__ = [
    "TIME_UNIT_US",
    "SensorIntensity",
    "TimeUnit",
    "intensity_to_uint8",
    "point_time_to_us",
]

TimeUnit = Literal["s", "ms", "us", "ns"]
TIME_UNIT_US: dict[str, float] = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}
_LAS = (".las", ".laz")
_TWO_63 = 2.0**63


def _finite_range(values: npt.NDArray[np.generic]) -> tuple[float, float] | None:
    """``(min, max)`` as Python floats (``(0.0, 0.0)`` when empty); ``None`` if either is NaN/inf.

    Computed on the array itself (no float64 copy first); NaN propagates through min and max.
    """
    if not values.size:
        return 0.0, 0.0
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def intensity_to_uint8(
    values: npt.NDArray[np.generic],
    *,
    source: str,
    intensity_max: float | None = None,
    intensity_range: tuple[float, float] | None = None,
) -> npt.NDArray[np.uint8]:
    """Intensity as SFS uint8, by the rule in the module docstring.

    ``intensity_range`` is the reader's nominal range for the format (e.g. KITTI 0..1, uint16
    fields 0..65535); it maps linearly onto 0..255 when no ``intensity_max`` is declared. One
    min/max pass checks the values, then one float64 buffer is scaled, rounded and cast.
    """
    if intensity_max is None and intensity_range is not None and intensity_range[0] >= 0:
        intensity_max = intensity_range[1] if intensity_range[1] > 0 else None
        if intensity_max == 255.0 and values.dtype == np.uint8:
            intensity_max = None
    if values.dtype == np.uint8 and intensity_max is None:
        return np.asarray(values, dtype=np.uint8)
    span = _finite_range(values)
    if span is None:
        raise InputError(
            f"{source}: intensity contains NaN or infinity.", source=source, field="intensity"
        )
    low, top = span
    if intensity_max is not None:
        if not intensity_max > 0:
            raise InputError(
                f"{source}: intensity_max must be > 0, got {intensity_max!r}.",
                source=source,
                field="intensity_max",
            )
        if low < 0 or top > intensity_max:
            raise InputError(
                f"{source}: intensity values span [{low!r}, {top!r}], outside [0, "
                f"{intensity_max!r}] (intensity_max).",
                source=source,
                field="intensity",
            )
        factor = 255.0 / intensity_max
    else:
        if values.dtype.kind not in "biu":
            raise InputError(
                f"{source}: float intensity ({values.dtype}) has no declared scale; set "
                "intensity_max for this sensor (the raw value that becomes 255): it is never "
                "inferred from one frame's values.",
                source=source,
                field="intensity_max",
            )
        if low < 0 or top > 255:
            raise InputError(
                f"{source}: intensity values span [{low!r}, {top!r}], outside [0, 255]; declare "
                f"intensity_max for this sensor in the manifest.",
                source=source,
                field="intensity",
            )
        factor = 1.0
    # in [0, 255] after the checks
    if factor == 1.0 and values.dtype.kind in "biu":
        return values.astype(np.uint8)
    if factor == 1.0 and values.dtype.kind == "f":
        # rint of a float16/32 value is the rint of its exact float64 value: skip the float64 copy
        # and round straight into the uint8 result (exact: the values are in [0, 255])
        out = np.empty(values.shape, dtype=np.uint8)
        np.rint(values, out=out, casting="unsafe")
        return out
    scaled: npt.NDArray[np.float64] = np.multiply(values, factor, dtype=np.float64)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)


class SensorIntensity:
    """One lidar's intensity scale, decided once over its files (module docstring), reported."""

    def __init__(
        self, sensor_id: str, intensity_max: float | None, files: Sequence[str] = ()
    ) -> None:
        self.sensor_id = sensor_id
        self.intensity_max = intensity_max
        self.files = tuple(files)
        self._las_max: float | None = None
        self._decided_by = ""
        self._lock = threading.Lock()
        self.note: str | None = None

    def to_uint8(
        self,
        values: npt.NDArray[np.generic],
        *,
        source: str,
        format: str,
        intensity_range: tuple[float, float] | None,
    ) -> npt.NDArray[np.uint8]:
        """This frame's intensity as uint8 on the sensor's scale."""
        if self.intensity_max is not None or format != "las":
            return intensity_to_uint8(
                values,
                source=source,
                intensity_max=self.intensity_max,
                intensity_range=intensity_range,
            )
        top = float(values.max()) if values.size else 0.0
        with self._lock:
            if self._las_max is None:
                self._decide(top, source)
        if self._las_max == 255.0 and top > 255.0:  # a file changed since it was scanned
            raise InputError(
                f"{source}: intensity reaches {top:g}, but lidar {self.sensor_id!r} was taken "
                f"as 8-bit ({self._decided_by}); declare intensity_max (e.g. 65535) for this "
                "lidar in the manifest.",
                source=source,
                field="intensity_max",
            )
        return intensity_to_uint8(values, source=source, intensity_max=self._las_max)

    def _decide(self, top: float, source: str) -> None:
        """The scale from this frame's largest value, else from the sensor's other LAS files."""
        from sfs_kit.readers.las import read_las_intensity_max  # LAS captures only

        widest, widest_in = top, source
        others = [f for f in self.files if f != source and Path(f).suffix.lower() in _LAS]
        for other in others if top <= 255.0 else ():
            value = float(read_las_intensity_max(other))
            if value > 255.0:
                widest, widest_in = value, other
                break
        if widest > 255.0:
            self._las_max = 65535.0
            self._decided_by = f"up to {widest:g} in {widest_in}"
            self.note = (
                f"lidar {self.sensor_id!r}: the LAS 16-bit intensity field holds 16-bit values "
                f"({self._decided_by}): scaled 0..65535 -> 0..255 for every frame."
            )
        else:
            self._las_max = 255.0
            where = source if not others else f"all {len(others) + 1} files of the lidar"
            self._decided_by = f"every value <= 255 in {where}"
            self.note = (
                f"lidar {self.sensor_id!r}: the LAS 16-bit intensity field holds 8-bit values "
                f"({self._decided_by}): kept as 0..255; declare intensity_max to choose another "
                "scale."
            )


def point_time_to_us(
    values: npt.NDArray[np.generic],
    *,
    unit: TimeUnit,
    reference: Literal["frame", "absolute"],
    frame_timestamp_us: int,
    source: str,
) -> npt.NDArray[np.int64]:
    """Per-point times as absolute integer µs (floor), on the frame timestamps' clock."""
    t: npt.NDArray[np.int64]
    if np.issubdtype(values.dtype, np.integer):
        # one pass each into a fresh int64 array (C casts, as astype: the same values)
        if unit == "ns":
            t = np.floor_divide(values, 1000, dtype=np.int64)
        elif unit == "us":
            t = values.astype(np.int64)
        else:
            t = np.multiply(values, int(TIME_UNIT_US[unit]), dtype=np.int64)
    else:
        # scale, nudge and floor in one float64 buffer; NaN/inf survive into its min/max
        scaled: npt.NDArray[np.float64] = np.multiply(values, TIME_UNIT_US[unit], dtype=np.float64)
        scaled += 1e-6
        np.floor(scaled, out=scaled)
        span = _finite_range(scaled)
        if span is None and not np.isfinite(values).all():
            raise InputError(
                f"{source}: per-point time contains NaN or infinity.", source=source, field="time"
            )
        if span is None or span[0] < -_TWO_63 or span[1] >= _TWO_63:
            raise InputError(
                f"{source}: per-point times do not fit int64 microseconds once scaled from "
                f"{unit!r} (largest magnitude {float(np.abs(values).max())!r}).",
                source=source,
                field="time",
            )
        t = scaled.astype(np.int64)
    if reference == "frame":
        t += np.int64(frame_timestamp_us)  # t is always a fresh array here
    return t
