"""The scene walk (top-level fields, sensor ids, generic V-S* rules, sensors and their poses),
with the rule families mixed into one checker; ``validate`` and ``validate_tree``."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from sfs_kit.models._array_facts import ArrayFacts
from sfs_kit.models.validate._annotations import _AnnotationRules
from sfs_kit.models.validate._base import (
    _SCENE_KEYS,
    _SENSOR_KEYS,
    COMPAT_SENSOR_TYPES,
    MAX_COORDINATE_M,
    MAX_SAFE_INT,
    QUAT_NORM_TOLERANCE,
    SPEC_SENSOR_TYPES,
    Issue,
    Mode,
    _field,
    _index,
    _is_int,
    _is_number,
    _kind,
    _span,
)
from sfs_kit.models.validate._cameras import _CameraRules
from sfs_kit.models.validate._points import _PointRules

if TYPE_CHECKING:
    from sfs_kit.models.scene import Scene

_log = logging.getLogger(__name__)


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


_FLOAT: frozenset[type] = frozenset({float})


def _all_floats(values: list[Any] | tuple[Any, ...]) -> bool:
    """Every value an exact ``float`` (also for none): pose rows, the common case."""
    return not values or set(map(type, values)) == _FLOAT


def _small_ints(values: list[Any]) -> bool:
    """A non-empty list of exact ``int`` values all within 2^53 - 1 (timestamp lists)."""
    return bool(values) and set(map(type, values)) == _INT and (
        max(values) <= MAX_SAFE_INT and min(values) >= -MAX_SAFE_INT
    )


_INT: frozenset[type] = frozenset({int})
_PLAIN: frozenset[type] = frozenset({str, bool, type(None), np.ndarray})


def _plain_leaf(value: object, *, in_json: bool) -> bool:
    """A value ``generic`` would find nothing in (under a str key that is not ``$items``): the
    common leaves and, outside free-form JSON, rows of floats (pose values)."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is int:
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT  # type: ignore[operator]
    if kind is list and not in_json:
        return _all_floats(value)  # type: ignore[arg-type]
    return False


class _Checker(_PointRules, _CameraRules, _AnnotationRules):
    """Every rule family, walking one tree."""

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
        kind = type(node)  # exact-type fast paths for the common nodes: no ABC checks
        if kind is float:
            if in_json and not math.isfinite(cast(float, node)):
                self.error("V-S6", path, f"JSON values must be finite numbers, found {node!r}")
            return
        if kind is str or kind is bool or node is None or kind is np.ndarray:
            return
        if kind is int:
            if abs(cast(int, node)) > MAX_SAFE_INT:
                self.warn(
                    "V-S7",
                    path,
                    f"the int {node} is beyond 2^53 - 1; JavaScript readers lose precision",
                )
            return
        if kind is list and _small_ints(cast(list[Any], node)):
            return  # a list of timestamps: no int beyond 2^53 - 1, nothing else to check
        if kind is dict or isinstance(node, Mapping):
            for key, value in cast(Mapping[object, object], node).items():
                if type(key) is str and key != "$items" and _plain_leaf(value, in_json=True):
                    continue  # nothing to check: no call, no path built
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
            if not in_json and _all_floats(node):
                return  # a row of numbers (pose values): nothing here for this walk to check
            for i, value in enumerate(node):
                if not _plain_leaf(value, in_json=in_json):
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
            if not isinstance(row, list) or len(row) != 7 or not (
                _all_floats(row) or all(_is_number(v) for v in row)
            ):
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
