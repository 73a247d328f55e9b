"""What every validation rule shares: the limits, ``Issue``, path helpers, reporting, and
the timestamp rules (V-T*) that sensors and cameras both apply."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeGuard

import numpy as np

from sfs_kit.models._array_facts import ArrayFacts

Severity = Literal["error", "warning"]
Mode = Literal["compat", "spec"]

MAX_FIRST_TIMESTAMP_US: Final = 100_000_000  # 1e8 us: "normalized" (V-T3)
MAX_FPS: Final = 100.0  # V-T4
MAX_SAFE_INT: Final = 2**53 - 1  # V-S7
MAX_COORDINATE_M: Final = 1e5  # V-O1
QUAT_NORM_TOLERANCE: Final = 1e-3  # V-P4
FPS_TOLERANCE: Final = 0.10  # V-C5

COMPAT_SENSOR_TYPES: Final = frozenset({"camera", "lidar", "radar"})
SPEC_SENSOR_TYPES: Final = COMPAT_SENSOR_TYPES | {"odometry", "points"}
ANNOTATION_TYPES: Final = frozenset(
    {
        "cuboid",
        "attributes",
        "box_2d",
        "point_2d",
        "polyline_2d",
        "polygon_2d",
        "polygon",
        "polygon_topdown",
        "polyline",
        "point",
        "point_topdown",
        "link",
        "labeled_points",
        "point_segmentation",
        "localization_adjustment",
        "object",
        "event",
    }
)
_ANNOTATION_3D_ROWS: Final = frozenset(
    {"polygon", "polygon_topdown", "polyline", "point", "point_topdown"}
)

_SCENE_KEYS: Final = frozenset(
    {"version", "sensors", "annotations", "attributes", "time_offset", "time_unit", "metadata"}
)
_SENSOR_KEYS: Final[dict[str, frozenset[str]]] = {
    "lidar": frozenset({"type", "id", "parent_id", "poses", "frames", "coordinates"}),
    "radar": frozenset({"type", "id", "parent_id", "poses", "frames", "coordinates"}),
    "camera": frozenset({"type", "id", "parent_id", "poses", "intrinsics", "images", "video"}),
    "odometry": frozenset({"type", "id", "parent_id", "poses"}),
    "points": frozenset({"type", "id", "parent_id", "points"}),
}
_POINT_KEYS: Final[dict[str, frozenset[str]]] = {
    "lidar": frozenset({"positions", "colors", "intensities", "timestamps"}),
    "radar": frozenset({"positions", "directions", "lengths", "timestamps"}),
    "points": frozenset({"positions", "colors"}),
}
_INTRINSICS_KEYS: Final = frozenset({"fx", "fy", "cx", "cy", "width", "height", "distortion"})


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: rule ``code``, ``severity``, a ``path`` such as
    ``sensors[lidar_top].frames[3].points.intensities``, and a plain-language ``message``."""

    code: str
    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity} {self.code} at {self.path or '<scene>'}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """JSON view (for ``sfs-kit validate --json``)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
        }


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _kind(v: object) -> str:
    if isinstance(v, np.ndarray):
        return f"a {v.dtype.name} array of shape {v.shape}"
    return f"{type(v).__name__} {v!r}" if _is_number(v) or isinstance(v, bool) else type(v).__name__


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _field(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _list_or_empty(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _span(stamps: list[int] | None) -> tuple[int, int] | None:
    return (stamps[0], stamps[-1]) if stamps else None


class _Rules:
    """Collects issues while walking one tree; each rule family extends it."""

    def __init__(self, mode: Mode, facts: ArrayFacts | None = None) -> None:
        self.mode = mode
        self.facts = facts if facts is not None else ArrayFacts()
        self.issues: list[Issue] = []
        self.ticks_per_s = 1e6
        self.max_coord = (0.0, "")  # (largest |world coordinate| in metres, where)
        self.sensor_ids: list[object] = []

    # --- reporting --------------------------------------------------------------------------

    def error(self, code: str, path: str, message: str) -> None:
        self.issues.append(Issue(code, "error", path, message))

    def warn(self, code: str, path: str, message: str) -> None:
        self.issues.append(Issue(code, "warning", path, message))

    def _coord(self, value: float, path: str) -> None:
        if value > self.max_coord[0]:
            self.max_coord = (value, path)

    def timestamp_list(self, stamps: object, path: str, *, content: bool) -> list[int] | None:
        """Check a header list of timestamps (V-T1..V-T5); returns it when all are ints."""
        if not isinstance(stamps, list):
            self.error("V-N2", path, f"timestamps must be a list of ints, found {_kind(stamps)}")
            return None
        ok = True
        for i, t in enumerate(stamps):
            if not _is_int(t):
                self.error("V-T5", _index(path, i), f"a timestamp must be an int, found {_kind(t)}")
                ok = False
        if not ok:
            return None
        self.time_rules(stamps, path, content=content)
        return stamps

    def time_rules(self, stamps: Sequence[int], path: str, *, content: bool) -> None:
        """V-T1 (>= 0), V-T2 (strictly increasing), V-T3 (normalized), V-T4 (rate)."""
        if not stamps:
            return
        negative = [t for t in stamps if t < 0]
        if negative:
            self.error("V-T1", path, f"timestamps must not be negative, found {negative[0]}")
        for i in range(1, len(stamps)):
            if stamps[i] <= stamps[i - 1]:
                self.error(
                    "V-T2",
                    path,
                    f"timestamps must be strictly increasing; [{i}] = {stamps[i]} follows "
                    f"[{i - 1}] = {stamps[i - 1]}",
                )
                break
        limit = MAX_FIRST_TIMESTAMP_US * self.ticks_per_s / 1e6
        if stamps[0] > limit:
            self.error(
                "V-T3",
                path,
                f"timestamps must be normalized (relative to time_offset): the first is "
                f"{stamps[0]} > {limit:.0f}",
            )
        if content and len(stamps) >= 2:
            mean_diff = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
            fps = self.ticks_per_s / mean_diff if mean_diff > 0 else math.inf
            if fps > MAX_FPS:
                self.error(
                    "V-T4", path, f"approximate rate {fps:.4g} fps is above {MAX_FPS:.0f} fps"
                )

    def span_rule(self, stamps: Sequence[int], path: str, span: tuple[int, int] | None) -> None:
        """V-T6: content timestamps inside the pose span (warning)."""
        if span is None or not stamps:
            return
        outside = [t for t in stamps if t < span[0] or t > span[1]]
        if outside:
            self.warn(
                "V-T6",
                path,
                f"{len(outside)} timestamp(s) lie outside the pose span [{span[0]}, {span[1]}], "
                f"first {outside[0]}; poses there are extrapolated",
            )
