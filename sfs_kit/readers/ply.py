"""Stanford ``.ply`` point clouds: ascii, binary_little_endian and binary_big_endian 1.0.

Header: ``ply``, ``format <kind> 1.0``, ``comment``/``obj_info`` lines, ``element <name> <count>``
followed by its ``property <type> <name>`` lines, then ``end_header``. Only the ``vertex`` element
is read; its properties are mapped by name (x y z, intensity/scalar_intensity, red green blue,
time, ring). Elements before ``vertex`` must have fixed-size properties (they are skipped); list
properties on the vertex element are refused. Elements after it (faces) are ignored.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud, TimeUnit, cloud_from_fields
from sfs_kit.readers._source import Source, read_all, write_payload
from sfs_kit.readers._text import parse_table

__all__ = ["encode_ply", "read_ply", "write_ply"]

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}


@dataclass(frozen=True)
class _Element:
    name: str
    count: int
    properties: tuple[tuple[str, str], ...]  # (name, type); type "list" marks a list property
    line: int


def _parse_header(data: bytes, source: str) -> tuple[str, list[_Element], int, int]:
    if not data.startswith(b"ply"):
        raise InputError("File does not start with the PLY magic 'ply'.", source=source,
                         line=1, field="magic")
    end = data.find(b"end_header")
    if end < 0:
        raise InputError("PLY header has no 'end_header' line.", source=source, field="header")
    stop = data.find(b"\n", end)
    data_offset = len(data) if stop < 0 else stop + 1
    lines = data[:end].decode("ascii", errors="replace").splitlines()
    fmt = ""
    elements: list[tuple[str, int, list[tuple[str, str]], int]] = []
    current: list[tuple[str, str]] | None = None
    for number, line in enumerate(lines, start=1):
        words = line.split()
        if not words or words[0] in ("ply", "comment", "obj_info"):
            continue
        if words[0] == "format":
            if len(words) < 2 or words[1] not in _FORMATS:
                raise InputError(
                    f"PLY format {excerpt(' '.join(words[1:]))} is unknown; expected ascii, "
                    "binary_little_endian or binary_big_endian.", source=source, line=number,
                    field="format")
            fmt = words[1]
        elif words[0] == "element":
            try:
                count = int(words[2])
            except (IndexError, ValueError) as err:
                raise InputError(f"PLY element line {excerpt(line)} needs a name and a count.",
                                 source=source, line=number, field="element") from err
            if count < 0:
                raise InputError(
                    f"PLY element {excerpt(words[1])} declares {excerpt(words[2])} items; a "
                    "count is not negative.", source=source, line=number, field="element")
            current = []
            elements.append((words[1], count, current, number))
        elif words[0] == "property":
            if current is None:
                raise InputError("PLY property line comes before any element.", source=source,
                                 line=number, field="property")
            if len(words) >= 5 and words[1] == "list":
                prop = (words[4], "list")
            elif len(words) == 3 and words[1] in _TYPES:
                prop = (words[2], _TYPES[words[1]])
            else:
                raise InputError(f"PLY property line {excerpt(line)} has an unknown type.",
                                 source=source, line=number, field="property")
            if any(prop[0] == known for known, _ in current):
                raise InputError(f"PLY property {excerpt(prop[0])} is declared twice in element "
                                 f"{excerpt(elements[-1][0])}.", source=source, line=number,
                                 field=prop[0])
            current.append(prop)
        else:
            raise InputError(f"PLY header line {excerpt(line)} is not understood.", source=source,
                             line=number, field="header")
    if not fmt:
        raise InputError("PLY header has no 'format' line.", source=source, field="format")
    done = [_Element(name, count, tuple(props), line) for name, count, props, line in elements]
    return fmt, done, data_offset, len(lines) + 1


def read_ply(source: Source, *, time_unit: TimeUnit = "s", color_max: float | None = None
             ) -> PointCloud:
    """Read the ``vertex`` element of a PLY file (path or binary stream) into a ``PointCloud``."""
    data, name = read_all(source)
    fmt, elements, offset, header_lines = _parse_header(data, name)
    byte_order = _FORMATS[fmt]
    lines_before = 0
    vertex: _Element | None = None
    for element in elements:
        if element.name == "vertex":
            vertex = element
            break
        if any(kind == "list" for _, kind in element.properties) and fmt != "ascii":
            raise InputError(
                f"PLY element {element.name!r} before 'vertex' has list properties; such files "
                "are not supported.", source=name, line=element.line, field=element.name)
        if fmt == "ascii":
            lines_before += element.count
        else:
            size = sum(np.dtype(kind).itemsize for _, kind in element.properties)
            offset += element.count * size
    if vertex is None:
        found = [e.name for e in elements]
        raise InputError(f"PLY file has no 'vertex' element (found {found!r}).", source=name,
                         field="vertex")
    if not vertex.properties:
        raise InputError("PLY element 'vertex' has no properties.", source=name,
                         line=vertex.line, field="vertex")
    lists = [p for p, kind in vertex.properties if kind == "list"]
    if lists:
        raise InputError(f"PLY vertex property {lists[0]!r} is a list; lists are not supported.",
                         source=name, line=vertex.line, field=lists[0])
    record = np.dtype([(p, byte_order + kind if byte_order else kind)
                       for p, kind in vertex.properties])
    n = vertex.count
    if fmt == "ascii":
        table = _read_ascii(data, offset, lines_before, header_lines, n=n, record=record,
                            source=name)
    else:
        needed = n * record.itemsize
        available = len(data) - offset
        if available < needed:
            raise InputError(
                f"PLY vertex data is truncated: {n} vertices of {record.itemsize} bytes need "
                f"{needed} bytes from byte {offset}, found {max(available, 0)}.",
                source=name, offset=offset + max(available, 0))
        table = np.frombuffer(data, dtype=record, count=n, offset=offset)
    fields: dict[str, npt.NDArray[np.generic]] = {}
    for prop in record.names or ():
        values = table[prop]
        native = values.dtype.newbyteorder("=")
        fields[prop] = values if values.dtype.isnative else values.astype(native)
    return cloud_from_fields(fields, source=name, format="ply", time_unit=time_unit,
                             color_max=color_max)


def _read_ascii(data: bytes, offset: int, skip: int, header_lines: int, *, n: int,
                record: np.dtype[np.void], source: str) -> npt.NDArray[np.void]:
    table = parse_table(data, offset, record, rows=n, first_line=header_lines + 1,
                        source=source, what="PLY ascii vertex data", skip=skip,
                        lookahead=False).values
    if table.shape[0] != n:
        raise InputError(
            f"PLY ascii vertex data has {table.shape[0]} lines but the header says {n}.",
            source=source, line=header_lines + skip + table.shape[0] + 1, field="vertex")
    return table


def encode_ply(cloud: PointCloud, fmt: str = "binary_little_endian") -> bytes:
    """The bytes of a PLY file with one ``vertex`` element (x y z [intensity red green blue])."""
    if fmt not in _FORMATS:
        raise InputError(f"PLY format {fmt!r} is unknown.", source=cloud.source, field="format")
    columns: dict[str, npt.NDArray[np.generic]] = {
        "x": cloud.positions[:, 0], "y": cloud.positions[:, 1], "z": cloud.positions[:, 2]}
    if cloud.intensity is not None:
        columns["intensity"] = cloud.intensity
    if cloud.colors is not None:
        columns.update(red=cloud.colors[:, 0], green=cloud.colors[:, 1], blue=cloud.colors[:, 2])
    if cloud.time_s is not None:
        columns["time"] = cloud.time_s
    if cloud.ring is not None:
        columns["ring"] = cloud.ring
    plain = ("char", "uchar", "short", "ushort", "int", "uint", "float", "double")
    names = {v: k for k, v in _TYPES.items() if k in plain}
    lines = ["ply", f"format {fmt} 1.0", "comment written by sfs_kit",
             f"element vertex {cloud.num_points}"]
    lines += [f"property {names[v.dtype.str[1:]]} {k}" for k, v in columns.items()]
    lines += ["end_header", ""]
    header = "\n".join(lines).encode("ascii")
    order = _FORMATS[fmt] or "<"
    table = np.empty(cloud.num_points, dtype=[(k, order + v.dtype.str[1:])
                                              for k, v in columns.items()])
    for key, value in columns.items():
        table[key] = value
    if fmt != "ascii":
        return header + table.tobytes()
    buffer = io.BytesIO()
    if cloud.num_points:
        fmts = ["%.9g" if v.dtype == np.float32 else "%.17g" if v.dtype.kind == "f" else "%d"
                for v in columns.values()]
        np.savetxt(buffer, table, fmt=fmts)
    return header + buffer.getvalue()


def write_ply(target: str | os.PathLike[str] | BinaryIO, cloud: PointCloud,
              fmt: str = "binary_little_endian") -> None:
    """Write ``cloud`` as PLY; a path is written atomically, a stream is left open."""
    write_payload(target, encode_ply(cloud, fmt))
