"""The vectorised ascii table parser (PCD/PLY ascii data) against Python's float() and int()."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sfs_kit.errors import InputError
from sfs_kit.readers import _text, read_pcd, read_ply
from sfs_kit.readers._text import _diagnose, parse_table

HEAD = b"# a header line that the parser never reads\n"
FLOATS = np.dtype([("a", "<f8"), ("b", "<f4"), ("c", "<f8")])


def parse(body: bytes, dtype: np.dtype[np.void], rows: int, *, lookahead: bool = True
          ) -> _text.Table:
    return parse_table(HEAD + body, len(HEAD), dtype, rows=rows, first_line=2, source="t",
                       what="data", lookahead=lookahead)


def same_float(got: float, want: float) -> bool:
    """Equal bit for bit (the sign of zero included); any NaN equals any NaN."""
    if math.isnan(want):
        return math.isnan(got)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


finite = st.floats(allow_nan=False, allow_infinity=False)
formatted = st.one_of(
    finite.map(repr), finite.map(lambda v: f"{v:.6g}"), finite.map(lambda v: f"{v:.9g}"),
    finite.map(lambda v: f"{v:e}"), finite.map(lambda v: f"{v:.17g}"),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.9g}"),
    st.integers(-(10 ** 25), 10 ** 25).map(str),
    st.from_regex(r"\A[+-]?[0-9]{1,21}(\.[0-9]{0,21})?([eE][+-]?[0-9]{1,3})?\Z"),
    st.from_regex(r"\A[+-]?\.[0-9]{1,21}\Z"),
    st.sampled_from(["-0", "+0", "-0.0", "0.", ".5", "nan", "-nan", "NaN", "inf", "-Infinity",
                     "9007199254740993", "9007199254740992.5", "2.2250738585072014e-308",
                     "1e400", "1e-400", "+12.5", "00000000000000000000000001.5"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(formatted, formatted, formatted), min_size=1, max_size=40))
@example([("0.1", "0.1", "0.30000000000000004")])
@example([("179769313486231570000000000000000000000000000000000000000000000000000000000000000"
           "00000000000000000000000000000000000000000000000000", "1", "2")])
def test_floats_equal_python_float(rows: list[tuple[str, str, str]]) -> None:
    body = "".join(" ".join(row) + "\n" for row in rows).encode()
    table = parse(body, FLOATS, len(rows)).values
    for i, (a, b, c) in enumerate(rows):
        assert same_float(float(table["a"][i]), float(a)), a
        with np.errstate(over="ignore"):
            want_b = float(np.float32(float(b)))
        assert same_float(float(table["b"][i]), want_b), b
        assert same_float(float(table["c"][i]), float(c)), c


INTEGER_TYPES = ["<i1", "<u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(INTEGER_TYPES), st.data())
def test_integers_equal_python_int(kind: str, data: st.DataObject) -> None:
    info = np.iinfo(kind)
    values = data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=1,
                                max_size=30))
    signs = data.draw(st.lists(st.sampled_from(["", "+"]), min_size=len(values),
                               max_size=len(values)))
    tokens = [f"{s}{v}" if v >= 0 else str(v) for s, v in zip(signs, values, strict=True)]
    dtype = np.dtype([("n", kind), ("x", "<f4")])
    body = "".join(f"{t} 1.5\n" for t in tokens).encode()
    table = parse(body, dtype, len(tokens)).values
    assert table["n"].tolist() == [int(t) for t in tokens]


def test_whitespace_forms_and_blank_lines() -> None:
    body = b"\n  1\t2.5  3 \r\n\n4 5 6"  # leading blank line, tabs, CRLF, no final newline
    table = parse(body, FLOATS, 2).values
    assert table.tolist() == [(1.0, 2.5, 3.0), (4.0, 5.0, 6.0)]


def test_many_chunks_match_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-5, 6, size=(500, 3))
    body = "".join(f"{float(a)!r} {b:.9g} {c:.17g}\n" for a, b, c in values).encode()
    whole = parse(body, FLOATS, 500).values
    monkeypatch.setattr(_text, "_CHUNK", 64)
    chunked = parse(body, FLOATS, 500).values
    assert whole.tobytes() == chunked.tobytes()
    assert whole["a"].tolist() == values[:, 0].tolist()


def test_lookahead_reports_a_further_line() -> None:
    body = b"1 2 3\n4 5 6\n7 8 9\n"
    assert parse(body, FLOATS, 2).more
    assert not parse(body, FLOATS, 3).more
    assert not parse(body, FLOATS, 2, lookahead=False).more
    assert parse(body, FLOATS, 5).values.shape == (3,)


@pytest.mark.parametrize("token", ["1.2.3", "--1", "abc", "1e", "e5", ".", "-", "1-2", "1..2",
                                   "0x10", "1e5e5", "1.5e+-2", "١", "1\x002"])
def test_malformed_float_names_line_and_column(token: str) -> None:
    body = f"1 2 3\n\n4 {token} 6\n".encode()
    with pytest.raises(InputError, match=r"data line 4 value .* \(column 2\) is not a valid "
                                         r"number\.") as caught:
        parse(body, FLOATS, 2)
    assert caught.value.line == 4


@pytest.mark.parametrize("token", ["4.5", "4.", "1e3", "nan", "--4", "4a"])
def test_malformed_integer_names_line(token: str) -> None:
    dtype = np.dtype([("x", "<f4"), ("n", "<i4")])
    with pytest.raises(InputError, match=rf"data line 3 value '{token}' \(column 2\) is not a "
                                         r"valid integer\."):
        parse(f"1 2\n1 {token}\n".encode(), dtype, 2)


@pytest.mark.parametrize(("kind", "token"), [("<u1", "256"), ("<u1", "-1"), ("<i1", "-129"),
                                             ("<i8", "9223372036854775808"),
                                             ("<u8", "18446744073709551616")])
def test_integer_out_of_range_names_line(kind: str, token: str) -> None:
    dtype = np.dtype([("n", kind)])
    with pytest.raises(InputError, match=rf"data has a value out of range for its type: line 3 "
                                         rf"value '{token}' \(column 1\) does not fit") as caught:
        parse(f"1\n{token}\n".encode(), dtype, 2)
    assert caught.value.line == 3


@pytest.mark.parametrize(("body", "match"), [
    (b"1 2 3\n4 5\n", r"data line 3 has 2 values; expected 3\."),
    (b"1 2 3\n4 5 6 7\n", r"data line 3 has 4 values; expected 3\."),
    (b"1 2 3 \x00\n", r"data line 2 has 4 values; expected 3\."),
])
def test_wrong_value_count_names_line(body: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse(body, FLOATS, 2)


def test_first_bad_line_wins_over_later_ones() -> None:
    body = b"1 2 3\n4 x 6\n7 8\n"
    with pytest.raises(InputError, match=r"line 3 value 'x'"):
        parse(body, FLOATS, 3)


def test_diagnose_of_clean_text_is_generic() -> None:
    error = _diagnose(b"1 2 3\n", FLOATS, first_line=1, source="t", what="data", limit=1)
    assert str(error).startswith("data has a value that could not be parsed.")


def test_huge_points_count_with_little_data_is_refused() -> None:
    n = 10 ** 12
    data = (f"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {n}\n"
            f"HEIGHT 1\nPOINTS {n}\nDATA ascii\n1 2 3\n").encode()
    with pytest.raises(InputError, match=rf"fewer lines than POINTS {n} \(found 1\)"):
        read_pcd(io.BytesIO(data))


def test_pcd_nan_rows_as_pcl_writes_them() -> None:
    data = (b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\n"
            b"HEIGHT 1\nPOINTS 2\nDATA ascii\nnan nan nan\n1 -2.5 3e2\n")
    cloud = read_pcd(io.BytesIO(data))
    assert np.isnan(cloud.positions[0]).all()
    assert cloud.positions[1].tolist() == [1.0, -2.5, 300.0]


def test_ply_ascii_ignores_faces_after_the_vertices() -> None:
    data = (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
            b"property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
            b"end_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    assert read_ply(io.BytesIO(data)).positions.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
