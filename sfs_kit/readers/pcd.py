"""PCL ``.pcd`` files (v0.5-0.7): ascii, binary and binary_compressed data; and a writer.

Header (text lines, ``#`` comments): ``VERSION``, ``FIELDS`` names, ``SIZE`` bytes (1/2/4/8),
``TYPE`` I/U/F, ``COUNT`` (default 1), ``WIDTH``, ``HEIGHT`` (default 1), ``VIEWPOINT`` tx ty tz
qw qx qy qz, ``POINTS`` (must equal WIDTH*HEIGHT), ``DATA`` ascii|binary|binary_compressed. Data:

- ``binary``: N little-endian records of the fields in order (array of structs), read zero-copy.
- ``binary_compressed``: ``<u4`` compressed size, ``<u4`` uncompressed size, then one LZF block
  holding each field's N values contiguously (struct of arrays), in field order. PCL omits the
  ``_`` padding fields there; both layouts are accepted, told apart by the uncompressed size.
- ``ascii``: one point per line, COUNT tokens per field. ``rgb``/``rgba`` of TYPE F hold the
  float whose bits are the packed colour, whatever its printed form (as PCL, open3d and pypcd4
  read it); TYPE U/I hold the packed integer.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.readers import _lzf
from sfs_kit.readers._cloud import PointCloud, TimeUnit, cloud_from_fields
from sfs_kit.readers._source import Source, read_all, write_payload
from sfs_kit.readers._text import parse_table

__all__ = ["PcdHeader", "read_pcd", "write_pcd"]

logger = logging.getLogger(__name__)

PcdData = Literal["ascii", "binary", "binary_compressed"]
_TYPE_KIND = {"I": "i", "U": "u", "F": "f"}
_VALID_SIZES = {"I": (1, 2, 4, 8), "U": (1, 2, 4, 8), "F": (4, 8)}


@dataclass(frozen=True)
class PcdHeader:
    """A parsed PCD header; ``names`` are unique (repeated ``_`` padding fields get suffixes;
    any other repeated name is an error)."""

    names: tuple[str, ...]
    dtypes: tuple[np.dtype[np.generic], ...]
    counts: tuple[int, ...]
    width: int
    height: int
    points: int
    viewpoint: tuple[float, ...]
    data: str
    data_offset: int

    def record_dtype(self) -> np.dtype[np.void]:
        """The packed array-of-structs dtype of one point."""
        return np.dtype([
            (name, dtype) if count == 1 else (name, dtype, (count,))
            for name, dtype, count in zip(self.names, self.dtypes, self.counts, strict=True)
        ])


def _header_error(message: str, source: str, line: int, field: str) -> InputError:
    return InputError(message, source=source, line=line, field=field)


def parse_header(data: bytes, source: str) -> PcdHeader:
    """Parse the text header up to and including the ``DATA`` line."""
    entries: dict[str, tuple[int, list[str]]] = {}
    pos = 0
    line_no = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            raise InputError(
                f"PCD header has no DATA line (read {line_no} lines).", source=source,
                line=line_no, field="DATA")
        line_no += 1
        raw = data[pos:end]
        pos = end + 1
        try:
            text = raw.decode("ascii").split("#", 1)[0].strip()
        except UnicodeDecodeError as err:
            raise _header_error(f"PCD header line {line_no} is not ASCII text.", source,
                                line_no, "header") from err
        if not text:
            continue
        key, *values = text.split()
        key = key.upper()
        entries[key] = (line_no, values)
        if key == "DATA":
            break

    def get(key: str, default: list[str] | None = None) -> tuple[int, list[str]]:
        if key in entries:
            return entries[key]
        if default is None:
            raise _header_error(f"PCD header has no {key} line.", source, line_no, key)
        return (line_no, default)

    _, fields = get("FIELDS")
    n_fields = len(fields)
    size_line, sizes = get("SIZE")
    type_line, types = get("TYPE")
    count_line, counts_text = get("COUNT", ["1"] * n_fields)
    for key, at, values in (("SIZE", size_line, sizes), ("TYPE", type_line, types),
                            ("COUNT", count_line, counts_text)):
        if len(values) != n_fields:
            raise _header_error(
                f"PCD header {key} has {len(values)} entries but FIELDS names {n_fields}.",
                source, at, key)

    def integer(key: str, at: int, text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise _header_error(f"PCD header {key} value {text!r} is not an integer.", source,
                                at, key) from err
        if value < 0:
            raise _header_error(f"PCD header {key} value {value} is negative.", source, at, key)
        return value

    dtypes: list[np.dtype[np.generic]] = []
    counts: list[int] = []
    for name, size_text, type_text, count_text in zip(fields, sizes, types, counts_text,
                                                      strict=True):
        size = integer("SIZE", size_line, size_text)
        kind = type_text.upper()
        if kind not in _TYPE_KIND or size not in _VALID_SIZES[kind]:
            raise _header_error(
                f"PCD field {name!r} has TYPE {type_text!r} with SIZE {size}, which is not "
                "supported (I/U 1, 2, 4, 8; F 4, 8).", source, type_line, "TYPE")
        dtypes.append(np.dtype(f"<{_TYPE_KIND[kind]}{size}"))
        count = integer("COUNT", count_line, count_text)
        if count < 1:
            raise _header_error(f"PCD field {name!r} has COUNT {count}; at least 1 is needed.",
                                source, count_line, "COUNT")
        counts.append(count)
    names: list[str] = []
    fields_line, _ = get("FIELDS")
    for name in fields:
        if name in names and not name.startswith("_"):
            raise _header_error(
                f"PCD header FIELDS names {name!r} more than once; only '_' padding fields may "
                "repeat.",
                source, fields_line, name)
        unique = name
        suffix = 1
        while unique in names:
            unique = f"{name}{suffix}"
            suffix += 1
        names.append(unique)
    width_line, width_text = get("WIDTH")
    width = integer("WIDTH", width_line, width_text[0] if width_text else "")
    height_line, height_text = get("HEIGHT", ["1"])
    height = integer("HEIGHT", height_line, height_text[0] if height_text else "")
    points_line, points_text = get("POINTS", [str(width * height)])
    points = integer("POINTS", points_line, points_text[0] if points_text else "")
    if points != width * height:
        raise _header_error(
            f"PCD header POINTS {points} differs from WIDTH*HEIGHT = {width}*{height} = "
            f"{width * height}.", source, points_line, "POINTS")
    view_line, view_text = get("VIEWPOINT", ["0", "0", "0", "1", "0", "0", "0"])
    try:
        viewpoint = tuple(float(v) for v in view_text)
    except ValueError as err:
        raise _header_error(f"PCD header VIEWPOINT {' '.join(view_text)!r} is not 7 numbers.",
                            source, view_line, "VIEWPOINT") from err
    if len(viewpoint) != 7:
        raise _header_error(f"PCD header VIEWPOINT has {len(viewpoint)} values; 7 are needed.",
                            source, view_line, "VIEWPOINT")
    data_line, data_kind = get("DATA")
    kind_text = data_kind[0].lower() if data_kind else ""
    if kind_text not in ("ascii", "binary", "binary_compressed"):
        raise _header_error(
            f"PCD DATA kind {kind_text!r} is unknown; expected 'ascii', 'binary' or "
            "'binary_compressed'.", source, data_line, "DATA")
    _check_counts_fit(fields, dtypes, counts, points=points, kind=kind_text,
                      available=max(len(data) - pos, 0), source=source, line=count_line)
    return PcdHeader(names=tuple(names), dtypes=tuple(dtypes), counts=tuple(counts), width=width,
                     height=height, points=points, viewpoint=viewpoint, data=kind_text,
                     data_offset=pos)


_COMPRESSED_LIMIT = 2**32 - 1  # binary_compressed stores the uncompressed size as a u32


def _check_counts_fit(names: Sequence[str], dtypes: Sequence[np.dtype[np.generic]],
                      counts: Sequence[int], *, points: int, kind: str, available: int,
                      source: str, line: int) -> None:
    """Refuse a field whose COUNT makes one point bigger than the data could hold.

    Checked on the header alone, before any dtype or column list is built from the counts (a
    COUNT of 10**12 would otherwise fail inside numpy or exhaust memory). An ascii value takes
    at least two bytes (a digit and a separator); a binary one its SIZE.
    """
    if points == 0:
        return  # nothing is read; the reader returns empty fields
    for name, dtype, count in zip(names, dtypes, counts, strict=True):
        if kind == "ascii":
            need, capacity = 2 * count - 1, available
            room = f"the {available} bytes of ascii data after the header"
        elif kind == "binary":
            need, capacity = count * dtype.itemsize, available
            room = f"the {available} bytes of data after the header"
        else:
            need, capacity = count * dtype.itemsize, _COMPRESSED_LIMIT
            room = f"a binary_compressed block ({_COMPRESSED_LIMIT} bytes at most)"
        if need > capacity:
            raise _header_error(
                f"PCD field {name!r} has COUNT {count}: one point needs at least {need} bytes "
                f"for it, more than {room}.", source, line, "COUNT")


def _empty_fields(header: PcdHeader) -> dict[str, npt.NDArray[np.generic]]:
    """Zero-point fields with the header's dtypes and counts (no record dtype is built)."""
    return {name: np.zeros((0,) if count == 1 else (0, count), dtype=dtype)
            for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True)}


def read_pcd(source: Source, *, time_unit: TimeUnit = "s", color_max: float | None = None
             ) -> PointCloud:
    """Read a PCD file (path or binary stream) into a ``PointCloud``.

    ``time_unit`` scales a ``t``/``time``/``timestamp`` field to seconds (e.g. "ns" for Ouster).
    The header's VIEWPOINT goes to ``extra["viewpoint"]`` as float64 [tx, ty, tz, qx, qy, qz, qw].
    """
    data, name = read_all(source)
    header = parse_header(data, name)
    if header.points == 0:
        fields = _empty_fields(header)
    elif header.data == "binary":
        fields = _read_binary(data, header, name)
    elif header.data == "binary_compressed":
        fields = _read_compressed(data, header, name)
    else:
        fields = _read_ascii(data, header, name)
    cloud = cloud_from_fields(fields, source=name, format="pcd", time_unit=time_unit,
                              color_max=color_max)
    tx, ty, tz, qw, qx, qy, qz = header.viewpoint
    extra = dict(cloud.extra)
    extra["viewpoint"] = np.array([tx, ty, tz, qx, qy, qz, qw], dtype=np.float64)
    return replace(cloud, extra=extra)


def _read_binary(data: bytes, header: PcdHeader, source: str
                 ) -> dict[str, npt.NDArray[np.generic]]:
    record = header.record_dtype()
    needed = header.points * record.itemsize
    available = len(data) - header.data_offset
    if available < needed:
        raise InputError(
            f"PCD binary data is truncated: {header.points} points of {record.itemsize} bytes "
            f"need {needed} bytes after the header (byte {header.data_offset}), found "
            f"{available}.", source=source, offset=header.data_offset + max(available, 0))
    surplus = data[header.data_offset + needed:]
    if surplus and surplus.strip(b"\0\r\n\t "):
        # bytes inserted inside the data section would shift every later point, and nothing
        # tells them from bytes appended after it: only padding (NUL or whitespace) passes, of
        # any length: real writers zero-fill (pypcd4's binary.pcd ends in 3,918 NUL bytes, which
        # PCL, open3d and pypcd4 ignore)
        raise InputError(
            f"PCD binary data has {len(surplus)} bytes more than the header's {header.points} "
            f"points of {record.itemsize} bytes ({needed} bytes from byte "
            f"{header.data_offset}); WIDTH/HEIGHT/POINTS or SIZE/COUNT do not match the data.",
            source=source, offset=header.data_offset + needed)
    if surplus:
        logger.debug("%s: %d padding bytes after the PCD binary data ignored", source,
                     len(surplus))
    table = np.frombuffer(data, dtype=record, count=header.points, offset=header.data_offset)
    return {name: table[name] for name in header.names}


def _read_compressed(data: bytes, header: PcdHeader, source: str
                     ) -> dict[str, npt.NDArray[np.generic]]:
    start = header.data_offset
    if len(data) - start < 8:
        raise InputError(
            f"PCD binary_compressed data is truncated: the 8-byte size prefix at byte {start} "
            f"has only {max(len(data) - start, 0)} bytes.", source=source, offset=start)
    compressed_size, uncompressed_size = struct.unpack_from("<II", data, start)
    block_start = start + 8
    if len(data) - block_start < compressed_size:
        raise InputError(
            f"PCD binary_compressed data is truncated: the LZF block at byte {block_start} "
            f"declares {compressed_size} bytes, found {len(data) - block_start}.",
            source=source, offset=block_start)
    n = header.points
    widths = [d.itemsize * c for d, c in zip(header.dtypes, header.counts, strict=True)]
    full = n * sum(widths)
    packed = n * sum(w for w, nm in zip(widths, header.names, strict=True)
                     if not nm.startswith("_"))
    if uncompressed_size not in (full, packed):
        raise InputError(
            f"PCD binary_compressed uncompressed size {uncompressed_size} does not match "
            f"{n} points of the header's fields ({full} bytes, or {packed} without padding).",
            source=source, offset=start + 4)
    if uncompressed_size == 0:
        raw = b""
    else:
        block = data[block_start:block_start + compressed_size]
        raw = _lzf.decompress(block, uncompressed_size, source=source, offset=block_start)
    skip_padding = uncompressed_size != full
    fields: dict[str, npt.NDArray[np.generic]] = {}
    offset = 0
    for name, dtype, count, width in zip(header.names, header.dtypes, header.counts, widths,
                                         strict=True):
        if skip_padding and name.startswith("_"):
            continue
        values = np.frombuffer(raw, dtype=dtype, count=n * count, offset=offset)
        fields[name] = values if count == 1 else values.reshape(n, count)
        offset += n * width
    return fields


def _read_ascii(data: bytes, header: PcdHeader, source: str
                ) -> dict[str, npt.NDArray[np.generic]]:
    columns: list[tuple[str, np.dtype[np.generic]]] = []
    for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True):
        parse_dtype = np.dtype("<f8") if name.lower() in ("rgb", "rgba") else dtype
        columns.extend((f"{name}\x00{i}", parse_dtype) for i in range(count))
    n = header.points
    header_lines = data.count(b"\n", 0, header.data_offset)
    table, more = parse_table(data, header.data_offset, np.dtype(columns), rows=n,
                              first_line=header_lines + 1, source=source, what="PCD ascii data")
    if more or table.shape[0] != n:
        raise InputError(
            f"PCD ascii data has {'more' if more else 'fewer'} lines than POINTS "
            f"{n} (found {n + 1 if more else table.shape[0]}{'+' if more else ''}).",
            source=source, line=header_lines + min(table.shape[0], n) + 1, field="POINTS")
    fields: dict[str, npt.NDArray[np.generic]] = {}
    for name, dtype, count in zip(header.names, header.dtypes, header.counts, strict=True):
        parts = [table[f"{name}\x00{i}"] for i in range(count)]
        values = parts[0] if count == 1 else np.stack(parts, axis=1)
        if name.lower() in ("rgb", "rgba"):
            values = _packed_colour_from_text(values, dtype, source, name)
        fields[name] = values
    return fields


def _packed_colour_from_text(values: npt.NDArray[np.generic], dtype: np.dtype[np.generic],
                             source: str, name: str) -> npt.NDArray[np.generic]:
    as_float = values.astype(np.float64)
    if dtype.kind == "f":
        # TYPE F: the text is the float whose bits are the packed colour (e.g. 4.2108e+06 is
        # 0x4A8080E0, colour (128, 128, 224)); read it as that float and keep its bits, as PCL,
        # open3d, pypcd4 and the file's binary twin do, even when it prints as a whole number
        return as_float.astype(dtype)
    if as_float.size and (as_float.min() < 0 or as_float.max() > 0xFFFFFFFF):
        raise InputError(f"PCD ascii colour field {name!r} has values outside 0..2**32-1.",
                         source=source, field=name)
    return as_float.astype(np.uint32)


# --- writer -----------------------------------------------------------------------------------


def _fields_for(cloud: PointCloud) -> dict[str, npt.NDArray[np.generic]]:
    fields: dict[str, npt.NDArray[np.generic]] = {}
    if cloud.origin_m.any():
        wide = cloud.positions.astype(np.float64) + cloud.origin_m
        fields.update(x=wide[:, 0], y=wide[:, 1], z=wide[:, 2])
    else:
        fields.update(x=cloud.positions[:, 0], y=cloud.positions[:, 1],
                      z=cloud.positions[:, 2])
    if cloud.intensity is not None:
        fields["intensity"] = cloud.intensity
    if cloud.colors is not None:
        c = cloud.colors.astype(np.uint32)
        fields["rgb"] = ((c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).view(np.float32)
    if cloud.time_s is not None:
        fields["t"] = cloud.time_s
    if cloud.ring is not None:
        fields["ring"] = cloud.ring
    for name, value in cloud.extra.items():
        if name not in fields and name != "viewpoint" and value.ndim == 1 \
                and value.dtype.kind in "iuf" and value.shape[0] == cloud.num_points:
            fields[name] = value
    return fields


def encode_pcd(cloud: PointCloud, data: PcdData = "binary",
               viewpoint: tuple[float, ...] = (0, 0, 0, 1, 0, 0, 0)) -> bytes:
    """The bytes of a PCD v0.7 file holding ``cloud`` (fields x y z [intensity rgb t ring ...])."""
    fields = _fields_for(cloud)
    n = cloud.num_points
    types = {"i": "I", "u": "U", "f": "F"}
    header = "\n".join([
        "# .PCD v0.7 - Point Cloud Data file format (written by sfs_kit)",
        "VERSION 0.7",
        "FIELDS " + " ".join(fields),
        "SIZE " + " ".join(str(v.dtype.itemsize) for v in fields.values()),
        "TYPE " + " ".join(types[v.dtype.kind] for v in fields.values()),
        "COUNT " + " ".join("1" for _ in fields),
        f"WIDTH {n}", "HEIGHT 1",
        "VIEWPOINT " + " ".join(f"{v:g}" for v in viewpoint),
        f"POINTS {n}", f"DATA {data}", "",
    ]).encode("ascii")
    record = np.dtype([(k, v.dtype.newbyteorder("<")) for k, v in fields.items()])
    if data == "binary":
        table = np.empty(n, dtype=record)
        for key, value in fields.items():
            table[key] = value
        return header + table.tobytes()
    if data == "binary_compressed":
        raw = b"".join(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes()
                       for v in fields.values())
        module = _lzf.lzf_module()
        block = module.compress(raw, len(raw) + len(raw) // 32 + 16) if module and raw else None
        if not isinstance(block, bytes):
            block = _lzf.compress_literal(raw)
        return header + struct.pack("<II", len(block), len(raw)) + block
    buffer = io.BytesIO()
    formats: list[str] = []
    columns: list[npt.NDArray[np.generic]] = []
    for value in fields.values():
        # TYPE F rgb is written as its float (9 digits keep every float32's bits), the form
        # every reader (PCL, open3d, pypcd4, ours) turns back into the same packed colour
        columns.append(value)
        formats.append({"f": "%.9g" if value.dtype.itemsize == 4 else "%.17g"}.get(
            value.dtype.kind, "%d"))
    if n:
        table = np.empty(n, dtype=[(f"c{i}", c.dtype) for i, c in enumerate(columns)])
        for i, column in enumerate(columns):
            table[f"c{i}"] = column
        np.savetxt(buffer, table, fmt=formats, delimiter=" ")
    return header + buffer.getvalue()


def write_pcd(target: str | os.PathLike[str] | BinaryIO, cloud: PointCloud,
              data: PcdData = "binary") -> None:
    """Write ``cloud`` as PCD; a path is written atomically, a stream is left open.

    Float64 positions plus a non-zero ``origin_m`` are written as F8 x y z (the file's frame).
    """
    write_payload(target, encode_pcd(cloud, data))


def fields_of(header: PcdHeader) -> Mapping[str, tuple[np.dtype[np.generic], int]]:
    """Field name -> (dtype, count), for describing a file without reading its data."""
    return {n: (d, c) for n, d, c in zip(header.names, header.dtypes, header.counts, strict=True)}
