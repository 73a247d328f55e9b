"""The pyarrow fast path for ascii tables: identical to the exact parser, or None (then exact)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reader_helpers import assert_clouds_equal, make_cloud

from sfs_kit.errors import InputError
from sfs_kit.readers import _arrow_text, _text, read_pcd, read_ply, write_pcd, write_ply
from sfs_kit.readers._arrow_text import try_parse_table_arrow
from sfs_kit.readers._text import parse_table

HEAD = b"# a header line that neither parser reads\n"
FIELD_TYPES = ["<f4", "<f8", ">f4", "<f2", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4",
               "<u8", ">i4"]


@contextmanager
def exact_only() -> Iterator[None]:
    """parse_table without the fast path (the reference)."""
    saved = _arrow_text.ENABLED
    _arrow_text.ENABLED = False
    try:
        yield
    finally:
        _arrow_text.ENABLED = saved


def exact(text: bytes, dtype: np.dtype[np.void], rows: int, *, skip: int = 0,
          lookahead: bool = True) -> _text.Table | InputError:
    with exact_only():
        try:
            return parse_table(text, len(HEAD), dtype, rows=rows, first_line=2, source="t",
                               what="data", skip=skip, lookahead=lookahead)
        except InputError as err:
            return err


def fast(text: bytes, dtype: np.dtype[np.void], rows: int, *, skip: int = 0,
         lookahead: bool = True) -> npt.NDArray[np.void] | None:
    return try_parse_table_arrow(text, len(HEAD), dtype, rows=rows, skip=skip,
                                 lookahead=lookahead, min_bytes=0)


def check_same(text: bytes, dtype: np.dtype[np.void], rows: int, *, skip: int = 0,
               lookahead: bool = True) -> bool:
    """Fast path result is None or bit-identical to the exact parser's; True if it answered."""
    got = fast(text, dtype, rows, skip=skip, lookahead=lookahead)
    want = exact(text, dtype, rows, skip=skip, lookahead=lookahead)
    if got is None:
        return False
    assert isinstance(want, _text.Table), f"accepted; the exact parser refused: {want}"
    assert not want.more
    assert got.dtype == want.values.dtype
    assert got.tobytes() == want.values.tobytes()  # NaN payloads and the sign of zero included
    return True


finite = st.floats(allow_nan=False, allow_infinity=False)
float_token = st.one_of(
    finite.map(repr), finite.map(lambda v: f"{v:.6g}"), finite.map(lambda v: f"{v:.9g}"),
    finite.map(lambda v: f"{v:e}"), finite.map(lambda v: f"{v:.17g}"),
    st.floats(width=32).map(lambda v: f"{v:.9g}"),
    finite.map(lambda v: f"+{v:.9g}" if v >= 0 else f"{v:.9g}"),
    st.from_regex(r"\A[+-]?[0-9]{1,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?\Z"),
    st.sampled_from(["-0.0", "-0", "+0", "0.", ".5", "nan", "-nan", "+nan", "NaN", "inf", "-inf",
                     "+inf", "Inf", "1e400", "-1e400", "1e-400", "4.9e-324", "2.5e-324",
                     "9007199254740993", "3.4028235677973366e38", "3.4028235677973362e38",
                     "65520", "1.0000000596046448"]),
)
int_token = st.one_of(
    st.integers(-(2 ** 64), 2 ** 65).map(str), st.integers(0, 300).map(lambda v: f"+{v}"),
    st.integers(0, 99).map(lambda v: f"00{v}"), st.sampled_from(["-0", "1.0", "1e3", "nan"]),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[np.dtype[np.void], list[list[str]]]:
    kinds = draw(st.lists(st.sampled_from(FIELD_TYPES), min_size=1, max_size=5))
    dtype = np.dtype([(f"f{k}", kind) for k, kind in enumerate(kinds)])
    tokens = [float_token if np.dtype(kind).kind == "f" else int_token for kind in kinds]
    rows = draw(st.lists(st.tuples(*tokens), min_size=1, max_size=12))
    return dtype, [list(row) for row in rows]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.booleans())
@example((np.dtype([("a", "<f4"), ("b", "<u2")]), [["1.5", "7"], ["-0.0", "65535"]]), True)
def test_random_tables_identical_or_none(table: tuple[np.dtype[np.void], list[list[str]]],
                                         newline_at_end: bool) -> None:
    dtype, rows = table
    body = "\n".join(" ".join(row) for row in rows) + ("\n" if newline_at_end else "")
    check_same(HEAD + body.encode(), dtype, len(rows))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.+-eEnaNAifIF", min_size=1, max_size=9),
                min_size=1, max_size=6))
@example(["1e", "e1", ".", "+", "-", "1..2", "nan1", "infinf", "+-1", ".e5", "1e+-5"])
@example(["nan", "-nan", "+nan", "NAN", "inf", "-INF", "+iNf", "1E5", "5.", "-.5", "00001"])
def test_any_token_of_the_alphabet_parses_as_float_does(tokens: list[str]) -> None:
    """Over the alphabet the fast path admits, pyarrow accepts only what float() accepts."""
    float_column = np.dtype([("a", "<f8")])
    int_column = np.dtype([("a", "<i8")])
    text = HEAD + "".join(f"{t}\n" for t in tokens).encode()
    check_same(text, float_column, len(tokens))
    check_same(text, int_column, len(tokens))


def test_the_fast_path_answers_for_regular_tables() -> None:
    """Not vacuous: the comparisons above do see fast-path results."""
    dtype = np.dtype([("x", "<f4"), ("t", "<f8"), ("ring", "<u2"), ("d", "<i1")])
    text = HEAD + b"1.5 2e-3 7 -128\n-0.0 nan 65535 127\n+1 -inf 0 -0\n"
    assert check_same(text, dtype, 3)
    assert check_same(text, dtype, 3, lookahead=False)
    assert check_same(text + b"  \n\n", dtype, 3)  # a whitespace tail is not a further line
    assert check_same(HEAD + b"9 9 9 9\n" + text[len(HEAD):], dtype, 3, skip=1)
    assert check_same(text + b"3 4 5\n", dtype, 3, lookahead=False)  # PLY: rest ignored
    # float64 first, then float32 (rounding twice, as float() then astype); pyarrow's own
    # float32 parse would give 1.0000001 here.
    halfway = HEAD + b"1.0000000596046448\n"
    assert check_same(halfway, np.dtype([("a", "<f4")]), 1)
    single = fast(halfway, np.dtype([("a", "<f4")]), 1)
    assert single is not None
    assert single["a"].tolist() == [1.0]


IRREGULAR = [
    b"1 2\n\n3 4\n",  # blank line
    b"1  2\n3 4\n",  # repeated space
    b"1\t2\n3 4\n",  # tab
    b"1 2 \n3 4\n",  # trailing space
    b" 1 2\n3 4\n",  # leading space
    b"1 2\r\n3 4\r\n",  # CRLF
    b"1 2\r3 4\n",  # a lone CR (arrow would end a line there)
    b"1 2\n3 4\n5 6\n",  # more lines than rows (lookahead: parse_table reports more=True)
    b"1 2\n3 4\n \x00\n",  # a control byte after the table is a token
    b"1 2\n3\n",  # too few values
    b"1 2\n",  # too few lines
    b"1 2\n3 1_0\n",  # float() accepts '1_0'; outside the fast path's alphabet
    b"1 2\n3 0x10\n",
    b"1 2\n3 infinity\n",
    b"1 2\n3 4 # comment\n",
    b"1 2\n3 \"4\"\n",
    b"1 2\n3 1e\n",  # invalid: pyarrow fails, the exact parser reports it
    b"1 2\n3 300\n",  # out of range for the int8 column
    b"1 2\n3 +1\n",  # int() accepts '+1', pyarrow's integer parser does not
]


@pytest.mark.parametrize("body", IRREGULAR)
def test_irregular_input_goes_to_the_exact_parser(body: bytes) -> None:
    dtype = np.dtype([("a", "<f4"), ("b", "<i1")])
    assert fast(HEAD + body, dtype, 2) is None


def test_more_lines_are_ignored_without_lookahead_only() -> None:
    dtype = np.dtype([("a", "<f8")])
    text = HEAD + b"1\n2\n3\n"
    assert fast(text, dtype, 2) is None
    got = fast(text, dtype, 2, lookahead=False)
    assert got is not None
    assert got["a"].tolist() == [1.0, 2.0]


def test_small_tables_and_the_switch_leave_the_exact_parser_alone() -> None:
    dtype = np.dtype([("a", "<f8")])
    text = HEAD + b"1\n2\n"
    assert try_parse_table_arrow(text, len(HEAD), dtype, rows=2) is None  # below MIN_BYTES
    with exact_only():
        assert fast(text, dtype, 2) is None
    assert fast(text, dtype, 0) is None
    assert fast(text, np.dtype([("a", "<f8", (2,))]), 2) is None  # subarray field
    assert fast(text, np.dtype([("a", "?")]), 2) is None


def pcd_text(body: bytes, rows: int, fields: str = "x y z", types: str = "F F I") -> bytes:
    n = len(fields.split())
    return (f"VERSION 0.7\nFIELDS {fields}\nSIZE {' '.join(['4'] * n)}\nTYPE {types}\n"
            f"COUNT {' '.join(['1'] * n)}\nWIDTH {rows}\nHEIGHT 1\nPOINTS {rows}\n"
            "DATA ascii\n").encode() + body


READER_ERRORS = [
    (b"1 2 3\n4 5\n", r"PCD ascii data line 11 has 2 values; expected 3\."),
    (b"1 2 3\n4 5 1_0x\n", r"line 11 value '1_0x' \(column 3\) is not a valid integer\."),
    (b"1 2 3\n4 5 1e\n", r"line 11 value '1e' \(column 3\) is not a valid integer\."),
    (b"1 2 3\n4 5 9999999999\n", r"out of range for its type: line 11 value '9999999999' "
                                 r"\(column 3\) does not fit int32\."),
    (b"1 2 3\n4 nan. 5\n", r"line 11 value 'nan\.' \(column 2\) is not a valid number\."),
    (b"1 2 3\n4 5 6\n7 8 9\n", r"more lines than POINTS 2 \(found 3\+\)"),
    (b"1 2 3\n", r"fewer lines than POINTS 2 \(found 1\)"),
]


@pytest.mark.parametrize(("body", "message"), READER_ERRORS)
def test_reader_errors_are_the_exact_parsers(monkeypatch: pytest.MonkeyPatch, body: bytes,
                                             message: str) -> None:
    monkeypatch.setattr(_arrow_text, "MIN_BYTES", 0)  # the fast path is tried, and declines
    with pytest.raises(InputError, match=message):
        read_pcd(io.BytesIO(pcd_text(body, 2)))


@pytest.mark.parametrize("body", [b"1 2  3\n4 5 6\n", b"1\t2 3\r\n4 5 6\r\n", b"1 2 3\n\n4 5 6\n",
                                  b"1 2 3 \n 4 5 6\n\n"])
def test_reader_irregular_whitespace_still_parses(monkeypatch: pytest.MonkeyPatch,
                                                  body: bytes) -> None:
    monkeypatch.setattr(_arrow_text, "MIN_BYTES", 0)
    cloud = read_pcd(io.BytesIO(pcd_text(body, 2)))
    assert cloud.positions.tolist() == [[1, 2, 3], [4, 5, 6]]


def spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record whether each parse_table call was answered by the fast path."""
    answered: list[bool] = []

    def wrapper(*args: object, **kwargs: object) -> npt.NDArray[np.void] | None:
        result = try_parse_table_arrow(*args, **kwargs)  # type: ignore[arg-type]
        answered.append(result is not None)
        return result

    monkeypatch.setattr(_text, "try_parse_table_arrow", wrapper)
    return answered


def test_large_ascii_pcd_round_trip_uses_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = make_cloud(3000, seed=5, channels=True)
    buffer = io.BytesIO()
    write_pcd(buffer, cloud, data="ascii")
    assert len(buffer.getvalue()) > _arrow_text.MIN_BYTES
    answered = spy(monkeypatch)
    got = read_pcd(io.BytesIO(buffer.getvalue()))
    assert answered == [True]
    with exact_only():
        want = read_pcd(io.BytesIO(buffer.getvalue()))
    assert_clouds_equal(got, want)


def test_large_ascii_ply_with_faces_uses_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = make_cloud(3000, seed=6, channels=True)
    buffer = io.BytesIO()
    write_ply(buffer, cloud, fmt="ascii")
    text = buffer.getvalue().replace(b"end_header\n", b"element face 2\n"
                                     b"property list uchar int vertex_indices\nend_header\n")
    text += b"3 0 1 2\n3 2 1 0\n"
    answered = spy(monkeypatch)
    got = read_ply(io.BytesIO(text))
    assert answered == [True]
    with exact_only():
        want = read_ply(io.BytesIO(text))
    assert_clouds_equal(got, want)


def test_without_pyarrow_the_exact_parser_gives_the_same(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    cloud = make_cloud(3000, seed=7, channels=True)
    buffer = io.BytesIO()
    write_pcd(buffer, cloud, data="ascii")
    with_arrow = read_pcd(io.BytesIO(buffer.getvalue()))
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails
    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)
    answered = spy(monkeypatch)
    without = read_pcd(io.BytesIO(buffer.getvalue()))
    assert answered == [False]
    assert_clouds_equal(without, with_arrow)


def test_the_fast_path_does_not_import_pandas(tmp_path: Path) -> None:
    """pyarrow's to_numpy imports pandas when installed (0.5 s, 45 MB); the buffers do not."""
    path = tmp_path / "cloud.pcd"
    write_pcd(path, make_cloud(3000, seed=8), data="ascii")
    probe = ("import sys\nfrom sfs_kit.readers import _text, read_pcd\nanswered = []\n"
             "real = _text.try_parse_table_arrow\n"
             "def spy(*a, **k):\n    r = real(*a, **k)\n    answered.append(r is not None)\n"
             "    return r\n_text.try_parse_table_arrow = spy\nread_pcd(sys.argv[1])\n"
             "print(answered, 'pandas' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], check=True,
                          capture_output=True, text=True)
    assert done.stdout.split() == ["[True]", "False"]
