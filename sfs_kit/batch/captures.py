"""The list of captures a batch runs: text files, JSONL or CSV rows with overrides, paths, globs.

``read_captures(sources)`` takes what the user typed after ``sfs-kit batch``:

- ``*.txt`` (or any file that is not ``.jsonl``/``.csv``): one capture path a line; blank lines
  and ``#`` comments are skipped;
- ``*.jsonl``: one JSON object a line, ``{"capture": PATH, ...overrides}``;
- ``*.csv``: a header row naming ``capture`` and any override columns; empty cells are unset;
- anything else: a capture path itself, or a glob (``drives/2026-*/``) matching some.

A path in a list file is relative to that file's folder. Overrides per capture: ``unique_id``,
``tags`` (a list, or a comma-separated string), ``metadata`` (an object, merged over the batch's),
``priority`` and ``format``. A capture named twice is an error (it would share a run folder).
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfs_kit._documents import load_json
from sfs_kit._excerpt import excerpt
from sfs_kit._paths import read_input_text
from sfs_kit.errors import InputError

__all__ = ["OVERRIDE_FIELDS", "CaptureRow", "read_captures"]

OVERRIDE_FIELDS = ("unique_id", "tags", "metadata", "priority", "format")
_PATH_KEYS = ("capture", "path")
_LIST_SUFFIXES = (".txt", ".list", ".lst")
_MAX_LIST_BYTES = 64 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII digits: str.isdigit() also takes '١' and '²'


@dataclass(frozen=True)
class CaptureRow:
    """One capture of a batch: its resolved path, its overrides, and where it was listed."""

    path: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<command line>"
    line: int | None = None


def _read_text(path: Path) -> str:
    """The list's text: a regular UTF-8 file of at most ``_MAX_LIST_BYTES`` (``read_input_text``
    refuses FIFOs, devices and /proc, so ``/proc/self/environ`` is never read as a list)."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError(f"Capture list {str(path)!r} cannot be read "
                         f"({err.strerror or type(err).__name__}).", source=str(path)) from err
    if size > _MAX_LIST_BYTES:
        raise InputError(f"Capture list {str(path)!r} is larger than "
                         f"{_MAX_LIST_BYTES // (1024 * 1024)} MiB.", source=str(path))
    return read_input_text(path, what="capture list")


def _resolve(value: str, base: Path) -> str:
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    return os.path.abspath(candidate)


def _overrides(raw: Mapping[str, Any], source: str, line: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _PATH_KEYS:
            continue
        if key not in OVERRIDE_FIELDS:
            raise InputError(
                f"Capture list {source!r} line {line} has unknown key {key!r}; per-capture "
                f"overrides are {', '.join(OVERRIDE_FIELDS)}.", source=source, line=line,
                field=key)
        if value is None or value == "":
            continue
        out[key] = _override_value(key, value, source, line)
    return out


def _override_value(key: str, value: Any, source: str, line: int) -> Any:
    """Turn a CSV cell or JSON value into the setting's type (strings parsed where needed)."""
    def bad(expected: str) -> InputError:
        return InputError(f"Capture list {source!r} line {line}: {key!r} must be {expected}, got "
                          f"{value!r}.", source=source, line=line, field=key)

    if key == "tags":
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        if isinstance(value, list) and all(isinstance(t, str) for t in value):
            return tuple(value)
        raise bad("a list of strings or a comma-separated string")
    if key == "metadata":
        if isinstance(value, str):
            try:
                value = load_json(value, source=source, what=f"{key!r}")
            except InputError as err:
                raise bad(f"a JSON object ({err})") from err
        if not isinstance(value, dict):
            raise bad("a JSON object")
        return value
    if key == "priority":
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad("an integer")
    if not isinstance(value, str):
        raise bad("a string")
    return value


def _row(raw: object, base: Path, source: str, line: int) -> CaptureRow:
    if not isinstance(raw, dict):
        raise InputError(f"Capture list {source!r} line {line} must be a JSON object, got a "
                         f"{type(raw).__name__}.", source=source, line=line)
    path_value = next((raw[k] for k in _PATH_KEYS if k in raw), None)
    if not isinstance(path_value, str) or not path_value.strip():
        raise InputError(f"Capture list {source!r} line {line} has no 'capture' path.",
                         source=source, line=line, field="capture")
    return CaptureRow(_resolve(path_value.strip(), base), _overrides(raw, source, line), source,
                      line)


def _jsonl_rows(text: str, base: Path, source: str) -> Iterable[CaptureRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        # depth, huge integers, NaN and duplicate keys refused as in every JSON document
        raw = load_json(line, source=source, what=f"Capture list {source!r} line {number}")
        yield _row(raw, base, source, number)


def _csv_rows(text: str, base: Path, source: str) -> Iterable[CaptureRow]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        names = reader.fieldnames or []
        if not any(k in names for k in _PATH_KEYS):
            found = ", ".join(n if n.isprintable() and len(n) <= 40 else excerpt(n, 40)
                              for n in names[:20]) or "no header"
            raise InputError(f"Capture list {source!r} has no 'capture' column (found "
                             f"{found}).", source=source, line=1, field="capture")
        for raw in reader:
            if None in raw:
                raise InputError(f"Capture list {source!r} line {reader.line_num} has more "
                                 f"cells than the header.", source=source, line=reader.line_num)
            if not any((v or "").strip() for v in raw.values()):
                continue
            yield _row({k: (v or "").strip() for k, v in raw.items()}, base, source,
                       reader.line_num)
    except csv.Error as err:  # a cell over csv's field limit, a NUL, a bad quote
        raise InputError(f"Capture list {source!r} line {reader.line_num} is not valid CSV "
                         f"({err}).", source=source, line=reader.line_num) from err


def _text_rows(text: str, base: Path, source: str) -> Iterable[CaptureRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if value and not value.startswith("#"):
            yield CaptureRow(_resolve(value, base), {}, source, number)


def _rows_of(arg: str) -> list[CaptureRow]:
    path = Path(arg).expanduser()
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".jsonl", ".csv", *_LIST_SUFFIXES):
        text = _read_text(path)
        base, source = path.resolve().parent, str(path)
        if suffix == ".jsonl":
            return list(_jsonl_rows(text, base, source))
        if suffix == ".csv":
            return list(_csv_rows(text, base, source))
        return list(_text_rows(text, base, source))
    if path.exists():
        return [CaptureRow(os.path.abspath(path))]
    if glob.has_magic(arg):
        matches = sorted(glob.glob(os.path.expanduser(arg)))
        if not matches:
            raise InputError(f"Capture pattern {arg!r} matches nothing.", source=arg)
        return [CaptureRow(os.path.abspath(m)) for m in matches]
    raise InputError(f"Capture {arg!r} does not exist (expected a capture, a glob, or a "
                     f".txt/.jsonl/.csv list of captures).", source=arg)


def read_captures(sources: Sequence[str]) -> list[CaptureRow]:
    """Every capture named by ``sources``, in order; raises ``InputError`` for a bad list, an
    unknown override, a missing path or pattern, or a capture named twice."""
    if not sources:
        raise InputError("No captures given.", field="captures")
    rows: list[CaptureRow] = []
    seen: dict[str, CaptureRow] = {}
    for arg in sources:
        for row in _rows_of(arg):
            if "\x00" in row.path:  # no file has one; os calls would raise ValueError
                raise InputError(f"Capture {excerpt(row.path)} in {row.source} line {row.line} "
                                 f"holds a NUL byte.", source=row.source, line=row.line,
                                 field="capture")
            first = seen.get(row.path)
            if first is not None:
                where = f"{first.source}" + (f" line {first.line}" if first.line else "")
                raise InputError(f"Capture {row.path!r} is listed twice (first in {where}).",
                                 source=row.source, line=row.line)
            seen[row.path] = row
            rows.append(row)
    return rows
