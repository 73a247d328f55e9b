"""Rigid transforms for the pose and extrinsics readers: validation and quaternion conversion.

Quaternions are ``[qx, qy, qz, qw]`` (scalar last); matrices are 4x4 float64 ``a_from_b``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.models.geometry import matrix_to_quat, pose_to_matrix

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
    """``[qx, qy, qz, qw]`` (unit, qw >= 0) of a 3x3 rotation matrix."""
    return matrix_to_quat(rotation)


def matrix_from_quat(quat_xyzw: npt.NDArray[np.float64], translation: npt.NDArray[np.float64]
                     ) -> npt.NDArray[np.float64]:
    """The 4x4 transform of a unit quaternion ``[qx, qy, qz, qw]`` and a translation."""
    return pose_to_matrix(np.concatenate([np.asarray(translation, dtype=np.float64).reshape(3),
                                          np.asarray(quat_xyzw, dtype=np.float64).reshape(4)]))
