"""LAS/LAZ through laspy (optional extra ``sfs_kit[las]``, with lazrs for LAZ).

Coordinates are the scaled ``x, y, z`` in float64, recentred on the whole-unit floor of their
bounding-box minimum when they exceed float32's millimetre range (see ``PointCloud.origin_m``); the
unit is the file's coordinate system's (often metres, US survey feet for State Plane files).
Intensity stays raw (0..65535), 16-bit colour becomes 8-bit (shifted right by 8 unless every
value already fits 0..255, as in files that store 8-bit colour), ``gps_time`` goes
to ``time_s`` (seconds in the file's GPS time standard), classification and return numbers to
``extra``.
"""

from __future__ import annotations

import importlib
import io
import os
from types import ModuleType

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError, MissingDependencyError
from sfs_kit.readers._cloud import PointCloud, colors_from_channels, positions_from_xyz
from sfs_kit.readers._source import Source, read_all

__all__ = ["read_las"]

_EXTRA_DIMENSIONS = ("classification", "return_number", "number_of_returns")


def _laspy(source: str) -> ModuleType:
    try:
        return importlib.import_module("laspy")
    except ImportError as err:
        raise MissingDependencyError(
            "Reading LAS/LAZ needs laspy: pip install 'sfs_kit[las]'.", source=source) from err


def read_las(source: Source) -> PointCloud:
    """Read a LAS or LAZ file (path or binary stream) into a ``PointCloud``."""
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    laspy = _laspy(name or "<stream>")
    data, name = read_all(source)
    try:
        las = laspy.read(io.BytesIO(data))
    except laspy.errors.LaspyException as err:
        raise InputError(f"Cannot read LAS/LAZ data: {str(err).rstrip('.')}.",
                         source=name) from err
    except (ValueError, EOFError, OSError, RuntimeError) as err:  # lazrs raises RuntimeError
        raise InputError(f"LAS/LAZ data is malformed or truncated: {str(err).rstrip('.')}.",
                         source=name) from err
    x = np.asarray(las.x, dtype=np.float64)
    y = np.asarray(las.y, dtype=np.float64)
    z = np.asarray(las.z, dtype=np.float64)
    positions, origin = positions_from_xyz(x, y, z, source=name)
    dimensions = set(las.point_format.dimension_names)
    colors = None
    if {"red", "green", "blue"} <= dimensions:
        colors = colors_from_channels(
            [np.asarray(las.red), np.asarray(las.green), np.asarray(las.blue)], source=name,
            name="red")
    time_s = np.asarray(las.gps_time, dtype=np.float64) if "gps_time" in dimensions else None
    extra: dict[str, npt.NDArray[np.generic]] = {
        dim: np.asarray(las[dim]) for dim in _EXTRA_DIMENSIONS if dim in dimensions}
    return PointCloud(
        positions=positions, source=name, format="las", origin_m=origin,
        intensity=np.asarray(las.intensity, dtype=np.float32), intensity_range=(0.0, 65535.0),
        colors=colors, time_s=time_s, extra=extra)
