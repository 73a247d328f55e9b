"""Pose tables from CSV or JSON: timestamps in a declared unit, position + quaternion or matrices.

Timestamps are converted to integer microseconds exactly: each value is parsed as a decimal string
(``"1317016523.0123456"`` s -> 1317016523012345 µs), scaled by the declared unit and floored (the
spec's rule for ns -> µs). Quaternion order is never guessed: named columns/keys (``qx qy qz qw``,
``{"w":..}``) say it; a bare 4-vector needs ``quat_order``. Rejected: NaN/inf values, zero or
non-unit quaternions (|norm - 1| > 1e-3; within that they are kept as given), non-rigid matrices,
timestamps that go backwards or repeat, timestamps outside the int64 microsecond range.

The timestamp unit is declared, never guessed: by ``time_unit=``, or by a unit suffix on the
timestamp column/key (``timestamp_us``, ``t_ns``, ``stamp_ms``, ``time_s``). When both are given
they must agree.

CSV: a header row naming the columns (``#`` lines are comments), comma, semicolon, tab or
whitespace separated; or pass ``header=`` for a headerless file (e.g. TUM:
``("timestamp", "x", "y", "z", "qx", "qy", "qz", "qw")``). JSON: a list of records, or an object
with a ``poses`` list; a record has a timestamp and ``position``/``translation`` + ``rotation``/
``quaternion``/``orientation``, or a ``matrix``/``transform`` (4x4, 3x4 or 16/12 flat, row-major).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import Literal

import numpy as np
import numpy.typing as npt

from sfs_kit._documents import load_json
from sfs_kit._excerpt import excerpt
from sfs_kit._paths import read_input_text
from sfs_kit.errors import InputError
from sfs_kit.readers._rigid import check_rigid, quat_from_matrix

__all__ = ["PoseTable", "QuatOrder", "TimeUnit", "read_poses", "resolve_time_unit",
           "timestamp_to_us", "unit_from_name"]

QuatOrder = Literal["wxyz", "xyzw"]
TimeUnit = Literal["s", "ms", "us", "ns"]
PoseLayout = Literal["quaternion", "matrix"]
QUAT_NORM_TOLERANCE = 1e-3

_US_PER_UNIT = {"s": Decimal(1_000_000), "ms": Decimal(1_000), "us": Decimal(1),
                "ns": Decimal(1) / Decimal(1_000)}
_TIME_BASES = ("timestamp", "time", "stamp", "t", "ts")
_TIME_KEYS = tuple(f"{base}{suffix}" for base in _TIME_BASES
                   for suffix in ("_us", "_ns", "_ms", "_s", ""))
_UNIT_SUFFIXES: tuple[tuple[str, TimeUnit], ...] = (("_us", "us"), ("_ns", "ns"), ("_ms", "ms"),
                                                   ("_s", "s"))
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_POSITION_KEYS = (("x", "y", "z"), ("tx", "ty", "tz"), ("px", "py", "pz"),
                  ("pos_x", "pos_y", "pos_z"), ("position_x", "position_y", "position_z"))
_QUAT_KEYS_XYZW = (("qx", "qy", "qz", "qw"), ("quat_x", "quat_y", "quat_z", "quat_w"),
                   ("rot_x", "rot_y", "rot_z", "rot_w"),
                   ("orientation_x", "orientation_y", "orientation_z", "orientation_w"))
_JSON_POSITION = ("position", "translation", "position_m", "pos")
_JSON_ROTATION = ("quat_xyzw", "quat_wxyz", "quaternion", "rotation", "orientation", "quat")
_JSON_MATRIX = ("matrix", "transform", "pose", "world_from_sensor", "T")


@dataclass(frozen=True, eq=False)
class PoseTable:
    """K poses: ``timestamps_us`` int64 (K,), ``positions_m`` float64 (K, 3), ``quat_xyzw``
    float64 (K, 4) (scalar last). Each row is the transform the file gives (e.g. world_from_ego).
    """

    timestamps_us: npt.NDArray[np.int64]
    positions_m: npt.NDArray[np.float64]
    quat_xyzw: npt.NDArray[np.float64]
    source: str = ""

    def __len__(self) -> int:
        return int(self.timestamps_us.shape[0])


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A timestamp as text: ASCII digits only (``Decimal`` also takes ``1_0``, Arabic-Indic digits
and ``NaN``, each a sign of a wrong column rather than a time)."""


def timestamp_to_us(value: object, unit: TimeUnit, *, source: str, field: str,
                    line: int | None = None) -> int:
    """One timestamp (decimal string, int or Decimal) in ``unit`` -> int microseconds, floored."""
    where = f" (in {field})" if field else ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InputError(f"Timestamp {excerpt(value)} is not a number{where}.", source=source,
                         field=field, line=line)
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as err:
        raise InputError(f"Timestamp {excerpt(value)} is not a number{where}.", source=source,
                         field=field, line=line) from err
    if not number.is_finite():
        raise InputError(f"Timestamp {excerpt(value)} is not finite{where}.", source=source,
                         field=field, line=line)
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()) is None:
        raise InputError(f"Timestamp {excerpt(value)} is not a number{where}: only ASCII "
                         "digits, a sign, a point and an exponent are.", source=source,
                         field=field, line=line)
    if number.adjusted() > 30:  # |value| >= 1e30: outside int64 us in every unit
        raise InputError(f"Timestamp {value!r} {unit} is outside the int64 microsecond range.",
                         source=source, field=field, line=line)
    with localcontext() as context:
        context.prec = 60
        scaled = number * _US_PER_UNIT[unit]
        micros = int(scaled.to_integral_value(rounding="ROUND_FLOOR"))
    if not _INT64_MIN <= micros <= _INT64_MAX:
        raise InputError(f"Timestamp {value!r} {unit} is {micros} us, outside the int64 range "
                         "(check the time unit).", source=source, field=field, line=line)
    return micros


def unit_from_name(name: str) -> TimeUnit | None:
    """The unit a column/key name declares by its suffix (``timestamp_us`` -> ``"us"``), or None."""
    lowered = name.lower()
    for suffix, unit in _UNIT_SUFFIXES:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return unit
    return None


def resolve_time_unit(column: str, declared: TimeUnit | None, *, source: str) -> TimeUnit:
    """The timestamp unit: the column's suffix and ``declared`` must agree; one must be given."""
    implied = unit_from_name(column)
    if implied is not None and declared is not None and implied != declared:
        raise InputError(f"Timestamp column {column!r} says unit {implied!r} but the declared "
                         f"time unit is {declared!r}.", source=source, field=column)
    unit = implied or declared
    if unit is None:
        raise InputError(f"Timestamp column {column!r} has no unit suffix (_s, _ms, _us, _ns); "
                         "declare the time unit (time_unit=, --time-unit).", source=source,
                         field=column)
    return unit


def _float(value: object, *, source: str, field: str, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InputError(f"Value {value!r} of {field!r} is not a number.", source=source,
                         field=field, line=line)
    try:
        return float(value)
    except ValueError as err:
        raise InputError(f"Value {value!r} of {field!r} is not a number.", source=source,
                         field=field, line=line) from err


def _reorder(quat: Sequence[float], order: QuatOrder | None, *, source: str, field: str,
             line: int | None) -> list[float]:
    if order is None:
        raise InputError(
            f"Quaternion {field!r} is an unnamed 4-vector; pass quat_order='wxyz' or 'xyzw'.",
            source=source, field=field, line=line)
    return [quat[1], quat[2], quat[3], quat[0]] if order == "wxyz" else list(quat)


def read_poses(
    path: str | os.PathLike[str],
    *,
    time_unit: TimeUnit | None = None,
    quat_order: QuatOrder | None = None,
    columns: Mapping[str, str | Sequence[str]] | None = None,
    layout: PoseLayout = "quaternion",
    header: Sequence[str] | None = None,
) -> PoseTable:
    """Read poses from a ``.csv``/``.txt`` or ``.json`` file into a validated ``PoseTable``.

    ``columns`` overrides the column/key names: ``{"timestamp": "t", "position": ["x", "y", "z"],
    "quaternion": [4 names in quat_order], "matrix": [16 or 12 names, row-major]}``.
    ``time_unit`` may be omitted when the timestamp column's name carries the unit
    (``timestamp_us``); when both are given they must agree.
    """
    name = os.fspath(path)
    text = read_input_text(path, what="pose file")
    mapping = dict(columns or {})
    if name.lower().endswith(".json"):
        rows = _json_rows(text, name, mapping, unit=time_unit, order=quat_order, layout=layout)
    else:
        rows = _csv_rows(text, name, mapping, unit=time_unit, order=quat_order, layout=layout,
                         header=header)
    return _validated(rows, name)


_Row = tuple[int, list[float], list[float], int | None, str]  # t_us, xyz, xyzw, line, field


def _pick(names: Sequence[str], options: Sequence[str], override: str | Sequence[str] | None,
          what: str, source: str) -> str:
    lowered = {n.lower(): n for n in names}
    if isinstance(override, str):
        if override not in names:
            raise InputError(f"Pose column {override!r} ({what}) is not among {list(names)!r}.",
                             source=source, field=override)
        return override
    for option in options:
        if option in lowered:
            return lowered[option]
    raise InputError(f"Pose file has no {what} column (looked for {list(options)!r}; found "
                     f"{list(names)!r}); name it with columns= "
                     f"(--columns on the command line).", source=source, field=what)


def _pick_group(names: Sequence[str], options: Sequence[Sequence[str]],
                override: str | Sequence[str] | None, *, size: int, what: str, source: str
                ) -> list[str] | None:
    lowered = {n.lower(): n for n in names}
    if override is not None:
        group = [override] if isinstance(override, str) else list(override)
        missing = [g for g in group if g not in names]
        if len(group) != size or missing:
            raise InputError(
                f"columns[{what!r}] must name {size} existing columns, found {group!r} "
                f"(missing {missing!r}).", source=source, field=what)
        return group
    for option in options:
        if all(o in lowered for o in option):
            return [lowered[o] for o in option]
    return None


def _split(line: str) -> list[str]:
    for delimiter in (",", ";", "\t"):
        if delimiter in line:
            return [part.strip() for part in line.split(delimiter)]
    return line.split()


def _csv_rows(text: str, source: str, mapping: dict[str, str | Sequence[str]], *,
              unit: TimeUnit | None, order: QuatOrder | None, layout: PoseLayout,
              header: Sequence[str] | None) -> list[_Row]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if header is None:
        if not lines:
            raise InputError("Pose file is empty.", source=source, field="header")
        names = _split(lines[0][1])
        lines = lines[1:]
    else:
        names = list(header)
    time_col = _pick(names, _TIME_KEYS, mapping.get("timestamp"), "timestamp", source)
    unit = resolve_time_unit(time_col, unit, source=source)
    index = {n: i for i, n in enumerate(names)}
    position_cols: list[str] | None = []
    quat_cols: list[str] | None = []
    matrix_cols: list[str] = []
    override: str | Sequence[str] | None = None
    if layout == "matrix":
        group = mapping.get("matrix")
        matrix_cols = [n for n in names if n != time_col] if group is None else (
            [group] if isinstance(group, str) else list(group))
        if len(matrix_cols) not in (12, 16) or any(c not in index for c in matrix_cols):
            raise InputError(
                f"Matrix pose rows need 12 or 16 value columns besides the timestamp, found "
                f"{matrix_cols!r}.", source=source, field="matrix")
    else:
        position_cols = _pick_group(names, _POSITION_KEYS, mapping.get("position"), size=3,
                                    what="position", source=source)
        named_quat = _pick_group(names, _QUAT_KEYS_XYZW, None, size=4, what="quaternion",
                                 source=source)
        override = mapping.get("quaternion")
        if override is not None:
            quat_cols = _pick_group(names, (), override, size=4, what="quaternion",
                                    source=source)
        else:
            quat_cols = named_quat
        if position_cols is None or quat_cols is None:
            what = "position" if position_cols is None else "quaternion"
            raise InputError(f"Pose file has no {what} columns (found {names!r}); name them "
                             "with columns= (--columns on the command line).", source=source,
                             field=what)
    rows: list[_Row] = []
    for number, line in lines:
        values = _split(line)
        if len(values) != len(names):
            raise InputError(f"Pose line has {len(values)} values but the header names "
                             f"{len(names)}.", source=source, line=number, field="row")
        t_us = timestamp_to_us(values[index[time_col]], unit, source=source, field=time_col,
                               line=number)
        if layout == "matrix":
            flat = [_float(values[index[c]], source=source, field=c, line=number)
                    for c in matrix_cols]
            rows.append(_matrix_row(t_us, flat, source, line=number, field="matrix"))
            continue
        xyz = [_float(values[index[c]], source=source, field=c, line=number)
               for c in position_cols or ()]
        quat = [_float(values[index[c]], source=source, field=c, line=number)
                for c in quat_cols or ()]
        if override is not None:
            quat = _reorder(quat, order, source=source, field="quaternion", line=number)
        rows.append((t_us, xyz, quat, number, "quaternion"))
    return rows


def _matrix_row(t_us: int, flat: Sequence[float], source: str, *, line: int | None, field: str
                ) -> _Row:
    matrix = np.asarray(flat, dtype=np.float64)
    if matrix.size not in (12, 16):
        raise InputError(f"Pose {field!r} has {matrix.size} values; 12 or 16 are needed.",
                         source=source, field=field, line=line)
    rigid = check_rigid(matrix.reshape(-1, 4), source=source, field=field, line=line)
    return (t_us, rigid[:3, 3].tolist(), quat_from_matrix(rigid[:3, :3]).tolist(), line, field)


def _json_rows(text: str, source: str, mapping: dict[str, str | Sequence[str]], *,
               unit: TimeUnit | None, order: QuatOrder | None, layout: PoseLayout
               ) -> list[_Row]:
    document = load_json(text, source=source, what="Pose file", parse_float=Decimal)
    records = document.get("poses") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise InputError("Pose JSON must be a list of records or an object with a 'poses' list.",
                         source=source, field="poses")
    rows: list[_Row] = []
    for i, record in enumerate(records):
        where = f"poses[{i}]"
        if not isinstance(record, dict):
            raise InputError(f"Pose record {where} is not an object.", source=source, field=where)
        time_key = _pick(list(record), _TIME_KEYS, mapping.get("timestamp"), "timestamp", source)
        record_unit = resolve_time_unit(time_key, unit, source=source)
        t_us = timestamp_to_us(record[time_key], record_unit, source=source,
                               field=f"{where}.{time_key}")
        if layout == "matrix":
            key = _pick(list(record), [k.lower() for k in _JSON_MATRIX],
                        _single(mapping.get("matrix")), "matrix", source)
            flat = np.asarray(record[key], dtype=object).ravel().tolist()
            numbers = [_float(v, source=source, field=f"{where}.{key}", line=None) for v in flat]
            rows.append(_matrix_row(t_us, numbers, source, line=None, field=f"{where}.{key}"))
            continue
        pos_key = _pick(list(record), _JSON_POSITION, _single(mapping.get("position")),
                        "position", source)
        rot_key = _pick(list(record), _JSON_ROTATION, _single(mapping.get("quaternion")),
                        "quaternion", source)
        xyz = _vector(record[pos_key], ("x", "y", "z"), source, f"{where}.{pos_key}")
        rotation = record[rot_key]
        field = f"{where}.{rot_key}"
        if isinstance(rotation, dict):
            keys = {k.lower().lstrip("q"): v for k, v in rotation.items()}
            quat = _vector(keys, ("x", "y", "z", "w"), source, field)
        else:
            raw = _vector(rotation, None, source, field)
            if len(raw) != 4:
                raise InputError(f"Quaternion {field!r} has {len(raw)} values; 4 are needed.",
                                 source=source, field=field)
            implied: QuatOrder | None = {"quat_xyzw": "xyzw", "quat_wxyz": "wxyz"}.get(
                rot_key.lower(), order)  # type: ignore[assignment]
            quat = _reorder(raw, implied, source=source, field=field, line=None)
        rows.append((t_us, xyz, quat, None, where))
    return rows


def _single(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InputError("For JSON pose files, columns= values are single key names.",
                     field="columns")


def _vector(value: object, keys: Sequence[str] | None, source: str, field: str) -> list[float]:
    if isinstance(value, dict):
        if keys is None or any(k not in value for k in keys):
            raise InputError(f"{field!r} must have keys {list(keys or ())!r}, found "
                             f"{sorted(value)!r}.", source=source, field=field)
        return [_float(value[k], source=source, field=f"{field}.{k}", line=None) for k in keys]
    if isinstance(value, list):
        out = [_float(v, source=source, field=field, line=None) for v in value]
        if keys is not None and len(out) != len(keys):
            raise InputError(f"{field!r} has {len(out)} values; {len(keys)} are needed.",
                             source=source, field=field)
        return out
    raise InputError(f"{field!r} must be a list or an object, found {type(value).__name__}.",
                     source=source, field=field)


def _validated(rows: list[_Row], source: str) -> PoseTable:
    if not rows:
        raise InputError("Pose file has no poses.", source=source, field="poses")
    times = np.array([r[0] for r in rows], dtype=np.int64)
    positions = np.array([r[1] for r in rows], dtype=np.float64).reshape(-1, 3)
    quats = np.array([r[2] for r in rows], dtype=np.float64).reshape(-1, 4)

    def fail(message: str, i: int) -> InputError:
        return InputError(message, source=source, line=rows[i][3], field=rows[i][4])

    bad = np.flatnonzero(~(np.isfinite(positions).all(axis=1) & np.isfinite(quats).all(axis=1)))
    if bad.size:
        i = int(bad[0])
        raise fail(f"Pose {i} has a NaN or infinite value (position {positions[i].tolist()!r}, "
                   f"quaternion {quats[i].tolist()!r}).", i)
    norms = np.linalg.norm(quats, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise fail(f"Pose {int(zero[0])} has a zero quaternion.", int(zero[0]))
    off = np.flatnonzero(np.abs(norms - 1.0) > QUAT_NORM_TOLERANCE)
    if off.size:
        i = int(off[0])
        raise fail(f"Pose {i} quaternion has norm {norms[i]:.6g}; |norm - 1| must be <= "
                   f"{QUAT_NORM_TOLERANCE:g} (check the quaternion order).", i)
    steps = np.diff(times)
    back = np.flatnonzero(steps < 0)
    if back.size:
        i = int(back[0]) + 1
        raise fail(f"Pose {i} timestamp {times[i]} us goes backwards from {times[i - 1]} us.", i)
    repeat = np.flatnonzero(steps == 0)
    if repeat.size:
        i = int(repeat[0]) + 1
        raise fail(f"Pose {i} repeats timestamp {times[i]} us.", i)
    return PoseTable(timestamps_us=times, positions_m=positions, quat_xyzw=quats, source=source)
