"""Pose and point geometry shared by the compat converter, recentring and the frame exporter.

Conventions: quaternions are ``quat_xyzw`` (scalar last, as in SFS and scipy ``as_quat``); a pose
7-vector is ``[x, y, z, qx, qy, qz, qw]``; ``world_from_sensor`` is the 4x4 matrix mapping sensor
coordinates into the world (``p_world = R @ p_sensor + t``). All maths is float64.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

try:  # the compiled posing kernel (sfs_kit/_native.c); an install without a C compiler lacks it
    from sfs_kit import _native
except ImportError:  # pragma: no cover - the numpy path, same results
    _native = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from sfs_kit.models.pose import PosePath

__all__ = [
    "interpolate_pose",
    "iter_affine_blocks",
    "matrix_to_pose",
    "matrix_to_quat",
    "pose_to_matrix",
    "quat_to_matrix",
    "rotate_vectors",
    "transform_points",
]

F64 = npt.NDArray[np.float64]


def quat_to_matrix(quat_xyzw: npt.ArrayLike) -> F64:
    """Rotation matrices ``(..., 3, 3)`` from quaternions ``(..., 4)``; normalises first."""
    q = np.asarray(quat_xyzw, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(norm)):
        raise InputError(
            "A quaternion with a zero or non-finite norm has no rotation "
            f"(norms {np.unique(norm[(norm == 0) | ~np.isfinite(norm)]).tolist()!r}).",
            field="quat_xyzw",
        )
    x, y, z, w = np.moveaxis(q / norm, -1, 0)
    m = np.empty((*q.shape[:-1], 3, 3), dtype=np.float64)
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - z * w)
    m[..., 0, 2] = 2 * (x * z + y * w)
    m[..., 1, 0] = 2 * (x * y + z * w)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - x * w)
    m[..., 2, 0] = 2 * (x * z - y * w)
    m[..., 2, 1] = 2 * (y * z + x * w)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat(matrix: npt.ArrayLike) -> F64:
    """Unit quaternions ``(..., 4)`` xyzw from rotation matrices ``(..., 3, 3)``; ``w >= 0``.

    Shepperd's method, vectorised: each matrix uses the branch of its largest diagonal term
    (or the trace), which keeps the square root away from zero.
    """
    m = np.asarray(matrix, dtype=np.float64)
    r = m.reshape(-1, 3, 3)
    r00, r11, r22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    trace = r00 + r11 + r22
    branch = np.where(
        trace > 0, 3, np.where((r00 > r11) & (r00 > r22), 0, np.where(r11 > r22, 1, 2))
    )
    out = np.empty((r.shape[0], 4), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = branch == 3
        s = 2.0 * np.sqrt(np.maximum(trace[t] + 1.0, 0.0))
        out[t] = np.stack([(r[t, 2, 1] - r[t, 1, 2]) / s, (r[t, 0, 2] - r[t, 2, 0]) / s,
                           (r[t, 1, 0] - r[t, 0, 1]) / s, s / 4], axis=-1)
        t = branch == 0
        s = 2.0 * np.sqrt(np.maximum(1.0 + r00[t] - r11[t] - r22[t], 0.0))
        out[t] = np.stack([s / 4, (r[t, 0, 1] + r[t, 1, 0]) / s, (r[t, 0, 2] + r[t, 2, 0]) / s,
                           (r[t, 2, 1] - r[t, 1, 2]) / s], axis=-1)
        t = branch == 1
        s = 2.0 * np.sqrt(np.maximum(1.0 + r11[t] - r00[t] - r22[t], 0.0))
        out[t] = np.stack([(r[t, 0, 1] + r[t, 1, 0]) / s, s / 4, (r[t, 1, 2] + r[t, 2, 1]) / s,
                           (r[t, 0, 2] - r[t, 2, 0]) / s], axis=-1)
        t = branch == 2
        s = 2.0 * np.sqrt(np.maximum(1.0 + r22[t] - r00[t] - r11[t], 0.0))
        out[t] = np.stack([(r[t, 0, 2] + r[t, 2, 0]) / s, (r[t, 1, 2] + r[t, 2, 1]) / s, s / 4,
                           (r[t, 1, 0] - r[t, 0, 1]) / s], axis=-1)
    out /= np.linalg.norm(out, axis=-1, keepdims=True)
    out[out[:, 3] < 0] *= -1
    return out.reshape(*m.shape[:-2], 4)


def pose_to_matrix(pose: npt.ArrayLike) -> F64:
    """``world_from_sensor`` 4x4 matrices ``(..., 4, 4)`` from pose 7-vectors ``(..., 7)``."""
    p = np.asarray(pose, dtype=np.float64)
    m = np.zeros((*p.shape[:-1], 4, 4), dtype=np.float64)
    m[..., :3, :3] = quat_to_matrix(p[..., 3:7])
    m[..., :3, 3] = p[..., :3]
    m[..., 3, 3] = 1.0
    return m


def matrix_to_pose(world_from_sensor: npt.ArrayLike) -> F64:
    """Pose 7-vectors ``[x, y, z, qx, qy, qz, qw]`` from 4x4 matrices."""
    m = np.asarray(world_from_sensor, dtype=np.float64)
    return np.concatenate([m[..., :3, 3], matrix_to_quat(m[..., :3, :3])], axis=-1)


def interpolate_pose(path: PosePath, timestamps_us: npt.ArrayLike) -> tuple[F64, F64]:
    """Positions ``(K, 3)`` and ``quat_xyzw`` ``(K, 4)`` at each timestamp (float64).

    Position is lerped and rotation slerped (shortest arc) between the bracketing poses, as
    Scale's models do; outside the pose span the first or last pose is held (V-T6 warns there).
    """
    t = np.asarray(timestamps_us, dtype=np.float64).reshape(-1)
    times = path.timestamps.astype(np.float64)
    values = path.values
    quats = values[:, 3:7] / np.linalg.norm(values[:, 3:7], axis=1, keepdims=True)
    if len(times) == 1:
        return (np.repeat(values[:1, :3], len(t), axis=0), np.repeat(quats[:1], len(t), axis=0))
    hi = np.clip(np.searchsorted(times, t, side="right"), 1, len(times) - 1)
    lo = hi - 1
    span = times[hi] - times[lo]
    alpha = np.clip((t - times[lo]) / span, 0.0, 1.0)[:, None]
    pos = values[lo, :3] * (1 - alpha) + values[hi, :3] * alpha
    return pos, _slerp(quats[lo], quats[hi], alpha)


def _slerp(q0: F64, q1: F64, alpha: F64) -> F64:
    dot = np.sum(q0 * q1, axis=1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-9
    safe = np.where(near, 1.0, sin_theta)
    w0 = np.where(near, 1 - alpha, np.sin((1 - alpha) * theta) / safe)
    w1 = np.where(near, alpha, np.sin(alpha * theta) / safe)
    q = w0 * q0 + w1 * q1
    result: F64 = q / np.linalg.norm(q, axis=1, keepdims=True)
    return result


_BLOCK_POINTS = 8192  # float64 scratch of 3 x 8192 rows stays in L2 and is reused per block


def _affine_float32(
    points: npt.ArrayLike, matrix: F64, *, translate: bool
) -> npt.NDArray[np.float32]:
    """``R @ p (+ t)`` for ``(N, 3)`` points, column by column in float64, rounded to float32.

    Each coordinate is ``((x * r0 + y * r1) + z * r2) + t`` in float64, independent of the BLAS
    build: the compiled kernel (``sfs_kit._native``, about 0.25 ms per 120,000 points) and the
    numpy path (blocks of 8192 points as three contiguous float64 rows in one reused scratch
    buffer, nine multiplies and adds over them: about 1.5 ms) give the same bits. An
    ``(N, 3) @ (3, 3)`` matmul goes to OpenBLAS's threaded gemm (5-6 ms idle, up to 47 ms when
    other processes keep the cores busy), which may fuse or reorder those operations: the two
    can differ on rare points (56 of 120,000 in the benchmark cloud) by at most one float32 ulp
    of the terms' magnitude ``|r0 x| + |r1 y| + |r2 z| + |t|`` (double rounding).
    """
    p = np.asarray(points).reshape(-1, 3)
    out = np.empty((p.shape[0], 3), dtype=np.float32)
    for _ in iter_affine_blocks(p, matrix, translate=translate, into=out):
        pass
    return out


def iter_affine_blocks(
    points: npt.NDArray[Any], matrix: F64, *, translate: bool,
    into: npt.NDArray[np.float32] | None = None, block_points: int = _BLOCK_POINTS,
) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """``(start, R @ p (+ t))`` for consecutive blocks of ``(N, 3)`` points, as ``transform_points``
    computes them (float64, rounded to float32), in one reused float32 buffer (or as views of
    ``into``, an ``(N, 3)`` float32 array that receives every block).

    A writer posing a frame as it writes it takes each block while it is in cache and never
    holds the posed frame; a reused block is valid only until the next is requested. float32
    points go through the compiled kernel when it is built (``sfs_kit._native``: the same
    operations in the same order, bit for bit, about 6x faster), others through numpy."""
    p = points.reshape(-1, 3)
    n = p.shape[0]
    size = max(1, min(block_points, n))
    out = np.empty((size, 3), dtype=np.float32) if into is None else into
    if _native is not None and p.dtype.kind == "f" and p.dtype.itemsize == 4:
        m = np.ascontiguousarray(matrix[:3, :4], dtype=np.float64)
        direct = _kernel_reads(p)
        for start in range(0, n, size):
            stop = min(start + size, n)
            o = out[: stop - start] if into is None else into[start:stop]
            block = p[start:stop] if direct else np.require(  # a packed, aligned copy
                p[start:stop], np.float32, ["C_CONTIGUOUS", "ALIGNED"])
            _native.affine_f32(block, o, m, translate)
            yield start, o
        return
    yield from _numpy_affine_blocks(p, matrix, translate=translate, out=out,
                                    into=into is not None, size=size)


def _kernel_reads(p: npt.NDArray[Any]) -> bool:
    """Whether the compiled kernel reads ``p`` in place: native float32, x, y, z adjacent and
    aligned, rows at a positive stride (packed points, or a PointCloud2's x, y, z view)."""
    row, col = p.strides
    return (p.dtype == np.float32 and p.dtype.isnative and col == 4
            and row >= 12 and row % 4 == 0 and p.ctypes.data % 4 == 0)


def _numpy_affine_blocks(
    p: npt.NDArray[Any], matrix: F64, *, translate: bool, out: npt.NDArray[np.float32],
    into: bool, size: int,
) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """``iter_affine_blocks`` in numpy: each block copied as three contiguous float64 rows into
    one reused scratch buffer, then the column formula over them."""
    n = p.shape[0]
    rows = np.empty((3, size), dtype=np.float64)
    acc = np.empty(size, dtype=np.float64)
    tmp = np.empty(size, dtype=np.float64)
    for start in range(0, n, size):
        stop = min(start + size, n)
        k = stop - start
        r, a, t = rows[:, :k], acc[:k], tmp[:k]
        o = out[start:stop] if into else out[:k]
        np.copyto(r, p[start:stop].T)
        for i in range(3):
            np.multiply(r[0], matrix[i, 0], out=a)
            np.multiply(r[1], matrix[i, 1], out=t)
            a += t
            np.multiply(r[2], matrix[i, 2], out=t)
            a += t
            if translate:
                a += matrix[i, 3]
            o[:, i] = a
        yield start, o


def transform_points(
    points: npt.NDArray[Any], world_from_sensor: npt.ArrayLike
) -> npt.NDArray[np.float32]:
    """``(N, 3)`` points mapped by a 4x4 transform, computed in float64, returned as float32."""
    m = np.asarray(world_from_sensor, dtype=np.float64)
    return _affine_float32(points, m, translate=True)


def rotate_vectors(
    vectors: npt.NDArray[Any], world_from_sensor: npt.ArrayLike
) -> npt.NDArray[np.float32]:
    """``(N, 3)`` direction vectors rotated (not translated) by a 4x4 transform, as float32."""
    m = np.asarray(world_from_sensor, dtype=np.float64)
    return _affine_float32(vectors, m, translate=False)
