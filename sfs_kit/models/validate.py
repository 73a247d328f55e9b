"""Scene validation (spec section 3): every V-* rule, on the plain dict tree, never raising.

The core works on the tree ``read_sfs_dict`` returns (dicts, lists, JSON scalars, numpy arrays),
so malformed input the strict models refuse (bool ids, float timestamps, flat positions whose
length is not a multiple of 3, a camera without content) is reported rule by rule instead of
crashing. ``validate(Scene)`` runs the same code on ``scene.to_sfs_dict()``.

Speed: array rules are vectorised, one ``min``/``max`` reduction pair per array (NaN propagates
through both, so finiteness and the largest magnitude come from the same two passes).
"""

from __future__ import annotations

import itertools
import logging
import math
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeGuard, cast

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.models._array_facts import ArrayFacts
from sfs_kit.models._imagesize import image_end_problem, image_kind, image_size, is_mp4
from sfs_kit.models._video import VideoInfo, have_av, probe_video
from sfs_kit.models.calibration import DISTORTION_PARAM_COUNTS

if TYPE_CHECKING:
    from sfs_kit.models.scene import Scene

__all__ = ["Issue", "Mode", "Severity", "validate", "validate_tree"]

_log = logging.getLogger(__name__)

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


def validate(
    scene: Scene | Mapping[str, Any], *, mode: Mode = "compat", facts: ArrayFacts | None = None
) -> list[Issue]:
    """Every problem in ``scene`` (a ``Scene`` or its dict tree), errors and warnings; never raises.

    ``mode="compat"`` (default) applies every rule; ``"spec"`` relaxes V-N1 (odometry and points
    sensors allowed), V-A4 (uint64 point timestamps allowed) and V-S3 (nanoseconds allowed).
    ``facts`` (``ArrayFacts``) shares what was read from the arrays with another validation of
    the same arrays, so each is read once.
    """
    to_sfs_dict: Callable[[], object] | None = getattr(scene, "to_sfs_dict", None)
    tree = to_sfs_dict() if to_sfs_dict is not None else scene
    return validate_tree(tree, mode=mode, facts=facts)


def validate_tree(
    tree: object, *, mode: Mode = "compat", facts: ArrayFacts | None = None
) -> list[Issue]:
    """``validate`` on a plain tree (what ``read_sfs_dict`` returns)."""
    checker = _Checker(mode, facts)
    try:
        checker.scene(tree)
    except Exception as err:  # noqa: BLE001 - the validator must never crash; report instead
        _log.exception("validator bug while checking a scene")
        checker.error("V-N2", "", f"the validator could not finish ({type(err).__name__}: {err})")
    return checker.issues


# --- helpers -------------------------------------------------------------------------------------


def _image_facts(
    content: npt.NDArray[np.uint8],
) -> tuple[str | None, tuple[int, int] | None, str | None]:
    """An encoded image's kind, size and completeness problem (None where it stops)."""
    kind = image_kind(content)
    if kind is None:
        return None, None, None
    found = image_size(content)
    if found is None:
        return kind, None, None
    return kind, found, image_end_problem(content, kind)


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


class _Checker:
    """Collects issues while walking one tree."""

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

    # --- scene ------------------------------------------------------------------------------

    def scene(self, tree: object) -> None:
        if not isinstance(tree, Mapping):
            self.error("V-N2", "", f"a scene must be a JSON object, found {_kind(tree)}")
            return
        self.generic(tree, "", in_json=False)
        for key in tree:
            if isinstance(key, str) and key not in _SCENE_KEYS:
                self.error("V-N2", _field("", key), f"unknown scene field {key!r}")
        self.version(tree)
        self.time_fields(tree)
        sensors = tree.get("sensors")
        labels = self.sensor_labels(sensors)
        if isinstance(sensors, list) and sensors:
            self.ids(sensors, labels)
            for i, sensor in enumerate(sensors):
                self.sensor(sensor, f"sensors[{labels[i]}]")
        self.annotations(tree.get("annotations"), tree.get("attributes"))
        self.metadata(tree.get("metadata"))
        top, where = self.max_coord
        if top > MAX_COORDINATE_M:
            self.warn(
                "V-O1",
                where,
                f"a world coordinate has magnitude {top:.6g} m, above {MAX_COORDINATE_M:.0e} m, "
                "where float32 spacing exceeds 7.8 mm; call sfs_kit.recentre(scene) first",
            )

    def version(self, tree: Mapping[str, Any]) -> None:
        if "version" not in tree:
            self.error("V-S1", "version", "the scene has no 'version'; expected '1.0'")
            return
        version = tree["version"]
        if not isinstance(version, str):
            self.error(
                "V-S1", "version", f"'version' must be the string '1.0', found {_kind(version)}"
            )
        elif version != "1.0":
            self.error("V-S1", "version", f"'version' must be exactly '1.0', found {version!r}")

    def time_fields(self, tree: Mapping[str, Any]) -> None:
        unit = tree.get("time_unit", "microseconds")
        if unit is None:
            unit = "microseconds"
        if not (isinstance(unit, str) and unit in ("microseconds", "nanoseconds")):
            self.error(
                "V-N2",
                "time_unit",
                f"'time_unit' must be 'microseconds' or 'nanoseconds', found {unit!r}",
            )
        elif unit == "nanoseconds":
            self.ticks_per_s = 1e9
            if self.mode == "compat":
                self.error(
                    "V-S3",
                    "time_unit",
                    "Scale accepts only 'microseconds'; found 'nanoseconds' "
                    "(write_sfs converts it)",
                )
        offset = tree.get("time_offset")
        if offset is not None and (not _is_int(offset) or offset < 0):
            self.error(
                "V-S4", "time_offset", f"'time_offset' must be an int >= 0, found {_kind(offset)}"
            )

    def sensor_labels(self, sensors: object) -> list[str]:
        if not isinstance(sensors, list):
            what = "missing" if sensors is None else f"{_kind(sensors)}, not a list"
            self.error(
                "V-S2", "sensors", f"'sensors' must be a list of at least one sensor; it is {what}"
            )
            return []
        if not sensors:
            self.error("V-S2", "sensors", "'sensors' is empty; a scene needs at least one sensor")
        labels = []
        for i, sensor in enumerate(sensors):
            sid = sensor.get("id") if isinstance(sensor, Mapping) else None
            labels.append(str(sid) if _is_int(sid) or isinstance(sid, str) else f"#{i}")
        return labels

    def ids(self, sensors: list[Any], labels: list[str]) -> None:
        ids: list[object] = []
        by_str: dict[str, int] = {}
        for i, sensor in enumerate(sensors):
            if not isinstance(sensor, Mapping):
                continue
            path = f"sensors[{labels[i]}]"
            if "id" not in sensor:
                self.error("V-N2", _field(path, "id"), "the sensor has no 'id'")
                continue
            sid = sensor["id"]
            if isinstance(sid, bool):
                self.error(
                    "V-N3",
                    _field(path, "id"),
                    f"a sensor id must be a str or int, not a bool ({sid!r})",
                )
                continue
            if not (_is_int(sid) or isinstance(sid, str)):
                self.error(
                    "V-N2",
                    _field(path, "id"),
                    f"a sensor id must be a str or int, found {_kind(sid)}",
                )
                continue
            if sid in ids:
                self.error("V-S5", "sensors", f"sensor id {sid!r} is used more than once")
            elif str(sid) in by_str:
                other = sensors[by_str[str(sid)]]["id"]
                self.error(
                    "V-N3",
                    "sensors",
                    f"sensor ids {other!r} and {sid!r} are equal after str(); ids must stay unique",
                )
            ids.append(sid)
            by_str.setdefault(str(sid), i)
        self.sensor_ids = ids
        # parent_id: names another existing sensor; no cycles
        parents: dict[str, str] = {}
        for i, sensor in enumerate(sensors):
            if not isinstance(sensor, Mapping) or sensor.get("parent_id") is None:
                continue
            path = _field(f"sensors[{labels[i]}]", "parent_id")
            pid = sensor["parent_id"]
            if isinstance(pid, bool) or not (_is_int(pid) or isinstance(pid, str)):
                self.error(
                    "V-N3", path, f"'parent_id' must be a str or int sensor id, found {_kind(pid)}"
                )
            elif str(pid) not in by_str:
                self.error("V-N3", path, f"'parent_id' {pid!r} names no sensor in the scene")
            elif str(pid) == str(sensor.get("id")):
                self.error("V-N3", path, f"a sensor cannot be its own parent ({pid!r})")
            else:
                parents[str(sensor.get("id"))] = str(pid)
        reported: set[str] = set()
        for start in parents:
            seen = [start]
            node = start
            while node in parents:
                node = parents[node]
                if node in seen:
                    cycle = seen[seen.index(node) :]
                    if not reported & set(cycle):
                        reported.update(cycle)
                        self.error(
                            "V-N3",
                            "sensors",
                            "parent_id links form a cycle: " + " -> ".join([*cycle, node]),
                        )
                    break
                seen.append(node)

    # --- generic tree rules (V-S6, V-S7) ----------------------------------------------------

    def generic(self, node: object, path: str, *, in_json: bool) -> None:
        """Keys everywhere; big ints everywhere; NaN/inf and odd types in free-form JSON."""
        kind = type(node)  # exact-type fast path for the common leaves: no ABC checks
        if kind is float:
            if in_json and not math.isfinite(cast(float, node)):
                self.error("V-S6", path, f"JSON values must be finite numbers, found {node!r}")
            return
        if kind is str or kind is bool or node is None:
            return
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not isinstance(key, str):
                    self.error("V-S6", path, f"dict keys must be str, found {_kind(key)}")
                elif key == "$items":
                    self.error(
                        "V-S6",
                        _field(path, key),
                        "the key '$items' is reserved by the .sfs container",
                    )
                key = str(key)  # noqa: PLW2901 - render non-str keys in paths
                if not path and key in ("metadata",):
                    continue  # V-M1 owns metadata
                sub_json = in_json or (not path and key in ("annotations", "attributes"))
                sub_json = sub_json or (not path and key not in _SCENE_KEYS)
                self.generic(value, _field(path, key), in_json=sub_json)
        elif isinstance(node, list | tuple):
            if not in_json and all(type(v) is float for v in node):
                return  # a row of numbers (pose values): nothing here for this walk to check
            for i, value in enumerate(node):
                self.generic(value, _index(path, i), in_json=in_json)
        elif isinstance(node, bool) or node is None or isinstance(node, str | np.ndarray):
            return
        elif isinstance(node, int):
            if abs(node) > MAX_SAFE_INT:
                self.warn(
                    "V-S7",
                    path,
                    f"the int {node} is beyond 2^53 - 1; JavaScript readers lose precision",
                )
        elif isinstance(node, float):
            if in_json and not math.isfinite(node):
                self.error("V-S6", path, f"JSON values must be finite numbers, found {node!r}")
        elif in_json:
            self.error("V-S6", path, f"unsupported value type {type(node).__name__}")

    # --- sensors ----------------------------------------------------------------------------

    def sensor(self, sensor: object, path: str) -> None:
        if not isinstance(sensor, Mapping):
            self.error("V-N2", path, f"a sensor must be an object, found {_kind(sensor)}")
            return
        kind = sensor.get("type")
        allowed = COMPAT_SENSOR_TYPES if self.mode == "compat" else SPEC_SENSOR_TYPES
        if "type" not in sensor:
            self.error("V-N1", _field(path, "type"), "the sensor has no 'type'")
            return
        if not isinstance(kind, str) or kind not in allowed:
            if isinstance(kind, str) and kind in SPEC_SENSOR_TYPES:
                self.error(
                    "V-N1",
                    _field(path, "type"),
                    f"sensor type {kind!r} is not accepted by Scale; use spec mode to keep it",
                )
            else:
                self.error(
                    "V-N1",
                    _field(path, "type"),
                    f"unknown sensor type {kind!r}; expected one of {sorted(allowed)}",
                )
                return
        assert isinstance(kind, str)
        for key in sensor:
            if isinstance(key, str) and key not in _SENSOR_KEYS[kind]:
                hint = " (SFS 1.0 cannot express it)" if key in ("skew", "scale_factor") else ""
                self.error(
                    "V-N2", _field(path, key), f"unknown field {key!r} for a {kind} sensor{hint}"
                )
        span: tuple[int, int] | None = None
        if kind != "points":
            if "poses" not in sensor:
                self.error("V-N2", _field(path, "poses"), f"a {kind} sensor needs 'poses'")
            else:
                span = self.pose_path(sensor["poses"], _field(path, "poses"), world=True)
        if kind in ("lidar", "radar"):
            coords = sensor.get("coordinates", "world")
            if not (isinstance(coords, str) and coords in ("world", "ego")):
                self.error(
                    "V-N2",
                    _field(path, "coordinates"),
                    f"'coordinates' must be 'world' or 'ego', found {coords!r}",
                )
            self.frames(
                sensor.get("frames"),
                _field(path, "frames"),
                kind,
                world=not (isinstance(coords, str) and coords == "ego"),
                span=span,
                has_key="frames" in sensor,
            )
        elif kind == "camera":
            self.camera(sensor, path, span)
        elif kind == "points":
            points = sensor.get("points")
            if not isinstance(points, Mapping):
                self.error(
                    "V-N2",
                    _field(path, "points"),
                    f"a points sensor needs a 'points' object, found {_kind(points)}",
                )
            else:
                self.point_arrays(
                    points,
                    _field(path, "points"),
                    "points",
                    world=True,
                    frame_ts=None,
                    next_ts=None,
                )

    def pose_path(self, poses: object, path: str, *, world: bool) -> tuple[int, int] | None:
        """V-P1..V-P4 and timestamp rules; returns the pose span when the timestamps are usable."""
        if not isinstance(poses, Mapping):
            self.error(
                "V-N2",
                path,
                f"'poses' must be an object {{timestamps, values}}, found {_kind(poses)}",
            )
            return None
        for key in poses:
            if key not in ("timestamps", "values"):
                self.error("V-N2", _field(path, str(key)), f"unknown field {key!r} in a pose path")
        stamps = self.timestamp_list(
            poses.get("timestamps"), _field(path, "timestamps"), content=False
        )
        values = poses.get("values")
        vpath = _field(path, "values")
        if not isinstance(values, list):
            self.error(
                "V-P1",
                vpath,
                f"pose 'values' must be a list of 7-number rows, found {_kind(values)}",
            )
            return _span(stamps)
        rows_ok = True
        for i, row in enumerate(values):
            if not isinstance(row, list) or len(row) != 7 or not all(_is_number(v) for v in row):
                self.error(
                    "V-P2",
                    _index(vpath, i),
                    f"a pose row must be 7 numbers [x, y, z, qx, qy, qz, qw], found {row!r}"[:300],
                )
                rows_ok = False
        n_ts = len(poses["timestamps"]) if isinstance(poses.get("timestamps"), list) else None
        if not values:
            self.error("V-P1", vpath, "a pose path needs at least one pose")
        elif n_ts is not None and n_ts != len(values):
            self.error(
                "V-P1", path, f"pose path has {n_ts} timestamps but {len(values)} value rows"
            )
        if rows_ok and values:
            arr = np.array(values, dtype=np.float64)
            finite = np.isfinite(arr).all(axis=1)
            if not finite.all():
                bad = int(np.argmin(finite))
                self.error(
                    "V-P3", _index(vpath, bad), f"pose values must be finite, found {values[bad]!r}"
                )
            norms = np.linalg.norm(arr[:, 3:7], axis=1)
            off = ~(np.abs(norms - 1.0) <= QUAT_NORM_TOLERANCE) & finite
            if off.any():
                bad = int(np.argmax(off))
                self.error(
                    "V-P4",
                    _index(vpath, bad),
                    f"quaternion norm is {norms[bad]:.6g}; it must be within {QUAT_NORM_TOLERANCE} "
                    "of 1 (smaller deviations are normalised on write)",
                )
            if world and finite.any():
                top = float(np.abs(arr[finite, :3]).max())
                self._coord(top, vpath)
        return _span(stamps)

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

    def frames(
        self,
        frames: object,
        path: str,
        kind: str,
        *,
        world: bool,
        span: tuple[int, int] | None,
        has_key: bool,
    ) -> None:
        if not isinstance(frames, list):
            what = "missing" if not has_key else _kind(frames)
            self.error("V-N2", path, f"'frames' must be a list of frames; it is {what}")
            return
        if not frames:
            self.error("V-N4", path, f"a {kind} sensor must have at least one frame")
            return
        stamps: list[int | None] = []
        for i, frame in enumerate(frames):
            fpath = _index(path, i)
            if not isinstance(frame, Mapping):
                self.error(
                    "V-N2",
                    fpath,
                    f"a frame must be an object {{timestamp, points}}, found {_kind(frame)}",
                )
                stamps.append(None)
                continue
            for key in frame:
                if key not in ("timestamp", "points"):
                    self.error("V-N2", _field(fpath, str(key)), f"unknown field {key!r} in a frame")
            ts = frame.get("timestamp")
            if "timestamp" not in frame:
                self.error("V-N2", _field(fpath, "timestamp"), "the frame has no 'timestamp'")
                stamps.append(None)
            elif not _is_int(ts):
                self.error(
                    "V-T5",
                    _field(fpath, "timestamp"),
                    f"a timestamp must be an int, found {_kind(ts)}",
                )
                stamps.append(None)
            else:
                stamps.append(ts)
        good = [t for t in stamps if t is not None]
        if len(good) == len(stamps):
            self.time_rules(good, path, content=True)
            self.span_rule(good, path, span)
        for i, frame in enumerate(frames):
            if not isinstance(frame, Mapping):
                continue
            fpath = _index(path, i)
            points = frame.get("points")
            if not isinstance(points, Mapping):
                self.error(
                    "V-N2",
                    _field(fpath, "points"),
                    f"the frame needs a 'points' object, found {_kind(points)}",
                )
                continue
            next_ts = stamps[i + 1] if i + 1 < len(stamps) else None
            self.point_arrays(
                points,
                _field(fpath, "points"),
                kind,
                world=world,
                frame_ts=stamps[i],
                next_ts=next_ts,
            )

    def point_arrays(
        self,
        points: Mapping[str, Any],
        path: str,
        kind: str,
        *,
        world: bool,
        frame_ts: int | None,
        next_ts: int | None,
    ) -> None:
        for key in points:
            if key not in _POINT_KEYS[kind]:
                self.error(
                    "V-N2", _field(path, str(key)), f"unknown field {key!r} in {kind} points"
                )
        if "positions" not in points:
            self.error("V-N2", _field(path, "positions"), "'positions' is required")
            n = None
        else:
            n = self.xyz(
                points["positions"], _field(path, "positions"), "V-A1", "positions", world=world
            )
        if points.get("colors") is not None:
            self.typed(points["colors"], _field(path, "colors"), "V-A2", "colors", "uint8", 3, n)
        if points.get("intensities") is not None:
            self.typed(
                points["intensities"],
                _field(path, "intensities"),
                "V-A3",
                "intensities",
                "uint8",
                None,
                n,
            )
        if points.get("directions") is not None:
            self.xyz(
                points["directions"],
                _field(path, "directions"),
                "V-A5",
                "directions",
                world=False,
                n=n,
            )
        if points.get("lengths") is not None:
            arr = self.typed(
                points["lengths"], _field(path, "lengths"), "V-A5", "lengths", "float32", None, n
            )
            if arr is not None and arr.size and not np.isfinite(sum(self.facts.minmax(arr))):
                self.error(
                    "V-A7", _field(path, "lengths"), "lengths must be finite, found NaN or inf"
                )
        if points.get("timestamps") is not None:
            self.point_timestamps(
                points["timestamps"], _field(path, "timestamps"), n, frame_ts, next_ts
            )

    def xyz(
        self, value: object, path: str, code: str, name: str, *, world: bool, n: int | None = None
    ) -> int | None:
        """float32 (N, 3) (or flat 3N); V-A7 finiteness; V-O1 magnitude. Returns N."""
        if not isinstance(value, np.ndarray):
            self.error("V-N2", path, f"{name} must be a numpy array, found {_kind(value)}")
            return None
        arr = value
        if arr.ndim == 1:
            if arr.shape[0] % 3 != 0:
                self.error(
                    "V-A8", path, f"flat {name} has {arr.shape[0]} values, not a multiple of 3"
                )
                return None
            arr = arr.reshape(-1, 3)
        elif arr.ndim != 2 or arr.shape[1] != 3:
            self.error(code, path, f"{name} must have shape (N, 3), found {arr.shape}")
            return None
        if arr.dtype != np.dtype("<f4"):
            self.error(
                code,
                path,
                f"{name} must be float32, found {arr.dtype.name}"
                + (" (big-endian)" if arr.dtype.byteorder == ">" else ""),
            )
        if n is not None and len(arr) != n:
            self.error("V-A8", path, f"{name} has {len(arr)} rows but positions has {n}")
        if arr.size and arr.dtype.kind in "fiu":
            lo_v, hi_v = self.facts.minmax(arr)
            lo, hi = float(lo_v), float(hi_v)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                self.error("V-A7", path, f"{name} must be finite, found NaN or inf")
            elif world:
                self._coord(max(-lo, hi), path)
        return len(arr)

    def typed(  # noqa: PLR0917
        self,
        value: object,
        path: str,
        code: str,
        name: str,
        dtype: str,
        cols: int | None,
        n: int | None,
    ) -> npt.NDArray[Any] | None:
        """An array of one dtype, 1-D (``cols`` None) or (N, cols) (flat accepted); V-A8 length."""
        if not isinstance(value, np.ndarray):
            self.error("V-N2", path, f"{name} must be a numpy array, found {_kind(value)}")
            return None
        arr = value
        if cols is not None and arr.ndim == 1:
            if arr.shape[0] % cols != 0:
                self.error(
                    "V-A8", path, f"flat {name} has {arr.shape[0]} values, not a multiple of {cols}"
                )
                return None
            arr = arr.reshape(-1, cols)
        want_ndim = 1 if cols is None else 2
        if arr.ndim != want_ndim or (cols is not None and arr.shape[1] != cols):
            shape = "(N,)" if cols is None else f"(N, {cols})"
            self.error(code, path, f"{name} must have shape {shape}, found {value.shape}")
            return None
        if arr.dtype != np.dtype(dtype).newbyteorder("<"):
            self.error(code, path, f"{name} must be {dtype}, found {arr.dtype.name}")
        if n is not None and len(arr) != n:
            self.error("V-A8", path, f"{name} has {len(arr)} rows but positions has {n}")
        return arr

    def point_timestamps(
        self, value: object, path: str, n: int | None, frame_ts: int | None, next_ts: int | None
    ) -> None:
        if not isinstance(value, np.ndarray):
            self.error(
                "V-N2", path, f"point timestamps must be a numpy array, found {_kind(value)}"
            )
            return
        allowed = ("<u4",) if self.mode == "compat" else ("<u4", "<u8")
        if (
            value.dtype.str not in allowed
            and value.dtype != np.uint32
            and not (self.mode == "spec" and value.dtype == np.uint64)
        ):
            extra = (
                " (Scale does not support uint64 yet; write_sfs converts)"
                if value.dtype == np.uint64
                else ""
            )
            self.error(
                "V-A4",
                path,
                f"point timestamps must be {' or '.join(np.dtype(d).name for d in allowed)}, "
                f"found {value.dtype.name}{extra}",
            )
        if value.ndim != 1:
            self.error("V-A4", path, f"point timestamps must have shape (N,), found {value.shape}")
            return
        if n is not None and len(value) != n:
            self.error("V-A8", path, f"timestamps has {len(value)} rows but positions has {n}")
        if value.size == 0 or value.dtype.kind not in "iu":
            return  # V-A10: an empty frame is valid with or without an empty timestamps array
        lo_v, hi_v = self.facts.minmax(value)
        lo, hi = int(lo_v), int(hi_v)
        if frame_ts is not None and frame_ts > lo:
            self.error(
                "V-A6",
                path,
                f"the frame timestamp ({frame_ts}) must be <= the smallest point timestamp ({lo})",
            )
        if next_ts is not None and hi >= next_ts:
            self.warn(
                "V-A9",
                path,
                f"the largest point timestamp ({hi}) is not before the next frame's "
                f"timestamp ({next_ts})",
            )

    # --- cameras ----------------------------------------------------------------------------

    def camera(self, sensor: Mapping[str, Any], path: str, span: tuple[int, int] | None) -> None:
        size = self.intrinsics(
            sensor.get("intrinsics"), _field(path, "intrinsics"), present="intrinsics" in sensor
        )
        images, video = sensor.get("images"), sensor.get("video")
        if images is None and video is None:
            self.error("V-C1", path, "a camera needs 'images' or 'video'; it has neither")
            return
        if images is not None and video is not None:
            self.error(
                "V-C1b", path, "a camera must have exactly one of 'images' or 'video'; it has both"
            )
        if images is not None:
            self.images(images, _field(path, "images"), size, span)
        if video is not None:
            self.video(video, _field(path, "video"), span, size)

    def intrinsics(self, intr: object, path: str, *, present: bool) -> tuple[int, int] | None:
        if not isinstance(intr, Mapping):
            what = "missing" if not present else _kind(intr)
            self.error("V-N2", path, f"a camera needs an 'intrinsics' object; it is {what}")
            return None
        for key in intr:
            if key not in _INTRINSICS_KEYS:
                hint = " (SFS 1.0 cannot express it)" if key in ("skew", "scale_factor") else ""
                self.error(
                    "V-N2", _field(path, str(key)), f"unknown intrinsics field {key!r}{hint}"
                )
        for key in ("fx", "fy", "cx", "cy"):
            v = intr.get(key)
            if key not in intr:
                self.error("V-N2", _field(path, key), f"intrinsics need {key!r}")
            elif not _is_number(v) or not math.isfinite(v):
                self.error(
                    "V-C2", _field(path, key), f"{key} must be a finite number, found {_kind(v)}"
                )
            elif key in ("fx", "fy") and v <= 0:
                self.error("V-C2", _field(path, key), f"{key} must be > 0, found {v!r}")
        dims: list[int] = []
        for key in ("width", "height"):
            v = intr.get(key)
            if key not in intr:
                self.error("V-N2", _field(path, key), f"intrinsics need {key!r}")
            elif not _is_int(v) or v <= 0:
                self.error("V-C2", _field(path, key), f"{key} must be an int > 0, found {_kind(v)}")
            else:
                dims.append(v)
        self.distortion(intr.get("distortion"), _field(path, "distortion"))
        return (dims[0], dims[1]) if len(dims) == 2 else None

    def distortion(self, dist: object, path: str) -> None:
        if dist is None:
            return
        if not isinstance(dist, Mapping):
            self.error(
                "V-N2",
                path,
                f"distortion must be an object {{model, params}} or null, found {_kind(dist)}",
            )
            return
        for key in dist:
            if key not in ("model", "params"):
                self.error("V-N2", _field(path, str(key)), f"unknown distortion field {key!r}")
        model = dist.get("model")
        if not isinstance(model, str) or model not in DISTORTION_PARAM_COUNTS:
            self.error(
                "V-N2",
                _field(path, "model"),
                f"unknown distortion model {model!r}; "
                f"expected one of {sorted(DISTORTION_PARAM_COUNTS)}",
            )
        params = dist.get("params")
        if not isinstance(params, list) or not all(_is_number(p) for p in params):
            self.error(
                "V-N2",
                _field(path, "params"),
                f"distortion params must be a list of numbers, found {params!r}"[:300],
            )
            return
        bad = [p for p in params if not math.isfinite(p)]
        if bad:
            self.error(
                "V-S6",
                _field(path, "params"),
                f"distortion params must be finite, found {bad[0]!r}",
            )
        if isinstance(model, str) and model in DISTORTION_PARAM_COUNTS:
            want = DISTORTION_PARAM_COUNTS[model]
            if len(params) != want:
                self.error(
                    "V-C3",
                    _field(path, "params"),
                    f"distortion model {model!r} takes exactly {want} params, found {len(params)}",
                )

    def images(
        self, images: object, path: str, size: tuple[int, int] | None, span: tuple[int, int] | None
    ) -> None:
        if not isinstance(images, list):
            self.error("V-N2", path, f"'images' must be a list, found {_kind(images)}")
            return
        if not images:
            self.error("V-C1", path, "'images' is empty; a camera needs at least one image")
            return
        stamps: list[int] = []
        for i, image in enumerate(images):
            ipath = _index(path, i)
            if not isinstance(image, Mapping):
                self.error(
                    "V-N2",
                    ipath,
                    f"an image must be an object {{timestamp, content}}, found {_kind(image)}",
                )
                continue
            for key in image:
                if key not in ("timestamp", "content"):
                    self.error(
                        "V-N2", _field(ipath, str(key)), f"unknown field {key!r} in an image"
                    )
            ts = image.get("timestamp")
            if not _is_int(ts):
                self.error(
                    "V-T5",
                    _field(ipath, "timestamp"),
                    f"a timestamp must be an int, found {_kind(ts)}",
                )
            else:
                stamps.append(ts)
            self.image_content(image.get("content"), _field(ipath, "content"), size)
        if len(stamps) == len(images):
            self.time_rules(stamps, path, content=True)
            self.span_rule(stamps, path, span)

    def image_content(self, content: object, path: str, size: tuple[int, int] | None) -> None:
        if not isinstance(content, np.ndarray):
            self.error(
                "V-C4",
                path,
                "image content must be a uint8 array of encoded JPEG/PNG bytes, "
                f"found {_kind(content)}",
            )
            return
        if content.dtype != np.uint8 or content.ndim != 1 or content.size == 0:
            self.error(
                "V-C4",
                path,
                f"image content must be a non-empty 1-D uint8 array of encoded JPEG/PNG bytes, "
                f"found {_kind(content)}",
            )
            return
        kind, found, problem = self.facts.get(content, "image", lambda: _image_facts(content))
        if kind is None:
            self.error("V-C4", path, "image content is neither a JPEG (FF D8 FF) nor a PNG file")
            return
        if found is None:
            self.error("V-C4", path, f"the {kind.upper()} header has no readable image size")
            return
        if problem is not None:
            self.error("V-C4", path, f"the {kind.upper()} is incomplete: {problem}")
        if size is not None and found != size:
            self.error(
                "V-C4",
                path,
                f"the {kind.upper()} is {found[0]}x{found[1]} but the intrinsics say "
                f"{size[0]}x{size[1]}",
            )

    def video(
        self,
        video: object,
        path: str,
        span: tuple[int, int] | None,
        size: tuple[int, int] | None = None,
    ) -> None:
        if not isinstance(video, Mapping):
            self.error(
                "V-N2",
                path,
                f"'video' must be an object {{timestamps, content, fps}}, found {_kind(video)}",
            )
            return
        for key in video:
            if key not in ("timestamps", "content", "fps"):
                self.error("V-N2", _field(path, str(key)), f"unknown field {key!r} in a video")
        stamps = self.timestamp_list(
            video.get("timestamps"), _field(path, "timestamps"), content=True
        )
        if stamps is not None:
            if not stamps:
                self.error("V-C1", _field(path, "timestamps"), "the video has no timestamps")
            self.span_rule(stamps, _field(path, "timestamps"), span)
        fps = video.get("fps")
        if not (_is_number(fps) and math.isfinite(fps) and fps > 0):
            self.error(
                "V-C5", _field(path, "fps"), f"fps must be a finite number > 0, found {_kind(fps)}"
            )
        elif stamps is not None and len(stamps) >= 2 and _is_number(fps):
            diffs = np.diff(np.asarray(stamps, dtype=np.float64))
            median = float(np.median(diffs))
            if median > 0:
                rate = self.ticks_per_s / median
                if abs(fps - rate) > FPS_TOLERANCE * rate:
                    self.warn(
                        "V-C5",
                        _field(path, "fps"),
                        f"fps {fps:g} disagrees with the timestamps' rate {rate:.4g} "
                        "by more than 10%",
                    )
        content = video.get("content")
        cpath = _field(path, "content")
        if not isinstance(content, np.ndarray) or content.dtype != np.uint8 or content.ndim != 1:
            self.error(
                "V-C5",
                cpath,
                f"video content must be a 1-D uint8 array of MP4 bytes, found {_kind(content)}",
            )
            return
        if not is_mp4(content):
            self.error("V-C5", cpath, "video content is not an MP4 file (no 'ftyp' at bytes 4-7)")
            return
        if stamps is None:
            return
        if not have_av():
            count = count_video_frames(content)
            if count is None:
                self.warn(
                    "V-C5",
                    cpath,
                    "the MP4 frame count was not checked (install the 'video' extra, PyAV, or "
                    "put ffprobe on the PATH)",
                )
            elif count != len(stamps):
                self.error(
                    "V-C5",
                    cpath,
                    f"the MP4 has {count} frames but there are {len(stamps)} timestamps",
                )
            return
        try:
            info = probe_video(content, source="<the MP4>")
        except InputError as err:
            self.error("V-C5", cpath, str(err).replace("<the MP4>", "the MP4").rstrip("."))
            return
        self.video_info(info, cpath, stamps, size)

    def video_info(
        self, info: VideoInfo, path: str, stamps: list[int], size: tuple[int, int] | None
    ) -> None:
        """V-C5 with PyAV: frame count, duration and size against the timestamps and intrinsics."""
        if info.frame_count != len(stamps):
            self.error(
                "V-C5",
                path,
                f"the MP4 has {info.frame_count} frames but there are {len(stamps)} timestamps",
            )
        if size is not None and (info.width, info.height) != size:
            self.error(
                "V-C5",
                path,
                f"the video is {info.width}x{info.height} but the intrinsics say "
                f"{size[0]}x{size[1]}",
            )
        if info.frame_count and info.first_keyframe != 0:
            first = "it has none" if info.first_keyframe is None else f"frame {info.first_keyframe}"
            self.error(
                "V-C5",
                path,
                f"the video does not start with a keyframe (its first keyframe: {first}), so no "
                "decoder shows the frames before it and the pictures no longer line up with the "
                "timestamps",
            )
        counted = info.frame_count == len(stamps)  # else the duration says nothing more
        if counted and len(stamps) >= 2 and info.duration_s is not None:
            median = float(np.median(np.diff(np.asarray(stamps, dtype=np.float64))))
            if median > 0:
                want_s = len(stamps) * median / self.ticks_per_s
                if abs(info.duration_s - want_s) > FPS_TOLERANCE * want_s:
                    self.error(
                        "V-C5",
                        path,
                        f"the video lasts {info.duration_s:.3f} s but {len(stamps)} frames at the "
                        f"timestamps' rate ({self.ticks_per_s / median:.4g} Hz) last "
                        f"{want_s:.3f} s",
                    )
        if info.codec != "h264":
            self.warn(
                "V-C5",
                path,
                f"the video codec is {info.codec!r}; Scale's encoder writes H.264 (D8) and other "
                "codecs may not play in its viewer",
            )
        elif info.pix_fmt not in (None, "yuv420p", "yuvj420p"):
            self.warn(
                "V-C5",
                path,
                f"the video's pixel format is {info.pix_fmt!r}; Scale's encoder writes yuv420p "
                "(D8) and browsers play little else",
            )

    # --- annotations, attributes, metadata --------------------------------------------------

    def annotations(self, annotations: object, attributes: object) -> None:
        if attributes is not None:
            if not isinstance(attributes, list):
                self.error(
                    "V-N2", "attributes", f"'attributes' must be a list, found {_kind(attributes)}"
                )
            else:
                for i, attr in enumerate(attributes):
                    self.attribute_path(attr, _index("attributes", i))
        if annotations is None:
            return
        if not isinstance(annotations, list):
            self.error(
                "V-N2", "annotations", f"'annotations' must be a list, found {_kind(annotations)}"
            )
            return
        sensor_keys = {str(s) for s in self.sensor_ids}
        ann_ids: dict[str, int] = {}
        for i, ann in enumerate(annotations):
            if isinstance(ann, Mapping):
                aid = ann.get("id")
                if isinstance(aid, bool) or not (_is_int(aid) or isinstance(aid, str)):
                    self.error(
                        "V-X1",
                        _field(_index("annotations", i), "id"),
                        f"an annotation id must be a str or int, found {_kind(aid)}",
                    )
                elif str(aid) in ann_ids:
                    self.error(
                        "V-X1",
                        _field(_index("annotations", i), "id"),
                        f"annotation id {aid!r} is used more than once",
                    )
                else:
                    ann_ids[str(aid)] = i
        for i, ann in enumerate(annotations):
            self.annotation(ann, _index("annotations", i), sensor_keys, set(ann_ids))

    def annotation(self, ann: object, path: str, sensors: set[str], ann_ids: set[str]) -> None:
        if not isinstance(ann, Mapping):
            self.error("V-X1", path, f"an annotation must be an object, found {_kind(ann)}")
            return
        kind = ann.get("type")
        if not isinstance(kind, str) or kind not in ANNOTATION_TYPES:
            self.error("V-X1", _field(path, "type"), f"unknown annotation type {kind!r}")
        for key, pool, what in (
            ("sensor_id", sensors, "sensor"),
            ("from_id", ann_ids, "annotation"),
            ("to_id", ann_ids, "annotation"),
            ("parent_id", ann_ids, "annotation"),
        ):
            ref = ann.get(key)
            if ref is not None and str(ref) not in pool:
                self.error("V-X1", _field(path, key), f"{key} {ref!r} names no {what} in the scene")
        for j, lp in enumerate(_list_or_empty(ann.get("labeled_points"))):
            ref = lp.get("sensor_id") if isinstance(lp, Mapping) else None
            if ref is not None and str(ref) not in sensors:
                self.error(
                    "V-X1",
                    _field(_index(_field(path, "labeled_points"), j), "sensor_id"),
                    f"sensor_id {ref!r} names no sensor in the scene",
                )
        for key in ("path", "poses"):
            if key in ann:
                rows = self.value_path(ann[key], _field(path, key))
                if rows is not None:
                    self.annotation_coords(kind, key, rows, _field(path, key))
        for j, attr in enumerate(_list_or_empty(ann.get("attributes"))):
            self.attribute_path(attr, _index(_field(path, "attributes"), j))

    def value_path(self, p: object, path: str) -> list[Any] | None:
        """A ``{timestamps, values}`` path: increasing int timestamps, one row per timestamp."""
        if not isinstance(p, Mapping):
            self.error(
                "V-X1", path, f"a path must be an object {{timestamps, values}}, found {_kind(p)}"
            )
            return None
        stamps, values = p.get("timestamps"), p.get("values")
        if not isinstance(stamps, list) or not all(_is_int(t) for t in stamps):
            self.error("V-X1", _field(path, "timestamps"), "path timestamps must be a list of ints")
            return None
        if any(b <= a for a, b in itertools.pairwise(stamps)):
            self.error(
                "V-X1", _field(path, "timestamps"), "path timestamps must be strictly increasing"
            )
        if not isinstance(values, list) or len(values) != len(stamps):
            n = len(values) if isinstance(values, list) else _kind(values)
            self.error(
                "V-X1",
                _field(path, "values"),
                f"a path needs one value row per timestamp: {len(stamps)} timestamps, values {n}",
            )
            return None
        return values

    def annotation_coords(self, kind: object, key: str, rows: list[Any], path: str) -> None:
        """Feed 3D world coordinates of annotations into V-O1."""
        top = 0.0
        for row in rows:
            if not isinstance(row, list) or not all(_is_number(v) for v in row):
                continue
            if kind == "cuboid" and len(row) >= 6:
                top = max(top, *(abs(v) for v in row[3:6]))
            elif key == "poses" and len(row) >= 3:
                top = max(top, *(abs(v) for v in row[:3]))
            elif isinstance(kind, str) and kind in _ANNOTATION_3D_ROWS and row:
                top = max(top, *(abs(v) for v in row))
        if math.isfinite(top):
            self._coord(top, path)

    def attribute_path(self, attr: object, path: str) -> None:
        if not isinstance(attr, Mapping):
            self.error("V-X1", path, f"an attribute path must be an object, found {_kind(attr)}")
            return
        if not isinstance(attr.get("name"), str):
            self.error(
                "V-X1",
                _field(path, "name"),
                f"an attribute needs a str 'name', found {_kind(attr.get('name'))}",
            )
        self.value_path(attr, path)

    def metadata(self, meta: object) -> None:
        if meta is None:
            return
        if not isinstance(meta, Mapping):
            self.error("V-M1", "metadata", f"'metadata' must be a JSON object, found {_kind(meta)}")
            return
        self._json_only(meta, "metadata")
        own = meta.get("sfs_kit")
        if own is not None:
            if not isinstance(own, Mapping):
                self.error(
                    "V-M1",
                    "metadata.sfs_kit",
                    f"metadata.sfs_kit must be an object, found {_kind(own)}",
                )
                return
            origin = own.get("origin_offset")
            if origin is not None and not (
                isinstance(origin, list) and len(origin) == 3 and all(_is_number(v) for v in origin)
            ):
                self.error(
                    "V-M1",
                    "metadata.sfs_kit.origin_offset",
                    f"origin_offset must be [x, y, z] in metres, found {origin!r}"[:300],
                )

    def _json_only(self, node: object, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not isinstance(key, str):
                    self.error("V-M1", path, f"metadata keys must be str, found {_kind(key)}")
                elif key == "$items":  # the generic walk skips metadata, so V-S6 is checked here
                    self.error(
                        "V-S6",
                        _field(path, key),
                        "the key '$items' is reserved by the .sfs container",
                    )
                self._json_only(value, _field(path, str(key)))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self._json_only(value, _index(path, i))
        elif isinstance(node, float) and not math.isfinite(node):
            self.error("V-M1", path, f"metadata numbers must be finite, found {node!r}")
        elif isinstance(node, np.ndarray):
            self.error("V-M1", path, "metadata may not hold arrays")
        elif not (node is None or isinstance(node, str | int | float)):
            self.error(
                "V-M1", path, f"metadata holds a non-JSON value of type {type(node).__name__}"
            )


def _list_or_empty(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _span(stamps: list[int] | None) -> tuple[int, int] | None:
    return (stamps[0], stamps[-1]) if stamps else None


def count_video_frames(content: npt.NDArray[np.uint8]) -> int | None:
    """Video frames in an MP4 via ``ffprobe`` (optional); ``None`` when ffprobe is unavailable."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    cmd = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-count_packets",
        "-show_entries",
        "stream=nb_read_packets",
        "-of",
        "csv=p=0",
        "-i",
        "pipe:0",
    ]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, our own ffprobe path
            cmd,
            input=content.tobytes(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        return int(done.stdout.decode("ascii", "replace").strip().splitlines()[0].strip(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        _log.warning("ffprobe could not count the video frames", exc_info=True)
        return None
