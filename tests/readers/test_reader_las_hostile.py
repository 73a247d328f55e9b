"""Hostile LAS/LAZ: every header size is checked before laspy allocates, every failure is ours.

The files are laspy's real samples with header fields rewritten at their documented offsets (LAS
1.4 R15 public header block; LASzip VLR, user id "laszip encoded", record 22204).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import random
import struct
import time
from collections.abc import Callable

import numpy as np
import pytest
from reader_helpers import FIXTURES

from sfs_kit.errors import InputError
from sfs_kit.readers import las as las_module
from sfs_kit.readers import read_las
from sfs_kit.readers.las import read_las_intensity_max

SIMPLE_LAS = (FIXTURES / "laspy" / "simple.las").read_bytes()
SIMPLE_LAZ = (FIXTURES / "laspy" / "simple.laz").read_bytes()
lazrs = importlib.import_module("lazrs")  # laspy's LAZ backend, untyped
LASZIP_VLR_DATA = 227 + 54  # simple.laz: header 227 bytes, then the LASzip VLR's 54-byte header


def _patched(data: bytes, fmt: str, offset: int, *values: float) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def _garbage_n_vlrs() -> bytes:
    """PDAL's garbage_nVariableLength.las kind: a header claiming a billion VLRs in 14.6 kB."""
    return _patched(SIMPLE_LAS, "<I", 100, 1_000_000_000)[:14_600]


def test_a_billion_vlrs_end_in_our_error_within_a_second() -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match=r"1000000000 VLRs need at least 54000000000 bytes") as err:
        read_las(io.BytesIO(_garbage_n_vlrs()))
    assert time.monotonic() - started < 1.0
    assert err.value.field == "number_of_vlrs"
    assert err.value.offset == 100


@pytest.mark.parametrize(("fmt", "offset", "value", "field", "match"), [
    ("<I", 96, 10**9, "offset_to_point_data", r"offset to point data 1000000000 lies outside"),
    ("<H", 94, 100, "header_size", r"header size 100 must be at least 227"),
    ("<I", 107, 4_000_000_000, "point_count", r"4000000000 points of 34 bytes need"),
    ("<B", 104, 42, "point_data_format", r"point data format 42"),
    ("<H", 105, 10, "point_data_format", r"with 10-byte records"),
    ("<B", 25, 9, "version", r"version 1.9 is not a LAS version"),
])
def test_las_header_fields_checked_against_the_file(
        fmt: str, offset: int, value: int, field: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        read_las(io.BytesIO(_patched(SIMPLE_LAS, fmt, offset, value)))
    assert err.value.field == field


def test_laz_point_count_beyond_any_compression_is_refused() -> None:
    data = _patched(SIMPLE_LAZ, "<I", 107, 4_000_000_000)
    with pytest.raises(InputError, match=r"cannot come out of \d+ compressed bytes"):
        read_las(io.BytesIO(data))


@pytest.mark.parametrize(("offset", "value", "match"), [
    (LASZIP_VLR_DATA + 32, 0, r"declares 0 item\(s\)"),  # makes lazrs panic (division by zero)
    (LASZIP_VLR_DATA, 0, r"compressor 0"),
    (LASZIP_VLR_DATA + 34, 99, r"item 0 has type 99"),
    (LASZIP_VLR_DATA + 36, 200, r"item 0 has type 6 and size 200"),
])
def test_laszip_vlr_is_checked_before_lazrs_sees_it(offset: int, value: int, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_las(io.BytesIO(_patched(SIMPLE_LAZ, "<H", offset, value)))


def test_a_real_lazrs_panic_is_caught_at_our_boundary(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    # without our LASzip VLR check this VLR (no items) makes lazrs raise pyo3's PanicException,
    # a BaseException that ``except Exception`` does not catch, after Rust's panic hook wrote
    # "thread ... panicked at" and a backtrace to file descriptor 2
    monkeypatch.setattr(las_module, "check_laszip_vlr", lambda *args: None)
    data = _patched(SIMPLE_LAZ, "<H", LASZIP_VLR_DATA + 32, 0)
    with pytest.raises(InputError, match=r"decompression failed inside lazrs") as err:
        read_las(io.BytesIO(data))
    assert err.value.__cause__ is None  # the Rust panic text is summarised, not chained
    assert capfd.readouterr().err == ""  # our error is the only message


def test_other_stderr_output_during_a_lazrs_read_is_kept(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import laspy

    real_read = laspy.read

    def chatty(source: object) -> object:
        os.write(2, b"a C library said this\n")
        return real_read(source)

    monkeypatch.setattr(laspy, "read", chatty)
    monkeypatch.setattr(las_module, "check_laszip_vlr", lambda *args: None)
    with pytest.raises(InputError, match=r"inside lazrs"):
        read_las(io.BytesIO(_patched(SIMPLE_LAZ, "<H", LASZIP_VLR_DATA + 32, 0)))
    assert capfd.readouterr().err == "a C library said this\n"
    assert read_las(io.BytesIO(SIMPLE_LAZ)).positions.shape == (1065, 3)
    assert capfd.readouterr().err == "a C library said this\n"  # and none of it lost


def _variable_chunk_laz(chunk_points: list[int]) -> bytes:
    """simple.las's points LAZ-compressed by lazrs in chunks of the given (variable) sizes."""
    count, record = struct.unpack_from("<I", SIMPLE_LAS, 107)[0], SIMPLE_LAS[105]
    at = struct.unpack_from("<I", SIMPLE_LAS, 96)[0]
    raw = SIMPLE_LAS[at:at + count * record]
    vlr = lazrs.LazVlr.new_for_compression(3, 0, True)
    out = io.BytesIO()
    out.write(SIMPLE_LAZ[:LASZIP_VLR_DATA])  # simple.laz's header and LASzip VLR header
    out.write(vlr.record_data())  # the same 52 bytes, chunk size 0xFFFFFFFF
    compressor = lazrs.LasZipCompressor(out, vlr)
    starts = [sum(chunk_points[:i]) for i in range(len(chunk_points))]
    compressor.compress_chunks(
        [raw[s * record:(s + n) * record] for s, n in zip(starts, chunk_points, strict=True)])
    compressor.done()
    return out.getvalue()


def _with_chunk_table(data: bytes, table: list[tuple[int, int]]) -> bytes:
    at = struct.unpack_from("<q", data, 333)[0]
    out = io.BytesIO(data[:at])
    out.seek(at)
    lazrs.write_chunk_table(out, table, lazrs.LazVlr(data[LASZIP_VLR_DATA:333]))
    return out.getvalue()


def test_variable_chunk_laz_reads_like_the_las_it_came_from() -> None:
    got = read_las(io.BytesIO(_variable_chunk_laz([100, 500, 465])))
    want = read_las(io.BytesIO(SIMPLE_LAS))
    assert np.array_equal(got.positions, want.positions)
    assert np.array_equal(got.intensity, want.intensity)  # type: ignore[arg-type]


@pytest.mark.parametrize(("chunk", "match", "field"), [
    ((2_000_000_000, 8748), r"LAZ chunk 1 declares 2000000000 points",
     "chunk_table[1].point_count"),
    ((500_000, 8748), r"LAZ chunk 1 declares 500000 points of 34 bytes in 8748",
     "chunk_table[1].point_count"),
    ((600, 8748), r"the LAZ chunks hold 1165 points but the header declares 1065",
     "chunk_table.point_count"),
    ((500, 87_480_000), r"declare 87490113 compressed bytes but only", "chunk_table.byte_count"),
])
def test_variable_chunk_point_counts_are_checked_before_lazrs_allocates(
        chunk: tuple[int, int], match: str, field: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    # lazrs allocates count * 34 bytes for a chunk up front: 2e9 points is a Rust abort (or a
    # "capacity overflow" panic), 500,000 points a silent 17 MB for 8.7 kB of data
    data = _variable_chunk_laz([100, 500, 465])
    table = lazrs.read_chunk_table(_at(data, 333), lazrs.LazVlr(data[LASZIP_VLR_DATA:333]))
    table[1] = chunk
    started = time.monotonic()
    with pytest.raises(InputError, match=match) as err:
        read_las(io.BytesIO(_with_chunk_table(data, table)))
    assert time.monotonic() - started < 1.0
    assert err.value.field == field
    assert capfd.readouterr().err == ""


def _at(data: bytes, offset: int) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.seek(offset)
    return stream


def test_header_date_overflow_is_our_error() -> None:
    # day 400 of year 9999: laspy's date arithmetic raises OverflowError
    data = _patched(SIMPLE_LAS, "<HH", 90, 400, 9999)
    with pytest.raises(InputError, match=r"malformed or truncated: date value out of range"):
        read_las(io.BytesIO(data))


def test_memory_error_is_our_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import laspy

    def exhausted(source: object) -> None:
        raise MemoryError

    monkeypatch.setattr(laspy, "read", exhausted)
    with pytest.raises(InputError, match=r"does not fit in memory") as err:
        read_las(io.BytesIO(SIMPLE_LAS))
    assert err.value.field == "point_count"


def test_laspy_error_logs_do_not_leak_before_our_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # chunked data declared pointwise: lazrs fails, and laspy logs that before re-raising it
    pointwise = _patched(SIMPLE_LAZ, "<H", LASZIP_VLR_DATA, 1)
    with pytest.raises(InputError, match="malformed or truncated: failed to fill whole buffer"):
        read_las(io.BytesIO(pointwise))
    assert not [r for r in caplog.records if r.name.startswith("laspy")]
    logging.getLogger("laspy").error("still reaches the log outside our reads")
    assert [r for r in caplog.records if r.name.startswith("laspy")]


def test_laz_chunk_size_and_chunk_table_are_checked() -> None:
    # lazrs allocates a chunk, and 16 bytes per declared chunk, before reading: Rust aborts the
    # whole process when such an allocation fails, so these never reach it
    with pytest.raises(InputError, match=r"chunk size 1912652624 points") as err:
        read_las(io.BytesIO(_patched(SIMPLE_LAZ, "<I", LASZIP_VLR_DATA + 12, 1912652624)))
    assert err.value.field == "laszip_vlr.chunk_size"
    table = struct.unpack_from("<q", SIMPLE_LAZ, 333)[0]  # the point data starts at byte 333
    with pytest.raises(InputError, match=r"declares 1694498816 chunks") as err:
        read_las(io.BytesIO(_patched(SIMPLE_LAZ, "<I", table + 4, 1694498816)))
    assert err.value.field == "chunk_table.number_of_chunks"
    with pytest.raises(InputError, match=r"chunk table offset 99999999 lies outside"):
        read_las(io.BytesIO(_patched(SIMPLE_LAZ, "<q", 333, 99_999_999)))


@pytest.mark.parametrize("reader", [read_las, read_las_intensity_max])
def test_random_header_corruption_always_ends_in_input_error(
        reader: Callable[[io.BytesIO], object], capfd: pytest.CaptureFixture[str]) -> None:
    # read_las_intensity_max reads the intensity field alone (in place, or intensity-only LAZ
    # decompression) to decide a lidar's scale: the same checks guard it
    rng = random.Random(10)
    for base in (SIMPLE_LAS, SIMPLE_LAZ):
        points_at = struct.unpack_from("<I", base, 96)[0]
        for _ in range(200):
            data = bytearray(base)
            for _ in range(rng.randint(1, 4)):
                where = rng.choice([rng.randrange(0, 360), rng.randrange(points_at, points_at + 16),
                                    rng.randrange(len(base) - 64, len(base))])
                data[where] = rng.randrange(256)
            started = time.monotonic()
            with contextlib.suppress(InputError):
                reader(io.BytesIO(bytes(data)))
            assert time.monotonic() - started < 1.0
    assert "panicked" not in capfd.readouterr().err


@pytest.mark.parametrize(("fmt", "value"), [("<d", float("nan")), ("<d", 0.0), ("<d", -0.01)])
def test_las_scale_factors_must_be_finite_and_positive(fmt: str, value: float) -> None:
    with pytest.raises(InputError, match=r"scale factors .* must be finite, the scales > 0") as err:
        read_las(io.BytesIO(_patched(SIMPLE_LAS, fmt, 139, value)))
    assert err.value.field == "scale"


def test_coordinates_beyond_float32_are_refused() -> None:
    data = _patched(SIMPLE_LAS, "<d", 131, 1e300)  # x scale: every x far beyond float32
    with pytest.raises(InputError, match=r"beyond float32's range") as err:
        read_las(io.BytesIO(data))
    assert err.value.field == "positions"
