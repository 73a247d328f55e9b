"""What a headerless float32 point file really holds, for ``inspect`` (no layout is assumed).

A ``.bin`` has no header: KITTI's 4 floats, nuScenes' 5, Waymo's 6 (x y z intensity elongation
...) and ScanNet/mmdetection3d's x y z r g b all look alike. ``observe_raw_floats`` reads the
bytes with the layout the name implies (or the one declared), reports each column's observed
range and non-finite count, and flags what cannot be that layout: a size that is not a whole
number of records (with the column counts that would fit), a column outside the range the
layout defines (KITTI reflectance 0..1, nuScenes intensity 0..255, whole-number rings, colours
0..255), NaN/inf values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["LAYOUT_RANGES", "observe_raw_floats"]

#: the value range a column of each known layout must hold (by column name)
LAYOUT_RANGES: Mapping[str, Mapping[str, tuple[float, float]]] = {
    "kitti_bin": {"reflectance": (0.0, 1.0)},
    "nuscenes_bin": {"intensity": (0.0, 255.0), "ring": (0.0, 255.0)},
}
_WHOLE = ("ring", "laser_id", "beam", "channel")
_COLOURS = ("r", "g", "b", "red", "green", "blue")
_CANDIDATES = (3, 4, 5, 6, 7, 8, 9)


def observe_raw_floats(
    data: bytes, columns: Sequence[str], *, layout: str
) -> dict[str, object]:
    """Observed per-column ranges of ``data`` read as float32 ``columns``, and layout warnings."""
    k = len(columns)
    record = 4 * k
    size = len(data)
    warnings: list[str] = []
    fits = [n for n in _CANDIDATES if size % (4 * n) == 0]
    out: dict[str, object] = {"layout": layout, "record_bytes": record, "bytes": size,
                              "column_counts_that_fit": fits}
    if size % record:
        other = ", ".join(f"{n} ({4 * n} B)" for n in fits if n != k) or "none of 3..9"
        warnings.append(
            f"{size} bytes is not a whole number of {record}-byte records ({k} float32 "
            f"columns, {layout}); float32 column counts that fit: {other}.")
        out["columns"] = {}
        out["warnings"] = warnings
        return out
    table = np.frombuffer(data, dtype="<f4").reshape(-1, k)
    ranges = LAYOUT_RANGES.get(layout, {})
    observed: dict[str, object] = {}
    for i, name in enumerate(columns):
        if not name or name == "_":
            continue
        values = table[:, i]
        finite = np.isfinite(values)
        bad = int(values.size - np.count_nonzero(finite))
        kept = values[finite] if bad else values
        lo = float(kept.min()) if kept.size else None
        hi = float(kept.max()) if kept.size else None
        observed[name] = {"min": lo, "max": hi, "nonfinite": bad}
        if bad:
            warnings.append(f"column {name!r} has {bad} NaN/inf value(s) of {values.size}.")
        if lo is None or hi is None:
            continue
        want = ranges.get(name)
        if want is not None and (lo < want[0] or hi > want[1]):
            warnings.append(
                f"column {name!r} spans {lo:.6g}..{hi:.6g}, outside the {want[0]:g}..{want[1]:g} "
                f"{layout} defines: the file is probably another layout (declare --columns).")
        lowered = name.lower()
        if lowered in _WHOLE and not np.array_equal(kept, np.floor(kept)):
            warnings.append(f"column {name!r} holds fractions, not whole ring numbers.")
        if lowered in _COLOURS and (lo < 0 or hi > 255):
            warnings.append(f"colour column {name!r} spans {lo:.6g}..{hi:.6g}, outside 0..255.")
    out["columns"] = observed
    out["warnings"] = warnings
    return out
