"""The notes a conversion reports (and logs): loaders' decisions, dropped colours and non-finite
points, PCD viewpoints that were not applied."""

from __future__ import annotations

import logging

from sfs_kit.capture.convert.plan import Plan

logger = logging.getLogger(__name__)


def viewpoint_notes(plan: Plan) -> list[str]:
    """One note per lidar whose PCD files carry a non-identity VIEWPOINT (not applied)."""
    by_sensor: dict[str, list[tuple[int, list[float]]]] = {}
    for sensor, k, viewpoint in plan.viewpoints:
        by_sensor.setdefault(sensor, []).append((k, viewpoint))
    notes = []
    for sensor, frames in by_sensor.items():
        first_k, first = frames[0]
        notes.append(
            f"lidar {sensor!r}: {len(frames)} frame(s) have a non-identity PCD VIEWPOINT "
            f"(frame {first_k}: {first!r} as [tx, ty, tz, qx, qy, qz, qw]); it is not applied "
            "(PCL keeps it as metadata beside the points): check the manifest's frame and "
            "extrinsics for this lidar."
        )
    for note in notes:
        logger.warning("%s", note)
    return notes


def load_notes(plan: Plan, *, colours_dropped: bool) -> list[str]:
    """The loaders' decisions (one note each) and, for split_base64, the dropped colours."""
    notes = list(plan.load_notes)
    for note in notes:
        logger.info("%s", note)
    if colours_dropped:
        for sensor, count in plan.coloured.items():
            note = (
                f"lidar {sensor!r}: {count} frame(s) have point colours, which split_base64 "
                "does not carry (spec 4.2): they were dropped; convert to .sfs to keep them."
            )
            logger.warning("%s", note)
            notes.append(note)
    return notes


def nonfinite_notes(plan: Plan) -> list[str]:
    """One note per lidar whose frames had non-finite positions dropped: per frame and total."""
    by_sensor: dict[str, list[tuple[int, int]]] = {}
    for sensor, k, count in plan.nonfinite:
        by_sensor.setdefault(sensor, []).append((k, count))
    notes = []
    for sensor, frames in by_sensor.items():
        total = sum(count for _, count in frames)
        shown = ", ".join(f"frame {k}: {count}" for k, count in frames[:10])
        more = f", ... ({len(frames) - 10} more frames)" if len(frames) > 10 else ""
        notes.append(
            f"lidar {sensor!r}: dropped {total} point(s) with NaN/inf positions in "
            f"{len(frames)} frame(s) ({shown}{more}); keep_nonfinite=True (--keep-nonfinite) "
            "refuses such frames instead."
        )
    for note in notes:
        logger.info("%s", note)
    return notes
