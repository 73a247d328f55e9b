"""Time alignment between sensors: order checks, nearest-timestamp matching, pose interpolation.

Every timestamp here is an absolute integer in microseconds. A query time inside the pose span
is interpolated (lerp for the translation, slerp for the rotation, float64); a query outside it is
an ``InputError`` naming the frame, unless it lies within ``tolerance_us`` of an end, where the end
pose is used. Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.models.geometry import interpolate_pose
from sfs_kit.models.pose import PosePath

__all__ = ["Match", "PoseSamples", "check_increasing", "match_nearest", "sample_poses"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class Match(NamedTuple):
    """For each query time: the index of the nearest reference time and the gap in µs (>= 0)."""

    indices: npt.NDArray[np.intp]
    gap_us: I64


class PoseSamples(NamedTuple):
    """Poses at the query times: translations (M, 3) in metres and quaternions (M, 4) xyzw."""

    positions_m: F64
    quat_xyzw: F64


def check_increasing(
    timestamps_us: Sequence[int] | I64, *, source: str, names: Sequence[str] | None = None
) -> None:
    """Raise ``InputError`` at the first timestamp that is not after the previous one."""
    ts = np.asarray(timestamps_us, dtype=np.int64)
    if ts.shape[0] < 2:
        return
    bad = np.flatnonzero(np.diff(ts) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        where = names[i] if names is not None else f"entry {i}"
        verb = "repeats" if ts[i] == ts[i - 1] else "goes backwards from"
        raise InputError(
            f"{source}: timestamp of {where} ({int(ts[i])} us) {verb} the previous one "
            f"({int(ts[i - 1])} us); timestamps must increase strictly.",
            source=source,
            field="timestamp",
            line=i,
        )


def match_nearest(reference_us: I64, query_us: I64) -> Match:
    """Nearest reference time for each query time (ties go to the earlier one); vectorised."""
    ref = np.asarray(reference_us, dtype=np.int64)
    q = np.asarray(query_us, dtype=np.int64)
    if ref.shape[0] == 0:
        raise InputError(
            "Cannot match timestamps against an empty reference list.", field="timestamp"
        )
    right = np.clip(np.searchsorted(ref, q, side="left"), 0, ref.shape[0] - 1)
    left = np.clip(right - 1, 0, ref.shape[0] - 1)
    gap_left = np.abs(q - ref[left])
    gap_right = np.abs(ref[right] - q)
    use_left = gap_left <= gap_right
    index = np.where(use_left, left, right).astype(np.intp)
    return Match(indices=index, gap_us=np.where(use_left, gap_left, gap_right))


def sample_poses(
    pose_timestamps_us: I64,
    positions_m: F64,
    quat_xyzw: F64,
    query_us: I64,
    *,
    names: Sequence[str],
    source: str,
    tolerance_us: int = 0,
) -> PoseSamples:
    """Poses at ``query_us``: interpolated inside the pose span, the end pose within tolerance.

    ``names`` (one per query, e.g. ``"frame 3 (velodyne/000003.bin)"``) make the error say which
    frame has no pose.
    """
    ts = np.asarray(pose_timestamps_us, dtype=np.int64)
    q = np.asarray(query_us, dtype=np.int64)
    first, last = int(ts[0]), int(ts[-1])
    outside = np.flatnonzero((q < first - tolerance_us) | (q > last + tolerance_us))
    if outside.size:
        i = int(outside[0])
        raise InputError(
            f"{source}: {names[i]} at {int(q[i])} us has no pose: the poses span "
            f"[{first}, {last}] us (tolerance {tolerance_us} us); {outside.size} frame(s) are "
            f"outside it.",
            source=source,
            field="timestamp",
        )
    path = PosePath(
        timestamps=ts, values=np.concatenate([positions_m, quat_xyzw], axis=1).astype(np.float64)
    )
    pos, rot = interpolate_pose(path, q)
    return PoseSamples(positions_m=pos, quat_xyzw=rot)
