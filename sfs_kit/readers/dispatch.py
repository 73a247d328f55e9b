"""``read_point_cloud``: pick the point-cloud reader from the file name."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sfs_kit.errors import InputError
from sfs_kit.readers._cloud import PointCloud, TimeUnit
from sfs_kit.readers.kitti_bin import read_kitti_bin, read_nuscenes_bin, read_raw_float
from sfs_kit.readers.las import read_las
from sfs_kit.readers.npy import read_npy
from sfs_kit.readers.pcd import read_pcd
from sfs_kit.readers.ply import read_ply

__all__ = ["POINT_CLOUD_SUFFIXES", "read_point_cloud"]

POINT_CLOUD_SUFFIXES = (".pcd.bin", ".pcd", ".bin", ".ply", ".npy", ".npz", ".las", ".laz")


def read_point_cloud(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    key: str | None = None,
    time_unit: TimeUnit = "s",
    color_max: float | None = None,
) -> PointCloud:
    """Read any supported point file by extension.

    ``.pcd``, ``.ply``, ``.las``/``.laz``, ``.npy``/``.npz`` (``columns``, ``key``), ``.pcd.bin``
    (nuScenes) and ``.bin`` (KITTI, or any float32 dump when ``columns`` is given).
    ``color_max`` is the value of float colour channels that means 255 (default 1.0).
    """
    name = os.fspath(path)
    lower = name.lower()
    suffix = next((s for s in POINT_CLOUD_SUFFIXES if lower.endswith(s)), None)
    if suffix is None:
        raise InputError(f"File {name!r} has no point-cloud extension "
                         f"({', '.join(POINT_CLOUD_SUFFIXES)}).", source=name, field="suffix")
    if suffix in (".npy", ".npz"):
        return read_npy(path, columns=columns, key=key, time_unit=time_unit, color_max=color_max)
    if columns is not None and suffix not in (".bin", ".pcd.bin"):
        raise InputError(f"columns= applies to .bin/.npy files, not {suffix!r} (--columns on "
                         f"the command line).", source=name,
                         field="columns")
    if suffix == ".pcd":
        return read_pcd(path, time_unit=time_unit, color_max=color_max)
    if suffix == ".ply":
        return read_ply(path, time_unit=time_unit, color_max=color_max)
    if suffix in (".las", ".laz"):
        return read_las(path)
    if columns is not None:
        return read_raw_float(path, columns, time_unit=time_unit, color_max=color_max)
    if suffix == ".pcd.bin":
        return read_nuscenes_bin(path)
    return read_kitti_bin(path)
