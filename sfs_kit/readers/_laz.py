"""LAZ-specific checks: the LASzip VLR and the chunk table, before lazrs allocates from them.

lazrs trusts what these structures declare: a LASzip VLR with no items makes it divide by zero
(a Rust panic), a chunk of a billion points or a table of a billion chunks makes it allocate
that much up front (Rust aborts the whole process when such an allocation fails). Every check
here is bounded by the file's size and names the field and its byte offset.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from sfs_kit.errors import InputError

__all__ = ["LASZIP_RECORD", "LASZIP_USER", "LAZ_MAX_RATIO", "check_chunk_table", "check_laszip_vlr",
           "check_variable_chunks", "header_error"]

LASZIP_USER = b"laszip encoded"
LASZIP_RECORD = 22204
_VARIABLE_CHUNKS = 0xFFFFFFFF
_MAX_CHUNK_BYTES = 256 << 20
# LAZ compresses real clouds 5-15x; more decompressed bytes per compressed byte than this is a lie
LAZ_MAX_RATIO = 256
# LASzip item type codes -> their sizes in bytes (0 = variable: BYTE/BYTE14 extra bytes)
_LASZIP_ITEMS = {0: 0, 6: 20, 7: 8, 8: 6, 9: 29, 10: 30, 11: 6, 12: 8, 13: 29, 14: 0}


def header_error(name: str, message: str, *, field: str, offset: int) -> InputError:
    """An ``InputError`` about a LAS/LAZ header structure at ``offset``."""
    return InputError(f"LAS header: {message}", source=name, field=field, offset=offset)


_fail = header_error




def check_laszip_vlr(data: bytes, start: int, length: int, point_size: int, name: str) -> None:
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


def check_chunk_table(data: bytes, offset_to_points: int, name: str) -> None:
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




def check_variable_chunks(lazrs: Any, data: bytes, vlr: tuple[int, int], *,
                          offset_to_points: int, point_count: int, point_size: int,
                          name: str) -> None:
    """A variable-chunk LAZ's per-chunk point counts must be bounded and add up to the header's.

    With fixed chunks the chunk size (checked in the VLR) bounds what lazrs allocates per chunk;
    with variable chunks (chunk size 0xFFFFFFFF) each chunk's point count comes from the
    compressed chunk table, and lazrs allocates ``count * point size`` bytes for it up front.
    ``check_chunk_table`` has already bounded the table's chunk count by the file's size.
    """
    laz_vlr = lazrs.LazVlr(data[vlr[0]:vlr[0] + vlr[1]])
    if not laz_vlr.uses_variable_size_chunks():
        return
    stream = io.BytesIO(data)
    stream.seek(offset_to_points)
    table_at = struct.unpack_from("<q", data, offset_to_points)[0]
    if table_at == -1:
        table_at = struct.unpack_from("<q", data, len(data) - 8)[0]
    try:
        table = lazrs.read_chunk_table(stream, laz_vlr)
    except lazrs.LazrsError as err:
        raise _fail(name, f"the LAZ chunk table at byte {table_at} cannot be read "
                           f"({err}).", field="chunk_table", offset=table_at) from err
    body = table_at - offset_to_points - 8
    total_points = total_bytes = 0
    for i, (points, size) in enumerate(table):
        if points * point_size > _MAX_CHUNK_BYTES or \
                points * point_size > LAZ_MAX_RATIO * size + (1 << 20):
            raise _fail(name, f"LAZ chunk {i} declares {points} points of {point_size} "
                               f"bytes in {size} compressed bytes (at most "
                               f"{_MAX_CHUNK_BYTES // max(point_size, 1)} points a chunk, "
                               f"{LAZ_MAX_RATIO}x compression).",
                               field=f"chunk_table[{i}].point_count", offset=table_at)
        total_points += points
        total_bytes += size
    if total_bytes > body:
        raise _fail(name, f"the LAZ chunks declare {total_bytes} compressed bytes but "
                           f"only {body} lie before the chunk table.",
                           field="chunk_table.byte_count", offset=table_at)
    if total_points != point_count:
        raise _fail(name, f"the LAZ chunks hold {total_points} points but the header "
                           f"declares {point_count}.", field="chunk_table.point_count",
                           offset=table_at)
