"""Whitespace-separated numeric tables (PCD/PLY ascii data): fast parse, precise error lines."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

__all__ = ["parse_table"]


def parse_table(text: str, dtype: np.dtype[np.void], *, rows: int, first_line: int, source: str,
                what: str, skip: int = 0) -> npt.NDArray[np.void]:
    """Parse up to ``rows + 1`` lines of ``text`` into a structured array (numpy's C parser).

    ``first_line`` is the file line number of the first line of ``text``, for messages.
    """
    if rows == 0:
        return np.zeros(0, dtype=dtype)
    try:
        table: npt.NDArray[np.void] = np.loadtxt(io.StringIO(text), dtype=dtype, comments=None,
                                                 skiprows=skip, max_rows=rows + 1, ndmin=1)
    except ValueError as err:
        raise _diagnose(text, dtype, first_line=first_line, source=source, what=what,
                        skip=skip) from err
    return table


def _diagnose(text: str, dtype: np.dtype[np.void], *, first_line: int, source: str, what: str,
              skip: int) -> InputError:
    names = dtype.names or ()
    kinds = [dtype[name].kind for name in names]
    for number, line in enumerate(text.splitlines(), start=first_line):
        if number < first_line + skip:
            continue
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != len(names):
            return InputError(f"{what} line {number} has {len(tokens)} values; expected "
                              f"{len(names)}.", source=source, line=number, field=what)
        for column, (token, kind) in enumerate(zip(tokens, kinds, strict=True)):
            try:
                float(token) if kind == "f" else int(token)
            except ValueError:
                return InputError(
                    f"{what} line {number} value {token!r} (column {column + 1}) is not a valid "
                    f"{'number' if kind == 'f' else 'integer'}.", source=source, line=number,
                    field=what)
    return InputError(f"{what} has a value out of range for its type.", source=source,
                      field=what)
