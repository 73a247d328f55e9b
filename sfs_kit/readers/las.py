"""LAS/LAZ through laspy (optional extra ``sfs_kit[las]``, with lazrs for LAZ).

Coordinates are the scaled ``x, y, z`` in float64, recentred on the whole-unit floor of their
bounding-box minimum when they exceed float32's millimetre range (see ``PointCloud.origin_m``); the
unit is the file's coordinate system's (often metres, US survey feet for State Plane files).
Intensity stays raw (the 16-bit field as stored; ``intensity_range`` is the field's nominal
0..65535, and whether the values are 8-bit ones is decided per sensor by the capture, see
``capture/_channels.py``), 16-bit colour becomes 8-bit (shifted right by 8 unless every value
already fits 0..255, as in files that store 8-bit colour), ``gps_time`` goes to ``time_s``
(seconds in the file's GPS time standard), classification and return numbers to ``extra``.

Hostile files: every count and offset of the public header, the VLRs, the LASzip VLR and the
EVLRs is checked against the file's size before laspy sees the bytes (a header claiming a billion
VLRs makes laspy loop for ever; a LASzip VLR with no items makes lazrs panic), and whatever laspy
or lazrs still raises, including pyo3's ``PanicException`` (a ``BaseException``), ``MemoryError``
and date ``OverflowError``, ends in ``InputError``. laspy's own log records are held back while
it reads: on failure their text joins our message, on success warnings are re-logged here.
"""

from __future__ import annotations

import importlib
import io
import logging
import math
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError, MissingDependencyError
from sfs_kit.readers._cloud import PointCloud, colors_from_channels, positions_from_xyz
from sfs_kit.readers._source import Source, read_all

__all__ = ["LasHeaderInfo", "check_las_header", "read_las"]

logger = logging.getLogger(__name__)

_EXTRA_DIMENSIONS = ("classification", "return_number", "number_of_returns")
_HEADER_MIN = 227  # LAS 1.0-1.2 public header block
_VLR_HEADER = 54
_EVLR_HEADER = 60
# the bytes of one point record of each point data format (LAS 1.4 R15, table 7 onwards)
_POINT_SIZES = {0: 20, 1: 28, 2: 26, 3: 34, 4: 57, 5: 63, 6: 30, 7: 36, 8: 38, 9: 59, 10: 67}
# LAZ compresses real clouds 5-15x; a point count implying more than this many decompressed
# bytes per compressed byte is a lie that would make lazrs allocate without bound
_LAZ_MAX_RATIO = 256
_LASZIP_USER = b"laszip encoded"
_LASZIP_RECORD = 22204
_VARIABLE_CHUNKS = 0xFFFFFFFF
_MAX_CHUNK_BYTES = 256 << 20
# LASzip item type codes -> their sizes in bytes (0 = variable: BYTE/BYTE14 extra bytes)
_LASZIP_ITEMS = {0: 0, 6: 20, 7: 8, 8: 6, 9: 29, 10: 30, 11: 6, 12: 8, 13: 29, 14: 0}


@dataclass(frozen=True)
class LasHeaderInfo:
    """What the public header declares, after it was checked against the file size."""

    version: tuple[int, int]
    point_format: int
    compressed: bool
    point_size: int
    point_count: int
    vlr_count: int
    offset_to_points: int


def _laspy(source: str) -> ModuleType:
    try:
        return importlib.import_module("laspy")
    except ImportError as err:
        raise MissingDependencyError(
            "Reading LAS/LAZ needs laspy: pip install 'sfs_kit[las]'.", source=source) from err


def _fail(name: str, message: str, *, field: str, offset: int) -> InputError:
    return InputError(f"LAS header: {message}", source=name, field=field, offset=offset)


def _check_laszip_vlr(data: bytes, start: int, length: int, point_size: int, name: str) -> None:
    """The LASzip VLR's items must be known and add up to the point record (lazrs panics else)."""
    if length < 34:
        raise _fail(name, f"the LASzip VLR at byte {start} has {length} bytes, fewer than the 34 "
                    "of its fixed part.", field="laszip_vlr", offset=start)
    compressor = struct.unpack_from("<H", data, start)[0]
    if compressor not in (1, 2, 3):
        raise _fail(name, f"the LASzip VLR names compressor {compressor}; only 1 (pointwise), "
                    "2 (chunked) and 3 (layered chunked) exist.", field="laszip_vlr.compressor",
                    offset=start)
    chunk = struct.unpack_from("<I", data, start + 12)[0]
    if compressor != 1 and chunk != _VARIABLE_CHUNKS and (
            chunk == 0 or chunk * point_size > _MAX_CHUNK_BYTES):
        # lazrs allocates a whole chunk up front; Rust aborts the process when that fails
        raise _fail(name, f"the LASzip VLR's chunk size {chunk} points is outside [1, "
                    f"{_MAX_CHUNK_BYTES // max(point_size, 1)}] for {point_size}-byte points.",
                    field="laszip_vlr.chunk_size", offset=start + 12)
    items = struct.unpack_from("<H", data, start + 32)[0]
    if items == 0 or 34 + 6 * items > length:
        raise _fail(name, f"the LASzip VLR declares {items} item(s) in {length} bytes; a "
                    "compressed point needs at least one item, 6 bytes each.",
                    field="laszip_vlr.num_items", offset=start + 32)
    total = 0
    for i in range(items):
        kind, size, _version = struct.unpack_from("<HHH", data, start + 34 + 6 * i)
        if kind not in _LASZIP_ITEMS or (_LASZIP_ITEMS[kind] and size != _LASZIP_ITEMS[kind]):
            raise _fail(name, f"LASzip item {i} has type {kind} and size {size}, which is no "
                        "LASzip item.", field="laszip_vlr.items", offset=start + 34 + 6 * i)
        total += size
    if total != point_size:
        raise _fail(name, f"the LASzip items add up to {total} bytes a point but the header's "
                    f"point record length is {point_size}.", field="laszip_vlr.items",
                    offset=start + 34)


def _check_chunk_table(data: bytes, offset_to_points: int, name: str) -> None:
    """LAZ's chunk table (its offset is the point data's first 8 bytes) must fit the file.

    lazrs allocates 16 bytes per declared chunk before reading any: a corrupt count of 10**9
    chunks would abort the process (Rust aborts when an allocation fails).
    """
    size = len(data)
    if offset_to_points + 8 > size:
        raise _fail(name, f"the LAZ point data at byte {offset_to_points} is shorter than its "
                    "8-byte chunk table offset.", field="chunk_table", offset=offset_to_points)
    table = struct.unpack_from("<q", data, offset_to_points)[0]
    if table == -1 and size >= 8:  # written last: the real offset is in the file's last 8 bytes
        table = struct.unpack_from("<q", data, size - 8)[0]
    if not offset_to_points + 8 <= table <= size - 8:
        raise _fail(name, f"the LAZ chunk table offset {table} lies outside the point data "
                    f"[{offset_to_points + 8}, {size - 8}].", field="chunk_table",
                    offset=offset_to_points)
    chunks = struct.unpack_from("<I", data, table + 4)[0]
    if chunks > size - offset_to_points:
        raise _fail(name, f"the LAZ chunk table declares {chunks} chunks, more than the "
                    f"{size - offset_to_points} bytes of point data could hold.",
                    field="chunk_table.number_of_chunks", offset=table + 4)


def check_las_header(data: bytes, name: str) -> LasHeaderInfo:
    """Check every size and count of a LAS/LAZ header against ``len(data)``; ``InputError`` else.

    Runs in time bounded by the file's size (it walks the VLRs it can hold), before any
    allocation a header field could make unbounded.
    """
    size = len(data)
    if size < _HEADER_MIN or data[:4] != b"LASF":
        raise _fail(name, f"the file has {size} bytes and starts {data[:4]!r}; a LAS file "
                    f"starts with b'LASF' and a header of at least {_HEADER_MIN} bytes.",
                    field="signature", offset=0)
    major, minor = data[24], data[25]
    if major != 1 or minor > 4:
        raise _fail(name, f"version {major}.{minor} is not a LAS version (1.0-1.4).",
                    field="version", offset=24)
    header_size, offset_to_points, vlr_count, fmt_id, point_size, legacy_count = (
        struct.unpack_from("<HIIBHI", data, 94))
    want_header = {3: 235, 4: 375}.get(minor, _HEADER_MIN)
    if not want_header <= header_size <= size:
        raise _fail(name, f"header size {header_size} must be at least {want_header} (LAS "
                    f"{major}.{minor}) and within the file's {size} bytes.", field="header_size",
                    offset=94)
    if not header_size <= offset_to_points <= size:
        raise _fail(name, f"offset to point data {offset_to_points} lies outside [{header_size}, "
                    f"{size}] (header end .. file size).", field="offset_to_point_data",
                    offset=96)
    room = offset_to_points - header_size
    if vlr_count * _VLR_HEADER > room:
        raise _fail(name, f"{vlr_count} VLRs need at least {vlr_count * _VLR_HEADER} bytes but "
                    f"only {room} lie between the header and the point data.",
                    field="number_of_vlrs", offset=100)
    compressed = bool(fmt_id & 0x80)
    fmt = fmt_id & 0x3F
    if fmt not in _POINT_SIZES or point_size < _POINT_SIZES[fmt]:
        raise _fail(name, f"point data format {fmt_id} with {point_size}-byte records is no LAS "
                    "point format (0-10, each with a minimum record size).",
                    field="point_data_format", offset=104)
    scales_offsets = struct.unpack_from("<6d", data, 131)
    if not all(math.isfinite(v) for v in scales_offsets) or min(scales_offsets[:3]) <= 0:
        raise _fail(name, f"scale factors {list(scales_offsets[:3])!r} and offsets "
                    f"{list(scales_offsets[3:])!r} must be finite, the scales > 0.",
                    field="scale", offset=131)
    count = legacy_count
    if minor >= 4:
        evlr_start, evlr_count, count14 = struct.unpack_from("<QIQ", data, 235)
        count = count14 or legacy_count
        if evlr_count and not (offset_to_points <= evlr_start
                               and evlr_start + evlr_count * _EVLR_HEADER <= size):
            raise _fail(name, f"{evlr_count} EVLRs starting at byte {evlr_start} do not fit the "
                        f"file's {size} bytes.", field="number_of_evlrs", offset=243)
    laszip = False
    pos = header_size
    for i in range(vlr_count):
        if pos + _VLR_HEADER > offset_to_points:
            raise _fail(name, f"VLR {i} at byte {pos} runs past the point data offset "
                        f"{offset_to_points}.", field=f"vlrs[{i}]", offset=pos)
        user = data[pos + 2:pos + 18].split(b"\0", 1)[0]
        record, length = struct.unpack_from("<HH", data, pos + 18)
        if pos + _VLR_HEADER + length > offset_to_points:
            raise _fail(name, f"VLR {i} at byte {pos} declares {length} bytes, past the point "
                        f"data offset {offset_to_points}.", field=f"vlrs[{i}].record_length",
                        offset=pos + 20)
        if user == _LASZIP_USER and record == _LASZIP_RECORD:
            laszip = True
            _check_laszip_vlr(data, pos + _VLR_HEADER, length, point_size, name)
        pos += _VLR_HEADER + length
    body = size - offset_to_points
    if compressed and count:
        if not laszip:
            raise _fail(name, "the point format is compressed (LAZ) but no LASzip VLR "
                        "describes the compression.", field="laszip_vlr", offset=104)
        _check_chunk_table(data, offset_to_points, name)
        if count * point_size > _LAZ_MAX_RATIO * body + (1 << 20):
            raise _fail(name, f"{count} points of {point_size} bytes cannot come out of "
                        f"{body} compressed bytes.", field="point_count", offset=107)
    elif count * point_size > body:
        raise _fail(name, f"{count} points of {point_size} bytes need {count * point_size} "
                    f"bytes but only {body} follow the point data offset (truncated file).",
                    field="point_count", offset=107)
    return LasHeaderInfo(
        version=(major, minor), point_format=fmt, compressed=compressed, point_size=point_size,
        point_count=count, vlr_count=vlr_count, offset_to_points=offset_to_points)


class _Held(logging.Handler):
    """Collects laspy's log records while it reads, so none reaches the user before our error."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self, level: int) -> str:
        return "; ".join(r.getMessage() for r in self.records if r.levelno >= level)


@contextmanager
def _held_laspy_logs() -> Iterator[_Held]:
    laspy_logger = logging.getLogger("laspy")
    held = _Held()
    before = laspy_logger.propagate
    laspy_logger.addHandler(held)
    laspy_logger.propagate = False
    try:
        yield held
    finally:
        laspy_logger.removeHandler(held)
        laspy_logger.propagate = before


def _is_panic(err: BaseException) -> bool:
    """pyo3's PanicException (a Rust panic in lazrs) derives from BaseException, not Exception."""
    return type(err).__name__ == "PanicException"


def _read(laspy: ModuleType, data: bytes, name: str) -> Any:
    with _held_laspy_logs() as held:
        try:
            las = laspy.read(io.BytesIO(data))
        except laspy.errors.LaspyException as err:
            raise InputError(f"Cannot read LAS/LAZ data: {str(err).rstrip('.')}.",
                             source=name) from err
        except MemoryError as err:
            raise InputError("LAS/LAZ data does not fit in memory (the header's point count "
                             "and record size).", source=name, field="point_count") from err
        except (ValueError, EOFError, OSError, RuntimeError, OverflowError, struct.error,
                IndexError, KeyError, TypeError) as err:  # lazrs raises RuntimeError
            raise InputError(f"LAS/LAZ data is malformed or truncated: "
                             f"{str(err).rstrip('.') or type(err).__name__}.", source=name) from err
        except BaseException as err:
            if not _is_panic(err):
                raise
            first = str(err).splitlines()[0] if str(err) else "panic"
            raise InputError(f"LAS/LAZ decompression failed inside lazrs ({first}); the LAZ "
                             "data is malformed or from an unsupported LASzip version.",
                             source=name) from None
    errors = held.text(logging.ERROR)
    if errors:
        raise InputError(f"LAS/LAZ data is malformed or truncated: {errors}.", source=name)
    for record in held.records:
        if record.levelno >= logging.WARNING:
            logger.warning("%s: laspy: %s", name, record.getMessage())
    return las


def read_las(source: Source) -> PointCloud:
    """Read a LAS or LAZ file (path or binary stream) into a ``PointCloud``."""
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    laspy = _laspy(name or "<stream>")
    data, name = read_all(source)
    check_las_header(data, name)
    return _cloud(_read(laspy, data, name), name)


def _cloud(las: Any, name: str) -> PointCloud:
    x = np.asarray(las.x, dtype=np.float64)
    y = np.asarray(las.y, dtype=np.float64)
    z = np.asarray(las.z, dtype=np.float64)
    positions, origin = positions_from_xyz(x, y, z, source=name)
    dimensions = set(las.point_format.dimension_names)
    colors = None
    if {"red", "green", "blue"} <= dimensions:
        colors = colors_from_channels(
            [np.asarray(las.red), np.asarray(las.green), np.asarray(las.blue)],
            source=name, name="red")
    time_s = np.asarray(las.gps_time, dtype=np.float64) if "gps_time" in dimensions else None
    extra: dict[str, npt.NDArray[np.generic]] = {
        dim: np.asarray(las[dim]) for dim in _EXTRA_DIMENSIONS if dim in dimensions}
    return PointCloud(
        positions=positions, source=name, format="las", origin_m=origin,
        intensity=np.asarray(las.intensity, dtype=np.float32), intensity_range=(0.0, 65535.0),
        colors=colors, time_s=time_s, extra=extra)
