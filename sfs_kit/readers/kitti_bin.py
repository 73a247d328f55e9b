"""Raw float dumps: KITTI velodyne ``.bin``, nuScenes ``.pcd.bin`` and any headerless float table.

- KITTI: little-endian float32 records ``x, y, z, reflectance`` (metres; reflectance 0..1).
- nuScenes: float32 records ``x, y, z, intensity, ring`` (metres; intensity 0..255; ring index
  stored as a float).
- ``read_raw_float``: the same for any column layout you declare; ``_`` names a column to skip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud, TimeUnit, cloud_from_fields
from sfs_kit.readers._source import Source, read_all

__all__ = ["KITTI_COLUMNS", "NUSCENES_COLUMNS", "columns_to_fields", "read_kitti_bin",
           "read_nuscenes_bin", "read_raw_float"]

KITTI_COLUMNS = ("x", "y", "z", "reflectance")
NUSCENES_COLUMNS = ("x", "y", "z", "intensity", "ring")


def columns_to_fields(table: npt.NDArray[np.generic], columns: Sequence[str], *, source: str
                      ) -> dict[str, npt.NDArray[np.generic]]:
    """Name the columns of an (N, k) table; ``_`` (or an empty name) skips a column."""
    if table.ndim != 2 or table.shape[1] != len(columns):
        raise InputError(
            f"The column layout names {len(columns)} columns but the data has shape "
            f"{table.shape!r}.", source=source, field="columns")
    named = [c for c in columns if c and c != "_"]
    duplicates = sorted({c for c in named if named.count(c) > 1})
    if duplicates:
        raise InputError(f"The column layout repeats {duplicates!r}.", source=source,
                         field="columns")
    return {name: table[:, i] for i, name in enumerate(columns) if name and name != "_"}


def read_raw_float(
    source: Source,
    columns: Sequence[str],
    *,
    dtype: str = "<f4",
    intensity_range: tuple[float, float] | None = None,
    time_unit: TimeUnit = "s",
    format: str = "raw",
    color_max: float | None = None,
) -> PointCloud:
    """Read a headerless table of ``dtype`` numbers, ``len(columns)`` per point."""
    data, name = read_all(source)
    item = np.dtype(dtype)
    k = len(columns)
    if k == 0:
        raise InputError("The column layout is empty; name at least x, y, z.", source=name,
                         field="columns")
    record = item.itemsize * k
    if len(data) % record:
        whole = len(data) // record
        raise InputError(
            f"Raw point data has {len(data)} bytes, not a multiple of the {record}-byte record "
            f"({k} x {item}); the data is truncated after point {whole}.",
            source=name, offset=whole * record)
    table = np.frombuffer(data, dtype=item).reshape(-1, k)
    fields = columns_to_fields(table, columns, source=name)
    return cloud_from_fields(fields, source=name, format=format, intensity_range=intensity_range,
                             time_unit=time_unit, color_max=color_max)


def read_kitti_bin(source: Source) -> PointCloud:
    """Read a KITTI velodyne scan (float32 x, y, z, reflectance; reflectance 0..1)."""
    return read_raw_float(source, KITTI_COLUMNS, intensity_range=(0.0, 1.0), format="kitti_bin")


def read_nuscenes_bin(source: Source) -> PointCloud:
    """Read a nuScenes lidar sweep (float32 x, y, z, intensity 0..255, ring)."""
    return read_raw_float(source, NUSCENES_COLUMNS, intensity_range=(0.0, 255.0),
                          format="nuscenes_bin")
