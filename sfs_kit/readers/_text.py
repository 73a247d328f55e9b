"""Whitespace-separated numeric tables (PCD/PLY ascii data): a vectorised decimal parser.

Tokens are runs of bytes other than ASCII whitespace (``b" \\t\\n\\r\\x0b\\x0c"``, as
``bytes.split`` has it); lines end at ``\\n`` and blank lines are skipped. Every value equals
``float(token)`` (float fields, then cast to the field's dtype) or ``int(token)`` (integer fields,
range-checked), computed for whole columns at once, a chunk of lines at a time:

1. Token bounds come from the whitespace transitions of the byte array; each non-empty line
   must hold one token per column.
2. Mantissas (``[sign] digits [. digits]``, up to 32 bytes) are gathered right-aligned into a
   word-major block of 8-byte words, checked, and turned into integers eight digits per
   ``uint64`` multiply-shift (the SWAR trick); the dot is taken out arithmetically. An ``e``/``E``
   exponent (``[sign]`` 1-4 digits) is parsed separately.
3. ``mantissa * 10**k`` is exact and correctly rounded in one float64 operation when the mantissa
   is at most 2**52 and ``|k| <= 22`` (Clinger's fast path). Longer mantissas (``%.17g``) are
   rebuilt exactly in ``uint64`` and scaled in one 64-bit-mantissa ``longdouble`` operation, which
   is used unless it lands on a float64 rounding midpoint (double rounding). ``nan``, ``inf`` and
   anything else go to ``float()``/``int()`` one token at a time; a token they refuse is reported
   with its file line.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError
from sfs_kit.readers._arrow_text import try_parse_table_arrow

__all__ = ["Table", "parse_table"]

_U8 = npt.NDArray[np.uint8]
_U64 = npt.NDArray[np.uint64]
_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
_Bool = npt.NDArray[np.bool_]
_Index = npt.NDArray[np.intp]
_ArrayT = TypeVar("_ArrayT", bound=npt.NDArray[Any])

_CHUNK = 1 << 20  # bytes of text parsed at a time (whole lines): temporaries stay small
_WIDEST = 32  # longest mantissa parsed in bulk; also the bytes kept in front of the data
_MAX_EXP_DIGITS = 4
_EXACT = 2.0 ** 52  # float64 holds every integer up to here, and floor(a / 10**k) is exact
_POW10 = np.array([10.0 ** k for k in range(_WIDEST + 2)])  # exact up to 10**22
_NINE_POW10 = 9.0 * _POW10
_DOT = np.uint8((ord(".") - ord("0")) % 256)
_ONES = np.uint64(0x0101010101010101)
_LANE_INDEX = np.uint64(0x0001020304050607)
#: For each word count: (8 * words + 1, words) masks keeping the lanes right of ``pad`` bytes.
_KEEP = {
    words: np.array([[(2 ** 64 - 1) ^ (2 ** (8 * min(max(pad - 8 * k, 0), 8)) - 1)
                      for k in range(words)] for pad in range(8 * words + 1)], dtype=np.uint64
                    ).view(np.dtype((np.void, 8 * words))).reshape(-1)  # one item per pad
    for words in range(1, _WIDEST // 8 + 1)
}
_LONG = np.finfo(np.longdouble).nmant >= 63  # 10**k exact for k <= 27 (5**27 < 2**64)
#: x87 80-bit extended: the low 8 bytes are the 64-bit mantissa.
_X87 = np.finfo(np.longdouble).nmant == 63 and np.dtype(np.longdouble).itemsize in (12, 16) \
    and sys.byteorder == "little"
_POW10_LONG = np.cumprod(np.full(28, 10, dtype=np.longdouble)) / np.longdouble(10)
_POW10_U64 = np.array([10 ** k for k in range(20)], dtype=np.uint64)


class Table(NamedTuple):
    """Parsed rows (at most ``rows``) and whether a further non-empty line follows them."""

    values: npt.NDArray[np.void]
    more: bool


def parse_table(data: bytes, offset: int, dtype: np.dtype[np.void], *, rows: int,
                first_line: int, source: str, what: str, skip: int = 0,
                lookahead: bool = True) -> Table:
    """Parse up to ``rows`` non-empty lines of ``data[offset:]`` into a structured array.

    ``first_line`` is the file line number of the line starting at ``offset``; ``skip`` raw lines
    are passed over first. With ``lookahead`` the next non-empty line is parsed too and reported
    as ``more`` (a PCD with more lines than POINTS); without it the rest is ignored.
    """
    names = dtype.names or ()
    if rows == 0 or not names:
        return Table(np.zeros(0, dtype=dtype), False)
    fast = try_parse_table_arrow(data, offset, dtype, rows=rows, skip=skip, lookahead=lookahead)
    if fast is not None:  # pyarrow, when installed and the table is in its simple form
        return Table(fast, False)
    u = np.frombuffer(data, dtype=np.uint8)
    shift = 0
    if offset < _WIDEST:  # every right-aligned window must start inside the array
        shift = _WIDEST
        u = np.concatenate([np.full(shift, 32, dtype=np.uint8), u])
    base = offset + shift
    if skip:
        newlines = np.flatnonzero(u[base:] == 10)[:skip]
        base = len(u) if len(newlines) < skip else base + int(newlines[-1]) + 1
        first_line += skip
    limit = rows + 1 if lookahead else rows
    width = len(names)
    # Never more lines than the bytes can hold (POINTS may be wrong, or hostile).
    table = np.empty(min(limit, (len(u) - base) // 2 + 1), dtype=dtype)
    groups = _column_groups(dtype)

    def error() -> InputError:
        return _diagnose(data[base - shift:], dtype, first_line=first_line, source=source,
                         what=what, limit=limit)

    done = 0
    position = base
    while done < limit and position < len(u):
        stop = data.find(b"\n", position - shift + _CHUNK)
        end = len(u) if stop < 0 else stop + 1 + shift
        starts, ends, per_line = _tokens(u[position:end])
        lines = min(len(per_line), limit - done)
        if not np.all(per_line[:lines] == width):
            raise error()
        total = lines * width
        tokens = _Tokens(u, starts[:total] + position, ends[:total] + position)
        rows_here = table[done:done + lines]
        for group in groups:
            values = tokens.parse(group, width)
            if values is None:
                raise error()
            for column, name in enumerate(group.names):
                rows_here[name] = values[column::len(group.names)]
        done += lines
        position = end
    return Table(table[:min(done, rows)], done > rows)


class _Group(NamedTuple):
    columns: tuple[int, ...]
    names: tuple[str, ...]
    field: np.dtype[np.generic]


def _column_groups(dtype: np.dtype[np.void]) -> list[_Group]:
    """Columns of one dtype, parsed together (fewer, larger array operations)."""
    by_dtype: dict[np.dtype[np.generic], list[tuple[int, str]]] = {}
    for column, name in enumerate(dtype.names or ()):
        by_dtype.setdefault(dtype[name], []).append((column, name))
    return [_Group(tuple(c for c, _ in items), tuple(n for _, n in items), field)
            for field, items in by_dtype.items()]


def _tokens(segment: _U8) -> tuple[_Index, _Index, _Index]:
    """Token starts, ends (exclusive) and the token count of every non-empty line.

    Bytes <= 32 separate tokens. A control byte that is not ASCII whitespace stays a token of
    its own (as ``bytes.split`` sees it), so that it is refused like any bad value.
    """
    empty = np.zeros(0, dtype=np.intp)
    if len(segment) == 0:
        return empty, empty, empty
    space = segment <= 32
    if not space[0] and not (space[1:] & space[:-1]).any():
        # One separator byte between tokens (what writers produce): no transitions needed.
        ends = np.flatnonzero(space)
        separators = segment[ends]
        if not _is_control(separators).any():
            starts = np.empty(len(ends) + (not space[-1]), dtype=np.intp)
            starts[0] = 0
            np.add(ends[:len(starts) - 1], 1, out=starts[1:])
            if not space[-1]:
                ends = np.append(ends, len(segment))
            line_ends = np.flatnonzero(separators == 10) + 1
            if not space[-1] or separators[-1] != 10:
                line_ends = np.append(line_ends, len(starts))
            return starts, ends, np.diff(line_ends, prepend=0)
    control = _is_control(segment)
    if control.any():
        space &= ~control
    edges = np.empty(len(segment) + 1, dtype=np.bool_)
    edges[0] = not space[0]
    edges[-1] = not space[-1]
    np.not_equal(space[1:], space[:-1], out=edges[1:-1])
    where = np.flatnonzero(edges)
    starts, ends = where[0::2], where[1::2]
    newlines = np.flatnonzero(segment == 10)
    counts = np.diff(np.searchsorted(starts, newlines), prepend=0, append=len(starts))
    return starts, ends, counts[counts > 0]


def _is_control(values: _U8) -> _Bool:
    """Bytes below 32 that are not ASCII whitespace (9-13)."""
    flags: _Bool = (values < 9) | ((values - np.uint8(14)) < 18)
    return flags


class _Tokens:
    """The token bounds of a chunk of rows, with any ``e`` exponent split off."""

    def __init__(self, u: _U8, starts: _Index, ends: _Index) -> None:
        self.u = u
        self.starts = starts
        self.ends = ends
        self.mantissa_ends = ends
        self.exponents: _I64 | None = None
        self.bad_exponents: _Bool | None = None
        if len(starts) == 0:
            return
        low, high = int(starts[0]), int(ends[-1])
        raw = u[low:high].tobytes()
        if raw.find(b"e") < 0 and raw.find(b"E") < 0:
            return
        marks = np.flatnonzero((u[low:high] | 0x20) == ord("e")) + low
        token = np.searchsorted(starts, marks, side="right") - 1
        first = np.ones(len(token), dtype=np.bool_)
        first[1:] = token[1:] != token[:-1]
        token, marks = token[first], marks[first]
        exponents, valid = _exponents(u, marks + 1, ends[token])
        self.mantissa_ends = ends.copy()
        self.mantissa_ends[token] = marks
        self.exponents = np.zeros(len(starts), dtype=np.int64)
        self.exponents[token] = exponents
        self.bad_exponents = np.zeros(len(starts), dtype=np.bool_)
        self.bad_exponents[token] = ~valid

    def parse(self, group: _Group, width: int) -> npt.NDArray[np.generic] | None:
        """The group's columns interleaved (row-major), or None when a token is not valid."""
        columns = group.columns

        def take(values: _ArrayT) -> _ArrayT:
            block = values.reshape(-1, width)
            if columns == tuple(range(columns[0], columns[0] + len(columns))):
                picked = block[:, columns[0]:columns[-1] + 1]  # adjacent: a strided copy
            else:
                picked = block[:, list(columns)]
            return cast(_ArrayT, picked.reshape(-1))

        starts, ends, mantissa_ends = take(self.starts), take(self.ends), \
            take(self.mantissa_ends)
        parsed = _mantissas(self.u, starts, mantissa_ends)
        field = group.field
        if field.kind in "iu":
            ok = parsed.ok if self.exponents is None else parsed.ok & (mantissa_ends == ends)
            return _integers(self.u, starts, ends, parsed._replace(ok=ok), field)
        ok = parsed.ok
        fraction = np.where(parsed.dotted, parsed.split, 0).astype(np.int64)
        power = None
        if self.exponents is not None and self.bad_exponents is not None:
            ok = ok & ~take(self.bad_exponents)
            power = take(self.exponents) - fraction
        values = _floats(self.u, starts, ends, parsed._replace(ok=ok), fraction=fraction,
                         power=power)
        if values is None or field == np.float64:
            return values
        with np.errstate(over="ignore"):
            return values.astype(field)


def _exponents(u: _U8, starts: _Index, ends: _Index) -> tuple[_I64, _Bool]:
    """``[sign] digits`` between ``starts`` and ``ends`` (1-4 digits) as integers, and validity."""
    length = ends - starts
    lead = u[np.minimum(starts, len(u) - 1)]
    negative = (lead == ord("-")) & (length > 0)
    signed = negative | ((lead == ord("+")) & (length > 0))
    digits = length - signed
    valid = (digits >= 1) & (digits <= _MAX_EXP_DIGITS)
    value = np.zeros(len(starts), dtype=np.int64)
    first = starts + signed
    for k in range(_MAX_EXP_DIGITS):
        take = valid & (k < digits)
        digit = u[np.where(take, first + k, 0)].astype(np.int64) - ord("0")
        valid &= ~take | ((digit >= 0) & (digit <= 9))
        value = np.where(take, value * 10 + digit, value)
    return np.where(negative, -value, value), valid


class _Mantissas(NamedTuple):
    value: _F64  # the digits as a number, dot removed; exact where not ``wide``
    split: npt.NDArray[np.int16]  # digits right of the dot (when ``dotted``)
    dotted: _Bool
    negative: _Bool
    ok: _Bool  # well-formed and parsed; other tokens need float()/int() (or are invalid)
    wide: _Index  # tokens whose digits exceed 2**52 (see ``exact_wide``)
    words: _U64  # (tokens, words) values of eight digits each, kept for ``exact_wide``


def _byte_sums(words: _U64) -> _U64:
    """The sum of the eight bytes of each word (each sum below 256)."""
    out: _U64 = (words * _ONES) >> np.uint64(56)
    return out


def _eight_digits(words: _U64) -> _U64:
    """Eight digit bytes (0-9, most significant first in memory) per little-endian word -> value."""
    words = (words * np.uint64(2561)) >> np.uint64(8)
    words = ((words & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    out: _U64 = ((words & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) \
        >> np.uint64(32)
    return out


def _column_sum(words: _U64) -> npt.NDArray[np.int16]:
    """Row sums of a (n, words) array of small values."""
    total = words[:, 0].astype(np.int16)
    for k in range(1, words.shape[1]):
        total += words[:, k].astype(np.int16)
    return total


def _mantissas(u: _U8, starts: _Index, ends: _Index) -> _Mantissas:
    """``[sign] digits [. digits]`` tokens, each right-aligned in a fixed-width byte block.

    Bytes left of a token count as ``0`` digits. Every step is a whole-block elementwise
    operation (numpy's per-row loops over 8-32 bytes would cost more than the arithmetic), and
    per-token counts are int16 to keep memory traffic down.
    """
    count = len(starts)
    length = np.minimum(ends - starts, 255).astype(np.int16)
    longest = int(length.max()) if count else 0
    words = min(max(1, -(-longest // 8)), _WIDEST // 8)
    width = 8 * words
    items = np.ndarray((len(u) - width + 1,), dtype=np.dtype((np.void, width)), buffer=u,
                       strides=(1,))
    packed = items[ends - width].view(np.uint64).reshape(count, words)
    flat = packed.view(np.uint8).reshape(-1)
    np.subtract(flat, np.uint8(ord("0")), out=flat)
    pad = np.maximum(width - length, 0)
    packed &= _KEEP[words][pad].view(np.uint64).reshape(count, words)  # left of token: 0
    digit = flat < 10
    dot = flat == _DOT
    dot_words = dot.view(np.uint64).reshape(count, words)
    dots = _column_sum(_byte_sums(dot_words))
    plain = _column_sum(_byte_sums((digit | dot).view(np.uint64).reshape(count, words)))
    lead = u[starts]
    negative = lead == ord("-")
    signed = negative | (lead == ord("+"))
    ok = (plain + signed == width) & (dots <= 1) & (length - signed - dots >= 1)
    ok &= length <= width
    dotted = dots == 1
    # Byte j of word k is column 8k + j; for one flagged byte, sum(j * flag) is its lane.
    at = _column_sum((dot_words * _LANE_INDEX) >> np.uint64(56))
    for k in range(1, words):
        at += np.int16(8 * k) * (dot_words[:, k] != 0)
    np.multiply(flat, digit, out=flat)
    values = _eight_digits(packed)
    number = values[:, 0].astype(np.float64)
    for k in range(1, words):
        number *= 1e8
        number += values[:, k]
    # The dot counted as a 0 digit, so the digits left of it are 10x too large:
    # value = number - 9 * high * 10**split with high = floor(number / 10**(split + 1)).
    split = np.int16(width - 1) - at
    high = np.floor(number / _POW10[split + 1])
    value = number - high * _NINE_POW10[split]
    wide = np.flatnonzero(number > _EXACT)
    if len(wide) and words >= 3:  # keep the exact value below 2**64
        head = values[wide, 0]
        ok[wide] &= head <= 1000 if words == 3 else (head == 0) & (values[wide, 1] <= 1000)
    return _Mantissas(value, split, dotted, negative, ok, wide, values)


def _floats(u: _U8, starts: _Index, ends: _Index, parsed: _Mantissas, *, fraction: _I64,
            power: _I64 | None) -> _F64 | None:
    """Correctly rounded float64 values; None if a token is not a number."""
    if power is None:  # no exponents: value = digits / 10**fraction
        magnitude = fraction
        values: _F64 = parsed.value / _POW10[fraction]
    else:
        magnitude = np.abs(power)
        scale = _POW10[np.minimum(magnitude, 22)]
        values = np.where(power < 0, parsed.value / scale, parsed.value * scale)
    ok = parsed.ok & (magnitude <= 22)
    wide: _Index | slice = parsed.wide
    if len(parsed.wide):
        if len(parsed.wide) == len(ok):  # e.g. a %.17g column: slices, not index arrays
            wide = slice(None)
        ok[wide] = False
        if _LONG:
            usable = parsed.ok[wide] & (magnitude[wide] <= 27)
            picked = np.flatnonzero(usable) if isinstance(wide, slice) else wide[usable]
            exponent = -fraction[picked] if power is None else power[picked]
            rounded, done = _exact_wide(parsed.words[picked], parsed.split[picked],
                                        parsed.dotted[picked], exponent)
            values[picked[done]] = rounded[done]
            ok[picked[done]] = True
    if ok.all():
        np.negative(values, out=values, where=parsed.negative)
        return values
    np.negative(values, out=values, where=ok & parsed.negative)
    for index in np.flatnonzero(~ok):  # nan, inf, 1_0, huge exponents, midpoints: float()
        try:
            values[index] = float(u[starts[index]:ends[index]].tobytes())
        except ValueError:
            return None
    return values


def _exact_wide(words: _U64, split: npt.NDArray[np.int16], dotted: _Bool, power: _I64
                ) -> tuple[_F64, _Bool]:
    """Mantissas above 2**52 (below 2**64): exact in ``uint64``, then scaled with a 64-bit
    mantissa, which rounds once; the float64 result is correct unless that lands exactly on a
    float64 midpoint (flagged for ``float()``)."""
    number = _exact_integers(words)
    dotted = dotted & (split < 19)  # otherwise every digit is right of the dot
    if dotted.any():
        small = np.minimum(split, 18)
        scale = _POW10_U64[small + 1]
        high = number // scale
        number = np.where(dotted, high * _POW10_U64[small] + (number - high * scale), number)
    mantissa = number.astype(np.longdouble)
    if np.all(power <= 0):
        exact = mantissa / _POW10_LONG[-power]
    else:
        scale_long = _POW10_LONG[np.abs(power)]
        exact = np.where(power < 0, mantissa / scale_long, mantissa * scale_long)
    rounded = exact.astype(np.float64)
    if _X87:  # midpoint: the 11 bits dropped from the 64-bit mantissa are exactly 100...0
        if exact.dtype.itemsize == 16:
            low = exact.view(np.uint64)[::2]
        else:
            low = np.frombuffer(exact.tobytes(), dtype=[("m", "<u8"), ("e", "V4")])["m"]
        done: _Bool = (low & np.uint64(0x7FF)) != np.uint64(0x400)
        return rounded, done
    gap = np.abs(exact - rounded.astype(np.longdouble))
    ulp = np.spacing(np.abs(rounded)).astype(np.longdouble)
    done = (gap != ulp / 2) & (gap != ulp / 4)
    return rounded, done


def _exact_integers(words: _U64) -> _U64:
    """Exact uint64 digits of wide integer tokens (wrapping for those the caller refuses)."""
    value = words[:, 0].copy()
    for k in range(1, words.shape[1]):
        value = value * np.uint64(10 ** 8) + words[:, k]
    return value


def _integers(u: _U8, starts: _Index, ends: _Index, parsed: _Mantissas,
              field: np.dtype[np.generic]) -> npt.NDArray[np.generic] | None:
    """Exact integers of ``field``'s dtype; None if a token is not an integer or out of range."""
    info = np.iinfo(field)  # type: ignore[type-var]
    with np.errstate(invalid="ignore"):  # bad tokens may hold anything; they are redone below
        magnitude = parsed.value.astype(np.uint64)
    magnitude[parsed.wide] = _exact_integers(parsed.words[parsed.wide])
    negative = parsed.negative
    ok = parsed.ok & ~parsed.dotted & (magnitude <= np.uint64(info.max))
    ok &= ~negative | (magnitude <= np.uint64(-info.min))
    if field.kind == "u":
        values = magnitude.astype(field)
    else:
        signed = magnitude.astype(np.int64)
        values = np.where(negative, -signed, signed).astype(field)
    for index in np.flatnonzero(~ok):
        try:
            value = int(u[starts[index]:ends[index]].tobytes())
        except ValueError:
            return None
        if not info.min <= value <= info.max:
            return None
        values[index] = value
    return values


def _diagnose(text: bytes, dtype: np.dtype[np.void], *, first_line: int, source: str,
              what: str, limit: int) -> InputError:
    """The error for the first bad line among the first ``limit`` non-empty lines (slow path)."""
    names = dtype.names or ()
    for number, line in enumerate(text.split(b"\n"), start=first_line):
        tokens = line.split()
        if not tokens:
            continue
        limit -= 1
        if limit < 0:
            break
        if len(tokens) != len(names):
            return InputError(f"{what} line {number} has {len(tokens)} values; expected "
                              f"{len(names)}.", source=source, line=number, field=what)
        for column, (token, name) in enumerate(zip(tokens, names, strict=True)):
            field = dtype[name]
            shown = token.decode("ascii", errors="replace")
            try:
                value = float(token) if field.kind == "f" else int(token)
            except ValueError:
                return InputError(
                    f"{what} line {number} value {excerpt(shown)} (column {column + 1}) is not a "
                    f"valid {'number' if field.kind == 'f' else 'integer'}.", source=source,
                    line=number, field=what)
            if field.kind in "iu":
                info = np.iinfo(field)
                if not info.min <= value <= info.max:
                    return InputError(
                        f"{what} has a value out of range for its type: line {number} value "
                        f"{excerpt(shown)} (column {column + 1}) does not fit {field}.",
                        source=source, line=number, field=what)
    return InputError(f"{what} has a value that could not be parsed.", source=source,
                      field=what)
