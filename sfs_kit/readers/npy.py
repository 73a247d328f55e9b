"""NumPy ``.npy``/``.npz`` point arrays: structured arrays by field name, or (N, k) with a layout.

A structured array's fields are mapped by name like PCD/PLY fields. A plain (N, k) array needs
``columns`` (``_`` skips a column), except (N, 3), which is taken as x, y, z. Pickled object
arrays are refused (``allow_pickle=False``).
"""

from __future__ import annotations

import io
import tokenize
import zipfile
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud, TimeUnit, cloud_from_fields
from sfs_kit.readers._source import Source, read_all
from sfs_kit.readers.kitti_bin import columns_to_fields

__all__ = ["read_npy"]


_NPY_MAGIC = b"\x93NUMPY"
_MAX_DEFLATE_RATIO = 1100
"""Deflate expands at most ~1032:1; a member claiming more is a zip bomb or a lie."""


def _header_text(data: bytes, size_bytes: int) -> str:
    """The raw header dict text after the magic, for messages (numpy's own can leak AST reprs)."""
    size = int.from_bytes(data[8:8 + size_bytes], "little")
    text = data[8 + size_bytes:8 + size_bytes + min(size, 200)].decode("latin1").strip()
    return text if size <= 200 else text + "..."


def _parse_npy(data: bytes, name: str, what: str) -> npt.NDArray[np.generic]:
    """One ``.npy`` image -> a read-only array viewing ``data``, every size checked first.

    The header is read with ``np.lib.format`` (``read_magic``, ``read_array_header_1_0/2_0``),
    then the declared ``shape`` x ``itemsize`` is compared with the bytes after the header
    before anything is allocated, so a lying header costs nothing.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError as err:
        raise InputError(f"Cannot read a NumPy array from {what}: it does not start with the .npy "
                         f"magic (found {data[:8]!r}).", source=name, offset=0) from err
    if version not in ((1, 0), (2, 0)):
        raise InputError(f"NumPy .npy format version {version[0]}.{version[1]} in {what} is not "
                         "supported (1.0 and 2.0 are).", source=name, offset=6)
    size_bytes = 2 if version == (1, 0) else 4
    header_end = 8 + size_bytes + int.from_bytes(data[8:8 + size_bytes], "little")
    if len(data) < 8 + size_bytes or header_end > len(data):
        raise InputError(f"The .npy header of {what} is truncated: it should end at byte "
                         f"{header_end} but the data has {len(data)} bytes.", source=name,
                         offset=len(data))
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, TypeError, SyntaxError, tokenize.TokenError, RecursionError,
            MemoryError) as err:
        raise InputError(f"Cannot read a NumPy array from {what}: its header "
                         f"{_header_text(data, size_bytes)!r} is not a valid array description.",
                         source=name, offset=8) from err
    if dtype.hasobject:
        raise InputError(f"The array in {what} holds Python objects ({dtype}); pickled arrays are "
                         "refused.", source=name, field="dtype")
    offset = stream.tell()
    if any(int(side) < 0 for side in shape):
        raise InputError(f"The .npy header of {what} declares shape {tuple(shape)!r}: a "
                         "dimension is negative.", source=name, field="shape", offset=8)
    count = 1
    for side in shape:
        count *= int(side)
    needed = count * dtype.itemsize
    available = len(data) - offset
    if needed > available:
        raise InputError(f"The .npy header of {what} declares shape {tuple(shape)!r} of {dtype} "
                         f"({needed} bytes) but only {available} bytes follow the header.",
                         source=name, field="shape", offset=offset)
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def _load(data: bytes, name: str, key: str | None) -> tuple[npt.NDArray[np.generic], str]:
    if data[:4] != b"PK\x03\x04":
        if key is not None:
            raise InputError(f"key {key!r} was given but the file is a single .npy array.",
                             source=name, field=key)
        return _parse_npy(data, name, "the file"), "npy"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {m.filename.removesuffix(".npy"): m for m in archive.infolist()
                       if m.filename.endswith(".npy")}
            keys = list(members)
            if key is None:
                if len(keys) != 1:
                    raise InputError(f"The .npz archive holds {len(keys)} arrays {keys!r}; pass "
                                     "key= to pick one.", source=name, field="key")
                key = keys[0]
            if key not in members:
                raise InputError(f"The .npz archive has no array {key!r} (it has {keys!r}).",
                                 source=name, field=key)
            info = members[key]
            if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 4096:
                raise InputError(
                    f"Array {key!r} of the .npz archive claims {info.file_size} bytes from "
                    f"{info.compress_size} compressed ones, more than deflate can expand to.",
                    source=name, field=key)
            # zipfile checks the member against its declared size and CRC while reading
            member = archive.read(info)
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, zlib.error, ValueError,
            RuntimeError, OverflowError) as err:
        raise InputError(f"Cannot read array {key!r} of the .npz archive: "
                         f"{str(err).rstrip('.')}.", source=name, field=key) from err
    return _parse_npy(member, name, f"array {key!r}"), "npz"


def read_npy(
    source: Source,
    *,
    columns: Sequence[str] | None = None,
    key: str | None = None,
    time_unit: TimeUnit = "s",
    color_max: float | None = None,
) -> PointCloud:
    """Read points from a ``.npy`` array or one array (``key``) of a ``.npz`` archive."""
    data, name = read_all(source)
    array, kind = _load(data, name, key)
    if array.dtype.names:
        if array.ndim != 1:
            raise InputError(f"A structured point array must be 1-D, found shape {array.shape!r}.",
                             source=name, field=key)
        if columns is not None:
            raise InputError("columns= applies to (N, k) arrays, not structured arrays "
                             "(--columns on the command line).",
                             source=name, field="columns")
        fields = {field: np.asarray(array[field]) for field in array.dtype.names}  # type: ignore[call-overload]
    else:
        if array.ndim != 2 or array.dtype.kind not in "iuf":
            raise InputError(
                f"Expected a numeric (N, k) array, found {array.dtype} {array.shape!r}.",
                source=name, field=key)
        if columns is None:
            if array.shape[1] != 3:
                raise InputError(
                    f"An (N, {array.shape[1]}) array needs columns= naming each column "
                    f"(--columns x,y,z,... on the command line).",
                    source=name, field="columns")
            columns = ("x", "y", "z")
        fields = columns_to_fields(array, columns, source=name)
    return cloud_from_fields(fields, source=name, format=kind, time_unit=time_unit,
                             color_max=color_max)
