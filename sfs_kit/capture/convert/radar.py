"""Radar points of each split_base64 frame (spec 4.4): every radar frame joins the lidar frame
nearest in time (ties to the earlier), so each radar point is written once, in the world frame,
as scale-lidar-io writes a frame's ``radar_points``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from sfs_kit.capture.base import Capture
from sfs_kit.capture.convert.frame import RadarArrays, convert_radar_frame
from sfs_kit.capture.convert.plan import Plan, SensorPlan
from sfs_kit.capture.convert.trees import frame_issues
from sfs_kit.capture.sync import match_nearest
from sfs_kit.codecs.frame_json import RadarPointsWorld
from sfs_kit.errors import InputError
from sfs_kit.models.validate import Issue

F32 = npt.NDArray[np.float32]


def _merge(chunks: list[tuple[str, RadarArrays]]) -> RadarPointsWorld | None:
    """One frame's radar points from the radar frames joining it; empty frames are left out, so
    the optional columns of the others decide (they must agree: a frame JSON's radar points all
    have a direction and a size, or none has)."""
    full = [(source, a) for source, a in chunks if a.positions.shape[0]]
    if not full:
        return None
    optional: list[F32 | None] = []
    for name in ("directions", "lengths"):
        present = [getattr(a, name) is not None for _, a in full]
        if any(present) and not all(present):
            with_it = full[present.index(True)][0]
            without = full[present.index(False)][0]
            raise InputError(
                f"{without}: its radar points have no {name}, but {with_it}, which joins the "
                f"same lidar frame, has them; the frame's radar_points cannot mix the two.",
                source=without,
                field=name,
            )
        optional.append(
            np.concatenate([getattr(a, name) for _, a in full]) if all(present) else None
        )
    return RadarPointsWorld(
        positions=np.concatenate([a.positions for _, a in full]),
        directions=optional[0],
        sizes=optional[1],
    )


def frame_radar(
    cap: Capture, plan: Plan, lidar_plan: SensorPlan, head: dict[str, object]
) -> Iterator[tuple[RadarPointsWorld | None, list[Issue]]]:
    """For each lidar frame in order, its radar points (None without any) and the issues of
    the radar frames in it; radar frames are loaded when their lidar frame comes, so memory
    holds one frame's radar points."""
    owners = [match_nearest(lidar_plan.times_us, rp.times_us).indices for rp in plan.radars]
    for k in range(len(lidar_plan.times_us)):
        chunks: list[tuple[str, RadarArrays]] = []
        issues: list[Issue] = []
        for radar, rp, owner in zip(cap.radars, plan.radars, owners, strict=True):
            for j in (int(i) for i in np.flatnonzero(owner == k)):
                arrays = convert_radar_frame(radar, j, plan, rp)
                issues.extend(frame_issues(radar, rp, j, arrays, head))
                chunks.append((radar.frames[j].source, arrays))
        yield _merge(chunks), issues
