"""Scale lidar toolkit radar files: ``radar_points/N.txt``, one radar point per line.

scale-lidar-toolkit's recommended folder (``scale_format``) documents each line as
``position_x, position_y, position_z, direction_x, direction_y, direction_z, size``: seven
comma-separated decimals (its example data writes them as ``repr`` floats with ``", "``
between), read by its ``load_radar_points`` into scale-lidar-io's ``add_radar_points`` rows
``[[x, y, z], [dx, dy, dz], [size]]``. We read the same seven columns, and also three
(positions only) or six (positions and directions), which the SFS radar sensor allows (its
``directions`` and ``lengths`` are optional); every line of a file has the same count.

Stricter than the toolkit's ``float()`` on purpose, since the file is hostile until read: values
are plain decimals (no ``nan``/``inf``, no ``1_000``), finite in float32, sizes >= 0; blank lines
are skipped; the file is UTF-8 (a BOM is allowed) of at most ``MAX_RADAR_FILE_BYTES``. Each
error names the file, the line and the column.
"""

from __future__ import annotations

import os
import re
from array import array
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError
from sfs_kit.readers._source import read_capped_text

__all__ = ["MAX_RADAR_FILE_BYTES", "RADAR_COLUMNS", "ScaleRadarPoints", "read_scale_radar"]

#: a radar frame holds hundreds to a few thousand detections (~140 bytes a line): 8 MiB is
#: about 60,000 of them, and bounds what a hostile file costs (memory and parsing time)
MAX_RADAR_FILE_BYTES = 8 << 20
RADAR_COLUMNS = ("position_x", "position_y", "position_z", "direction_x", "direction_y",
                 "direction_z", "size")
_COUNTS = (3, 6, 7)
# "\d+(?:\.\d*)?", not "\d+\.?\d*": the latter splits a run of digits every way between its
# two \d's, and a 70,000-digit cell backtracked for minutes (fuzz)
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_CELL = r"[ \t\r]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)[ \t\r]*"
#: the common line, matched at once; anything else goes through ``_row``, which says what is wrong
_LINE = re.compile(rf"{_CELL},{_CELL},{_CELL}(?:,{_CELL},{_CELL},{_CELL}(?:,{_CELL})?)?", re.ASCII)

F64 = npt.NDArray[np.float64]


class ScaleRadarPoints(NamedTuple):
    """One radar file: positions (N, 3), directions (N, 3) and sizes (N,) as written (float64,
    every value finite in float32); ``directions``/``sizes`` are None when the file has no such
    columns."""

    positions: F64
    directions: F64 | None
    sizes: F64 | None


def _fail(source: str, line: int, message: str, field: str | None = None) -> InputError:
    return InputError(f"{source}, line {line}: {message}", source=source, line=line, field=field)


def _row(text: str, source: str, line: int, width: int | None) -> list[float]:
    count = text.count(",") + 1  # before splitting: a line of a million commas stays a count
    if width is None and count not in _COUNTS:
        raise _fail(source, line, f"{count} comma-separated values; a radar point has 7 "
                    "(position x, y, z, direction x, y, z, size), or 3 (position) or 6 "
                    "(position, direction).")
    if width is not None and count != width:
        raise _fail(source, line, f"{count} values, but the file's first point has "
                    f"{width}; every line holds the same columns.")
    cells = [c.strip() for c in text.split(",")]
    row = []
    for name, cell in zip(RADAR_COLUMNS, cells, strict=False):
        if not _DECIMAL.fullmatch(cell):
            raise _fail(source, line, f"{name} = {excerpt(cell)} is not a finite decimal "
                        "number.", field=name)
        value = float(cell)
        if not abs(value) <= _FLOAT32_MAX:
            raise _fail(source, line, f"{name} = {excerpt(cell)} does not fit float32.",
                        field=name)
        if name == "size" and value < 0:
            raise _fail(source, line, f"size = {excerpt(cell)} is negative; a size is a length.",
                        field=name)
        row.append(value)
    return row


def read_scale_radar(path: str | os.PathLike[str]) -> ScaleRadarPoints:
    """Read one toolkit radar file; ``InputError`` names the file, line and column at fault."""
    source = os.fspath(path)
    text = read_capped_text(source, what="radar file", limit=MAX_RADAR_FILE_BYTES,
                            why=f"~{MAX_RADAR_FILE_BYTES // 140:,} points, and one frame's "
                            "radar points are far fewer", encoding="utf-8-sig")
    # values go into one flat float64 buffer and lines are matched in place (no list of
    # millions of small Python objects); the line starts are kept to name a line at fault
    values, starts = array("d"), array("q")
    width: int | None = None
    start, number, size = 0, 0, len(text)
    while start <= size:
        end = text.find("\n", start)
        end = size if end < 0 else end
        number += 1
        match = _LINE.fullmatch(text, start, end)
        cells = None if match is None else [g for g in match.groups() if g is not None]
        if cells is not None and width in (None, len(cells)):
            values.extend(map(float, cells))
        elif text[start:end].strip():
            values.extend(_row(text[start:end], source, number, width))  # or raises, saying why
        else:
            start = end + 1
            continue
        width = width or len(values)
        starts.append(start)
        start = end + 1
    table = np.frombuffer(values, dtype=np.float64).reshape(-1, width or 3)
    _check_ranges(table, text, starts, source, width or 3)
    return ScaleRadarPoints(
        positions=np.ascontiguousarray(table[:, 0:3]),
        directions=np.ascontiguousarray(table[:, 3:6]) if (width or 3) >= 6 else None,
        sizes=np.ascontiguousarray(table[:, 6]) if width == 7 else None,
    )


def _check_ranges(table: F64, text: str, starts: array[int], source: str, width: int) -> None:
    """Values beyond float32 or a negative size, found for the whole table at once; the first
    such row is read again by ``_row`` for the message naming its line and column."""
    bad = ~(np.abs(table) <= _FLOAT32_MAX).all(axis=1)
    if width == 7:
        bad |= table[:, 6] < 0
    if bad.any():
        start = starts[int(np.argmax(bad))]
        end = text.find("\n", start)
        line = text.count("\n", 0, start) + 1
        _row(text[start:None if end < 0 else end], source, line, width)
