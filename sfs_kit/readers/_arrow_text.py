"""Optional fast path for whitespace-separated numeric tables: pyarrow's multithreaded CSV reader.

``parse_table`` (``_text.py``) tries this first. It only answers for tables it can parse exactly
as ``parse_table`` would: the data bytes are digits, ``.+-eEnaNAifIF``, single spaces and ``\\n``
only (no tabs, CR, ``_``, hex), every line holds exactly one token per column (one space between
tokens, none leading or trailing, no blank lines), exactly ``rows`` lines, and (with ``lookahead``)
nothing but whitespace after them. Floats are parsed to float64 (pyarrow's parser is correctly
rounded and accepts the same forms as ``float()`` over this alphabet) and cast to the field's dtype
by numpy, as ``parse_table`` does; integers are parsed to 64 bits and range-checked. Anything else
(pyarrow missing, a parse error, an out-of-range integer, a row-count mismatch) gives None, and
the exact parser then runs and reports the precise error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ENABLED", "MIN_BYTES", "try_parse_table_arrow"]

#: Switch for benchmarks and debugging: False sends every table to the exact parser.
ENABLED = True
#: Below this many bytes after ``offset`` the exact parser is fast enough, and importing pyarrow
#: (about 0.2 s) would cost more than it saves.
MIN_BYTES = 1 << 16

_ALLOWED = b"0123456789.+-eEnaNAifIF \n"
_STEP = 1 << 20  # bytes searched per step when counting lines
_MAX_TAIL = 4096  # whitespace after the table that is checked; a longer tail goes to parse_table
_BLOCK = 1 << 20


def try_parse_table_arrow(data: bytes, offset: int, dtype: np.dtype[np.void], *, rows: int,
                          skip: int = 0, lookahead: bool = True,
                          min_bytes: int | None = None) -> npt.NDArray[np.void] | None:
    """The ``rows`` values ``parse_table`` would return (with ``more`` False), or None.

    None means "use the exact parser": pyarrow is not installed, the input is not in the simple
    form above, or it may be invalid. ``min_bytes`` overrides ``MIN_BYTES`` (tests use 0).
    """
    names = dtype.names or ()
    threshold = MIN_BYTES if min_bytes is None else min_bytes
    if not ENABLED or rows <= 0 or not names or len(data) - offset < threshold:
        return None
    fields = [dtype[name] for name in names]
    if any(field.kind not in "fiu" or field.shape != () for field in fields):
        return None
    start = _after_lines(data, offset, skip)
    if start is None:
        return None
    last = _after_lines(data, start, rows - 1)
    if last is None or last >= len(data):
        return None
    newline = data.find(b"\n", last)
    end = len(data) if newline < 0 else newline + 1
    if lookahead and (len(data) - end > _MAX_TAIL or data[end:].strip()):
        return None  # a further line may follow: parse_table reports it (or its error)
    if not _only_allowed(data, start, end):
        return None
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:
        return None
    columns = [f"c{k}" for k in range(len(names))]
    types = {column: _arrow_type(pa, field) for column, field in zip(columns, fields, strict=True)}
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(start, end - start)),
            memory_pool=pa.system_memory_pool(),  # freed on return (mimalloc keeps ~30 MB)
            read_options=pa_csv.ReadOptions(column_names=columns, use_threads=True,
                                            block_size=_BLOCK),
            parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False,
                                              double_quote=False, escape_char=False,
                                              newlines_in_values=False,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=types, null_values=[],
                                                  strings_can_be_null=False,
                                                  quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != rows:
        return None
    out = np.empty(rows, dtype=dtype)
    for k, (name, field) in enumerate(zip(names, fields, strict=True)):
        if not _fill(out[name], table.column(k), field):
            return None
    return out


def _arrow_type(pa: Any, field: np.dtype[np.generic]) -> Any:
    """float64 for floats (cast by numpy afterwards); 64-bit integers otherwise."""
    if field.kind == "f":
        return pa.float64()
    if field.kind == "u" and field.itemsize == 8:
        return pa.uint64()
    return pa.int64()


def _fill(target: npt.NDArray[Any], column: Any, field: np.dtype[np.generic]) -> bool:
    """Copy one arrow column into ``target``; False if it has nulls or out-of-range integers."""
    if column.null_count:
        return False
    native = np.dtype(np.float64 if field.kind == "f" else np.uint64 if field.itemsize == 8
                      and field.kind == "u" else np.int64)
    position = 0
    for chunk in column.chunks:
        if len(chunk) == 0:
            continue
        # A view of the values buffer; ``to_numpy`` would make pyarrow import pandas (if it is
        # installed: 0.5 s and 45 MB on first use).
        values = np.frombuffer(chunk.buffers()[1], dtype=native, count=len(chunk),
                               offset=chunk.offset * native.itemsize)
        if field.kind in "iu":
            info = np.iinfo(field)  # type: ignore[type-var]
            if int(values.min()) < info.min or int(values.max()) > info.max:
                return False
        with np.errstate(over="ignore"):  # as parse_table's astype: huge values become inf
            target[position:position + len(values)] = values
        position += len(values)
    return position == len(target)


def _after_lines(data: bytes, start: int, lines: int) -> int | None:
    """The index just after the ``lines``-th newline from ``start``; None if there are fewer."""
    position = start
    while lines > 0:
        stop = min(position + _STEP, len(data))
        found = data.count(b"\n", position, stop)
        if found >= lines:
            block = np.frombuffer(data, dtype=np.uint8, count=stop - position, offset=position)
            return position + int(np.flatnonzero(block == 10)[lines - 1]) + 1
        if stop >= len(data):
            return None
        lines -= found
        position = stop
    return position


def _only_allowed(data: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` holds only ``_ALLOWED`` bytes, without copying it.

    ``bytes.translate`` with a delete set keeps the other bytes, so the middle part adds nothing
    to the whole's result exactly when all its bytes are allowed.
    """
    outside = len(data[:start].translate(None, _ALLOWED)) \
        + len(data[end:].translate(None, _ALLOWED))
    return len(data.translate(None, _ALLOWED)) == outside
