"""Camera projection for every SFS distortion model: world points -> pixels, depth and flags.

Conventions: cameras are OpenCV optical frames (+z forward, +x right, +y down, spec section 0);
a camera's pose is ``world_from_camera`` interpolated at the image time; ``(u, v)`` are pixel
coordinates of the stored image with (0, 0) the centre of the top-left pixel's corner, so a
point is inside when ``0 <= u < width`` and ``0 <= v < height``. All maths is float64.

The models (spec section 2.5; ``x = X/Z``, ``y = Y/Z``, ``r2 = x^2 + y^2``, ``rho = sqrt(r2)``,
``theta = atan(rho)``):

- ``brown_conrady``: OpenCV's rational model, ``radial = (1 + k1 r2 + k2 r4 + k3 r6) / (1 + k4
  r2 + k5 r4 + k6 r6)``, tangential ``2 p1 x y + p2 (r2 + 2 x^2)`` / ``p1 (r2 + 2 y^2) + 2 p2 x y``
  (``cv2.projectPoints``); ``lx, ly`` shift the normalised point after ``r2`` is taken and before
  the radial and tangential terms, as scale-sensor-fusion-io's ``project_distort`` does.
- ``fisheye``: Kannala-Brandt as ``cv2.fisheye``: ``theta_d = theta (1 + k1 t2 + k2 t4 + k3 t6 +
  k4 t8)``, ``x_d = x theta_d / rho``.
- ``mod_equi_fish``: scale-sensor-fusion-io's formula (k1 unused): ``x_d = x (theta / rho) (1 +
  k2 theta^2 + k3 theta^3 + k4 theta^4)``.
- ``mod_kannala``: scale-sensor-fusion-io's formula: ``phi = atan(theta)``, ``r = phi (1 + k1
  phi^2 + k2 phi^4 + k3 phi^6 + k4 phi^8)``, ``x_d = x tan(r) / rho``.
- ``fisheye_rad_tan_prism`` (Project Aria's FisheyeRadTanThinPrism family): the Kannala-Brandt
  radial with six terms (``theta^2 .. theta^12``), then OpenCV's tangential (p1, p2) and
  thin-prism terms (``x += s1 r_d^2 + s2 r_d^4``, ``y += s3 r_d^2 + s4 r_d^4``) on the radially
  distorted point.
- ``fisheye_radial_custom`` (our decision; Scale documents no formula): the same six-term radial
  and tangential terms about a distortion centre offset ``(dcx, dcy)`` pixels from ``(cx, cy)``:
  ``u = cx + dcx + fx D(x - dcx / fx)``, so a ray through the distortion centre is undistorted.
- ``ftheta`` (NVIDIA DriveWorks' forward polynomial, our reading): the pixel radius is ``k1 + k2
  theta + k3 theta^2 + k4 theta^3 + k5 theta^4`` with ``theta`` the angle to the optical axis;
  ``u = cx + r cos(phi)``, ``v = cy + r sin(phi)`` (fx, fy unused).
- ``omnidirectional``: Mei's unified model: the point on the unit sphere, ``x = Xs / (Zs + xi)``,
  then the brown_conrady polynomial ``1 + k1 r2 + k2 r4 + k3 r6 + k4 r8`` with p1, p2, lx, ly.
- ``cylindrical``: ``u = cx + fx atan2(X, Z)``, ``v = cy + fy Y / hypot(X, Z)`` (scale-lidar-io).
- ``equirectangular``: ``u = cx + fx atan2(X, Z)``, ``v = cy + fy atan2(Y, hypot(X, Z))``.

``in_front`` is ``Z > 0`` for the perspective and fisheye models, ``hypot(X, Z) > 0`` for
cylindrical and ``|P| > 0`` for equirectangular (both see all round). Where a radial polynomial
stops growing with the angle (past the first root of its derivative) the mapping folds back, so
such points are marked ``valid = False`` rather than drawn at a wrong place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from sfs_kit.models.calibration import DISTORTION_PARAM_NAMES
from sfs_kit.models.geometry import interpolate_pose, quat_to_matrix

if TYPE_CHECKING:
    from sfs_kit.models.calibration import CameraIntrinsics
    from sfs_kit.models.pose import PosePath

__all__ = [
    "Projection",
    "camera_from_world",
    "project_camera_points",
    "project_world_points",
]

F64 = npt.NDArray[np.float64]
_EPS: Final = 1e-12


@dataclass(frozen=True, slots=True, eq=False)
class Projection:
    """Projected points: ``uv`` (N, 2) pixels (NaN where undefined), ``depth_m`` (N,),
    ``in_front`` (not behind the camera), ``valid`` (in front and inside the model's monotonic
    domain) and ``in_image`` (valid and inside ``width`` x ``height``).

    ``depth_m`` is the optical-axis distance ``Z`` for perspective and fisheye models, the
    horizontal distance ``hypot(X, Z)`` for cylindrical and the range ``|P|`` for equirectangular.
    """

    uv: F64
    depth_m: F64
    in_front: npt.NDArray[np.bool_]
    valid: npt.NDArray[np.bool_]
    in_image: npt.NDArray[np.bool_]


def camera_from_world(poses: PosePath, timestamp: int) -> F64:
    """The 4x4 ``camera_from_world`` transform at ``timestamp`` (pose lerped and slerped)."""
    pos, quat = interpolate_pose(poses, [timestamp])
    rot = quat_to_matrix(quat[0])
    out = np.eye(4)
    out[:3, :3] = rot.T
    out[:3, 3] = -rot.T @ pos[0]
    return out


def project_world_points(
    points_world: npt.ArrayLike, poses: PosePath, intrinsics: CameraIntrinsics, timestamp: int
) -> Projection:
    """Project world points (N, 3) into a camera whose pose path is ``poses`` at ``timestamp``."""
    p = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
    m = camera_from_world(poses, timestamp)
    # column by column, not ``p @ R.T``: a threaded BLAS gemm stalls on a busy machine
    cam = np.empty_like(p)
    for i in range(3):
        cam[:, i] = p[:, 0] * m[i, 0] + p[:, 1] * m[i, 1] + p[:, 2] * m[i, 2] + m[i, 3]
    return project_camera_points(cam, intrinsics)


def _params(intrinsics: CameraIntrinsics) -> tuple[str | None, dict[str, float]]:
    dist = intrinsics.distortion
    if dist is None:
        return None, {}
    return dist.model, dict(zip(DISTORTION_PARAM_NAMES[dist.model], dist.params, strict=True))


def project_camera_points(points_camera: npt.ArrayLike, intrinsics: CameraIntrinsics) -> Projection:
    """Project points (N, 3) given in the camera's optical frame with ``intrinsics``."""
    pts = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
    big_x, big_y, big_z = pts[:, 0], pts[:, 1], pts[:, 2]
    model, k = _params(intrinsics)
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if model in ("cylindrical", "equirectangular"):
            horizontal = np.hypot(big_x, big_z)
            lon = np.arctan2(big_x, big_z)
            if model == "cylindrical":
                in_front = horizontal > _EPS
                v_norm = big_y / horizontal
                depth = horizontal
            else:
                depth = np.sqrt(horizontal**2 + big_y**2)
                in_front = depth > _EPS
                v_norm = np.arctan2(big_y, horizontal)
            u, v = cx + fx * lon, cy + fy * v_norm
            valid = in_front.copy()
        else:
            in_front = big_z > _EPS
            depth = big_z
            u, v, valid = _perspective(pts, model, k, fx, fy, cx, cy)
            valid &= in_front
    uv = np.stack([u, v], axis=-1)
    valid &= np.all(np.isfinite(uv), axis=1)
    uv[~valid] = np.nan
    with np.errstate(invalid="ignore"):
        in_image = (
            valid
            & (uv[:, 0] >= 0)
            & (uv[:, 0] < intrinsics.width)
            & (uv[:, 1] >= 0)
            & (uv[:, 1] < intrinsics.height)
        )
    return Projection(uv, depth, in_front, valid, in_image)


def _perspective(  # noqa: PLR0917 - the intrinsics as plain numbers
    pts: F64, model: str | None, k: dict[str, float], fx: float, fy: float, cx: float, cy: float
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """(u, v, valid) for the perspective and fisheye families (``Z > 0`` checked by the caller)."""
    big_x, big_y, big_z = pts[:, 0], pts[:, 1], pts[:, 2]
    if model == "omnidirectional":
        norm = np.linalg.norm(pts, axis=1)
        denom = big_z / norm + k["xi"]
        x, y = big_x / norm / denom, big_y / norm / denom
    else:
        x, y = big_x / big_z, big_y / big_z
    ones = np.ones(len(x), dtype=bool)
    if model is None:
        return cx + fx * x, cy + fy * y, ones
    if model in ("brown_conrady", "omnidirectional"):
        xd, yd, valid = _rad_tan(x, y, k)
        return cx + fx * xd, cy + fy * yd, valid
    if model == "fisheye_radial_custom":
        x = x - k["dcx"] / fx
        y = y - k["dcy"] / fy
        cx, cy = cx + k["dcx"], cy + k["dcy"]
    rho = np.hypot(x, y)
    theta = np.arctan(rho)
    safe_rho = np.where(rho < _EPS, 1.0, rho)
    if model == "fisheye":
        coeffs = [k["k1"], k["k2"], k["k3"], k["k4"]]
        theta_d, valid = _kb_radial(theta, coeffs)
        scale = np.where(rho < _EPS, 1.0, theta_d / safe_rho)
        return cx + fx * x * scale, cy + fy * y * scale, valid
    if model == "mod_equi_fish":
        poly = 1 + k["k2"] * theta**2 + k["k3"] * theta**3 + k["k4"] * theta**4
        slope = 1 + 3 * k["k2"] * theta**2 + 4 * k["k3"] * theta**3 + 5 * k["k4"] * theta**4
        scale = np.where(rho < _EPS, 1.0, theta / safe_rho) * poly
        return cx + fx * x * scale, cy + fy * y * scale, slope > 0
    if model == "mod_kannala":
        phi = np.arctan(theta)
        p2 = phi * phi
        r = phi * (1 + p2 * (k["k1"] + p2 * (k["k2"] + p2 * (k["k3"] + p2 * k["k4"]))))
        scale = np.where(r < 1e-5, 1.0, np.tan(r) / safe_rho)
        return cx + fx * x * scale, cy + fy * y * scale, np.abs(r) < np.pi / 2
    if model == "ftheta":
        c = [k["k1"], k["k2"], k["k3"], k["k4"], k["k5"]]
        radius = np.polynomial.polynomial.polyval(theta, c)
        slope = np.polynomial.polynomial.polyval(theta, [c[1], 2 * c[2], 3 * c[3], 4 * c[4]])
        cos_phi = np.where(rho < _EPS, 0.0, x / safe_rho)
        sin_phi = np.where(rho < _EPS, 0.0, y / safe_rho)
        return cx + radius * cos_phi, cy + radius * sin_phi, slope > 0
    # fisheye_rad_tan_prism and fisheye_radial_custom: six-term radial, then tangential (+ prism)
    coeffs = [k["k1"], k["k2"], k["k3"], k["k4"], k["k5"], k["k6"]]
    theta_d, valid = _kb_radial(theta, coeffs)
    scale = np.where(rho < _EPS, 1.0, theta_d / safe_rho)
    xr, yr = x * scale, y * scale
    rd2 = xr * xr + yr * yr
    xd = xr + 2 * k["p1"] * xr * yr + k["p2"] * (rd2 + 2 * xr * xr)
    yd = yr + k["p1"] * (rd2 + 2 * yr * yr) + 2 * k["p2"] * xr * yr
    if model == "fisheye_rad_tan_prism":
        xd = xd + k["s1"] * rd2 + k["s2"] * rd2 * rd2
        yd = yd + k["s3"] * rd2 + k["s4"] * rd2 * rd2
    return cx + fx * xd, cy + fy * yd, valid


def _kb_radial(theta: F64, coeffs: list[float]) -> tuple[F64, npt.NDArray[np.bool_]]:
    """``theta (1 + c1 t^2 + c2 t^4 + ...)`` and where its derivative in theta is positive."""
    t2 = theta * theta
    poly = np.ones_like(theta)
    slope = np.ones_like(theta)
    power = np.ones_like(theta)
    for i, c in enumerate(coeffs, start=1):
        power = power * t2
        poly = poly + c * power
        slope = slope + (2 * i + 1) * c * power
    return theta * poly, slope > 0


def _rad_tan(x: F64, y: F64, k: dict[str, float]) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """OpenCV's rational radial and tangential terms, with Scale's lx/ly decentring."""
    r2 = x * x + y * y
    num_c = [1.0, k.get("k1", 0.0), k.get("k2", 0.0), k.get("k3", 0.0)]
    den_c = [1.0, k.get("k4", 0.0), k.get("k5", 0.0), k.get("k6", 0.0)]
    if "xi" in k:  # omnidirectional: k4 is the r^8 term of the numerator, no denominator
        num_c.append(k["k4"])
        den_c = [1.0]
    poly = np.polynomial.polynomial
    num, den = poly.polyval(r2, num_c), poly.polyval(r2, den_c)
    radial = num / den
    # d/dr (r * radial(r^2)) = radial + 2 r2 radial'(r2); radial' = (num' den - num den') / den^2
    num_d = poly.polyval(r2, poly.polyder(num_c)) if len(num_c) > 1 else np.zeros_like(r2)
    den_d = poly.polyval(r2, poly.polyder(den_c)) if len(den_c) > 1 else np.zeros_like(r2)
    slope = radial + 2 * r2 * (num_d * den - num * den_d) / (den * den)
    xs, ys = x + k.get("lx", 0.0), y + k.get("ly", 0.0)
    p1, p2 = k.get("p1", 0.0), k.get("p2", 0.0)
    xd = xs * radial + 2 * p1 * xs * ys + p2 * (r2 + 2 * xs * xs)
    yd = ys * radial + p1 * (r2 + 2 * ys * ys) + 2 * p2 * xs * ys
    return xd, yd, (slope > 0) & (den > 0)
