"""NumPy ``.npy``/``.npz`` point arrays: structured arrays by field name, or (N, k) with a layout.

A structured array's fields are mapped by name like PCD/PLY fields. A plain (N, k) array needs
``columns`` (``_`` skips a column), except (N, 3), which is taken as x, y, z. Pickled object
arrays are refused (``allow_pickle=False``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud, TimeUnit, cloud_from_fields
from sfs_kit.readers._source import Source, read_all
from sfs_kit.readers.kitti_bin import columns_to_fields

__all__ = ["read_npy"]


def _load(data: bytes, name: str, key: str | None) -> tuple[npt.NDArray[np.generic], str]:
    is_zip = data[:4] == b"PK\x03\x04"
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"Cannot read a NumPy array: {str(err).rstrip('.')}.",
                         source=name) from err
    if not is_zip:
        if key is not None:
            raise InputError(f"key {key!r} was given but the file is a single .npy array.",
                             source=name, field=key)
        return np.asarray(loaded), "npy"
    with loaded as archive:
        keys = list(archive.keys())
        if key is None:
            if len(keys) != 1:
                raise InputError(
                    f"The .npz archive holds {len(keys)} arrays {keys!r}; pass key= to pick one.",
                    source=name, field="key")
            key = keys[0]
        if key not in keys:
            raise InputError(f"The .npz archive has no array {key!r} (it has {keys!r}).",
                             source=name, field=key)
        try:
            return np.asarray(archive[key]), "npz"
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise InputError(f"Cannot read array {key!r}: {str(err).rstrip('.')}.",
                             source=name, field=key) from err


def read_npy(
    source: Source,
    *,
    columns: Sequence[str] | None = None,
    key: str | None = None,
    time_unit: TimeUnit = "s",
) -> PointCloud:
    """Read points from a ``.npy`` array or one array (``key``) of a ``.npz`` archive."""
    data, name = read_all(source)
    array, kind = _load(data, name, key)
    if array.dtype.names:
        if array.ndim != 1:
            raise InputError(f"A structured point array must be 1-D, found shape {array.shape!r}.",
                             source=name, field=key)
        if columns is not None:
            raise InputError("columns= applies to (N, k) arrays, not structured arrays.",
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
                    f"An (N, {array.shape[1]}) array needs columns= naming each column.",
                    source=name, field="columns")
            columns = ("x", "y", "z")
        fields = columns_to_fields(array, columns, source=name)
    return cloud_from_fields(fields, source=name, format=kind, time_unit=time_unit)
