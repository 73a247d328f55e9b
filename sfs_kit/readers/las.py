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
from sfs_kit.readers._laz import (
    LASZIP_RECORD,
    LASZIP_USER,
    LAZ_MAX_RATIO,
    check_chunk_table,
    check_laszip_vlr,
    check_variable_chunks,
)
from sfs_kit.readers._laz import header_error as _fail
from sfs_kit.readers._rust_panics import is_panic, native_stderr_held
from sfs_kit.readers._source import Source, read_all

__all__ = ["LasHeaderInfo", "check_las_header", "read_las", "read_las_intensity_max"]

logger = logging.getLogger(__name__)

_EXTRA_DIMENSIONS = ("classification", "return_number", "number_of_returns")
_HEADER_MIN = 227  # LAS 1.0-1.2 public header block
_VLR_HEADER = 54
_EVLR_HEADER = 60
# the bytes of one point record of each point data format (LAS 1.4 R15, table 7 onwards)
_POINT_SIZES = {0: 20, 1: 28, 2: 26, 3: 34, 4: 57, 5: 63, 6: 30, 7: 36, 8: 38, 9: 59, 10: 67}


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
    laszip_vlr: tuple[int, int] | None  # (byte offset, length) of the LASzip VLR's data


def _laspy(source: str) -> ModuleType:
    try:
        return importlib.import_module("laspy")
    except ImportError as err:
        raise MissingDependencyError(
            "Reading LAS/LAZ needs laspy: pip install 'sfs_kit[las]'.", source=source) from err


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
    laszip: tuple[int, int] | None = None
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
        if user == LASZIP_USER and record == LASZIP_RECORD:
            laszip = (pos + _VLR_HEADER, length)
            check_laszip_vlr(data, pos + _VLR_HEADER, length, point_size, name)
        pos += _VLR_HEADER + length
    body = size - offset_to_points
    if compressed and count:
        if laszip is None:
            raise _fail(name, "the point format is compressed (LAZ) but no LASzip VLR "
                        "describes the compression.", field="laszip_vlr", offset=104)
        check_chunk_table(data, offset_to_points, name)
        if count * point_size > LAZ_MAX_RATIO * body + (1 << 20):
            raise _fail(name, f"{count} points of {point_size} bytes cannot come out of "
                        f"{body} compressed bytes.", field="point_count", offset=107)
    elif count * point_size > body:
        raise _fail(name, f"{count} points of {point_size} bytes need {count * point_size} "
                    f"bytes but only {body} follow the point data offset (truncated file).",
                    field="point_count", offset=107)
    return LasHeaderInfo(
        version=(major, minor), point_format=fmt, compressed=compressed, point_size=point_size,
        point_count=count, vlr_count=vlr_count, offset_to_points=offset_to_points,
        laszip_vlr=laszip)


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


def _read(laspy: ModuleType, data: bytes, name: str, *, intensity_only: bool = False) -> Any:
    with _held_laspy_logs() as held, native_stderr_held() as watch:
        try:
            if intensity_only:  # LAS 1.4 layered LAZ decompresses only these layers
                selection = (laspy.DecompressionSelection.XY_RETURNS_CHANNEL
                             | laspy.DecompressionSelection.INTENSITY)
                las = laspy.read(io.BytesIO(data), decompression_selection=selection)
            else:
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
            if not is_panic(err):
                raise
            watch.panicked()
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
    info = check_las_header(data, name)
    if info.compressed and info.laszip_vlr is not None and info.point_count:
        _check_chunks(data, info, name)
    return _cloud(_read(laspy, data, name), name)


def read_las_intensity_max(source: Source) -> int:
    """The largest raw value of a LAS/LAZ file's 16-bit intensity field (0 for no points).

    For deciding a sensor's intensity scale over all its files (``capture/_channels.py``)
    without building their clouds: an uncompressed file's field is read in place (bytes 12-13
    of every point record, in every point format), a LAZ file is decompressed by lazrs with only
    the intensity selected. The same header checks and errors as ``read_las``.
    """
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    laspy = _laspy(name or "<stream>")
    data, name = read_all(source)
    info = check_las_header(data, name)
    if not info.point_count:
        return 0
    if not info.compressed:
        records = np.frombuffer(data, dtype=np.uint8, count=info.point_count * info.point_size,
                                offset=info.offset_to_points).reshape(-1, info.point_size)
        return int(np.ascontiguousarray(records[:, 12:14]).view("<u2").max())
    if info.laszip_vlr is not None:
        _check_chunks(data, info, name)
    las = _read(laspy, data, name, intensity_only=True)
    values = np.asarray(las.intensity)
    return int(values.max()) if values.size else 0


def _check_chunks(data: bytes, info: LasHeaderInfo, name: str) -> None:
    """Per-chunk point counts of a variable-chunk LAZ, read with lazrs under the same guard."""
    try:
        lazrs = importlib.import_module("lazrs")
    except ImportError:
        return  # laspy reports the missing LAZ backend itself
    assert info.laszip_vlr is not None
    with native_stderr_held() as watch:
        try:
            check_variable_chunks(lazrs, data, info.laszip_vlr,
                                  offset_to_points=info.offset_to_points,
                                  point_count=info.point_count, point_size=info.point_size,
                                  name=name)
        except (ValueError, OSError, RuntimeError, OverflowError, MemoryError) as err:
            raise InputError(f"The LAZ chunk table is malformed: {err}.", source=name,
                             field="chunk_table") from err
        except BaseException as err:
            if not is_panic(err):
                raise
            watch.panicked()
            raise InputError("The LAZ chunk table is malformed (lazrs panicked reading it).",
                             source=name, field="chunk_table") from None


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
