"""Point-count reduction for one frame: a voxel grid and a max-points budget, vectorised numpy.

Both functions return sorted indices into the frame, so every per-point channel (positions,
intensity, time) is selected consistently and the scan order is kept. The voxel grid keeps the
first point of each occupied voxel (a real measured point, never an average), which is what
Scale's size guidance asks for ("voxel-downsample with voxels of at most 20 mm").
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

__all__ = ["budget_indices", "downsample_indices", "voxel_indices"]


def voxel_indices(
    positions_m: npt.NDArray[np.floating], voxel_size_m: float
) -> npt.NDArray[np.intp]:
    """Indices of the first point in each occupied voxel of edge ``voxel_size_m``, in scan order."""
    if not (np.isfinite(voxel_size_m) and voxel_size_m > 0):
        raise InputError(
            f"voxel_size_m must be a finite number > 0, got {voxel_size_m!r}.", field="voxel_size_m"
        )
    n = positions_m.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    cells = np.floor(np.asarray(positions_m, dtype=np.float64) / voxel_size_m)
    if not np.isfinite(cells).all():
        raise InputError(
            "Point positions contain NaN or infinity; cannot voxelise them.", field="positions"
        )
    lo = cells.min(axis=0)
    span = cells.max(axis=0) - lo + 1.0
    cell_idx = (cells - lo).astype(np.int64)
    if float(span[0]) * float(span[1]) * float(span[2]) < 2.0**62:
        # One int64 key per voxel: a 1-D unique is several times faster than unique(axis=0).
        ny, nz = int(span[1]), int(span[2])
        keys = (cell_idx[:, 0] * ny + cell_idx[:, 1]) * nz + cell_idx[:, 2]
        _, first = np.unique(keys, return_index=True)
    else:  # astronomically large extent: fall back to row-wise unique
        _, first = np.unique(cell_idx, axis=0, return_index=True)
    first.sort()
    return first.astype(np.intp, copy=False)


def budget_indices(n_points: int, max_points: int) -> npt.NDArray[np.intp]:
    """At most ``max_points`` evenly spaced indices of ``n_points`` (deterministic, in order)."""
    if max_points < 1:
        raise InputError(
            f"max_points_per_frame must be >= 1, got {max_points!r}.", field="max_points_per_frame"
        )
    if n_points <= max_points:
        return np.arange(n_points, dtype=np.intp)
    # floor(k * n / m) for k < m is strictly increasing when n > m, so no duplicates.
    return (np.arange(max_points, dtype=np.int64) * n_points // max_points).astype(np.intp)


def downsample_indices(
    positions_m: npt.NDArray[np.floating],
    *,
    voxel_size_m: float | None = None,
    max_points: int | None = None,
) -> npt.NDArray[np.intp] | None:
    """The voxel grid, then the budget; ``None`` when neither is asked for (keep every point)."""
    if voxel_size_m is None and max_points is None:
        return None
    n = positions_m.shape[0]
    keep = (
        np.arange(n, dtype=np.intp)
        if voxel_size_m is None
        else voxel_indices(positions_m, voxel_size_m)
    )
    if max_points is not None:
        keep = keep[budget_indices(keep.shape[0], max_points)]
    return keep
