"""Rigid transforms for the pose and extrinsics readers: validation and quaternion conversion.

Quaternions are ``[qx, qy, qz, qw]`` (scalar last); matrices are 4x4 float64 ``a_from_b``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError

__all__ = ["ORTHONORMAL_TOLERANCE", "check_rigid", "matrix_from_quat", "quat_from_matrix"]

#: How far ``R @ R.T`` may stray from the identity (and det(R) from 1) in a rigid transform.
ORTHONORMAL_TOLERANCE = 1e-4


def check_rigid(matrix: npt.NDArray[np.float64], *, source: str, field: str,
                line: int | None = None, tolerance: float = ORTHONORMAL_TOLERANCE
                ) -> npt.NDArray[np.float64]:
    """Return ``matrix`` as 4x4 float64 if it is rigid (a 3x4 gets the row 0 0 0 1), else raise."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4):
        raise InputError(f"Transform {field!r} must be 4x4 (or 3x4), found shape {m.shape!r}.",
                         source=source, field=field, line=line)
    if not np.isfinite(m).all():
        raise InputError(f"Transform {field!r} has a NaN or infinite value.", source=source,
                         field=field, line=line)
    if not np.array_equal(m[3], [0.0, 0.0, 0.0, 1.0]):
        raise InputError(f"Transform {field!r} last row is {m[3].tolist()!r}, not [0, 0, 0, 1].",
                         source=source, field=field, line=line)
    rotation = m[:3, :3]
    error = float(np.abs(rotation @ rotation.T - np.eye(3)).max())
    det = float(np.linalg.det(rotation))
    if error > tolerance or abs(det - 1.0) > tolerance:
        raise InputError(
            f"Transform {field!r} rotation is not orthonormal with determinant +1 "
            f"(|R R^T - I| = {error:.3g}, det = {det:.6g}, tolerance {tolerance:g}).",
            source=source, field=field, line=line)
    return m


def quat_from_matrix(rotation: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``[qx, qy, qz, qw]`` (unit, qw >= 0) of a 3x3 rotation matrix (Shepperd's method)."""
    r = rotation
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, s / 4]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
    elif r[1, 1] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [(r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4, (r[1, 0] - r[0, 1]) / s]
    quat = np.array(q, dtype=np.float64)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0 else quat


def matrix_from_quat(quat_xyzw: npt.NDArray[np.float64], translation: npt.NDArray[np.float64]
                     ) -> npt.NDArray[np.float64]:
    """The 4x4 transform of a unit quaternion ``[qx, qy, qz, qw]`` and a translation."""
    x, y, z, w = (float(v) for v in quat_xyzw / np.linalg.norm(quat_xyzw))
    m = np.eye(4)
    m[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    m[:3, 3] = translation
    return m
