"""Projection for all ten distortion models: against OpenCV, Scale's helper and hand maths."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from sfs_kit.models import CameraIntrinsics, Distortion, PosePath
from sfs_kit.models.calibration import DISTORTION_PARAM_COUNTS, DistortionModel
from sfs_kit.models.geometry import matrix_to_quat
from sfs_kit.models.projection import (
    camera_from_world,
    project_camera_points,
    project_world_points,
)

cv2 = pytest.importorskip("cv2")

F64 = npt.NDArray[np.float64]
W, H = 1280, 960


def _intrinsics(model: DistortionModel | None, params: tuple[float, ...] = ()) -> CameraIntrinsics:
    dist = None if model is None else Distortion(model=model, params=params)
    return CameraIntrinsics(fx=800.0, fy=780.0, cx=640.5, cy=479.5, width=W, height=H,
                            distortion=dist)


def _points(n: int = 400, max_angle_deg: float = 50.0, seed: int = 1) -> F64:
    """Points in front of the camera up to ``max_angle_deg`` off the optical axis, 1-40 m away."""
    rng = np.random.default_rng(seed)
    angle = np.radians(rng.uniform(0, max_angle_deg, n))
    azimuth = rng.uniform(0, 2 * np.pi, n)
    dist = rng.uniform(1.0, 40.0, n)
    return np.stack([dist * np.sin(angle) * np.cos(azimuth), dist * np.sin(angle) * np.sin(azimuth),
                     dist * np.cos(angle)], axis=1)


def _k_matrix(intr: CameraIntrinsics) -> F64:
    return np.array([[intr.fx, 0, intr.cx], [0, intr.fy, intr.cy], [0, 0, 1]], dtype=np.float64)


def _cv_project(points: F64, intr: CameraIntrinsics, coeffs: list[float]) -> F64:
    uv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), _k_matrix(intr),
                              np.array(coeffs, dtype=np.float64))
    return np.asarray(uv, dtype=np.float64).reshape(-1, 2)


# --- OpenCV oracles ------------------------------------------------------------------------------


def test_brown_conrady_rational_matches_cv2_project_points() -> None:
    k1, k2, p1, p2, k3, k4, k5, k6 = -0.28, 0.09, 0.0012, -0.0007, -0.012, 0.05, -0.01, 0.002
    intr = _intrinsics("brown_conrady", (k1, k2, p1, p2, k3, k4, k5, k6, 0.0, 0.0))
    pts = _points(max_angle_deg=35)
    proj = project_camera_points(pts, intr)
    expected = _cv_project(pts, intr, [k1, k2, p1, p2, k3, k4, k5, k6])
    assert proj.valid.all()
    np.testing.assert_allclose(proj.uv, expected, atol=1e-6)
    np.testing.assert_allclose(proj.depth_m, pts[:, 2])


def test_no_distortion_is_the_pinhole_of_cv2() -> None:
    intr = _intrinsics(None)
    pts = _points()
    np.testing.assert_allclose(project_camera_points(pts, intr).uv, _cv_project(pts, intr, []),
                               atol=1e-6)


def test_fisheye_matches_cv2_fisheye_project_points() -> None:
    coeffs = (0.08, -0.02, 0.004, -0.0006)
    intr = _intrinsics("fisheye", coeffs)
    pts = _points(max_angle_deg=85)
    proj = project_camera_points(pts, intr)
    uv, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                      _k_matrix(intr), np.array(coeffs, dtype=np.float64))
    assert proj.valid.all()
    np.testing.assert_allclose(proj.uv, np.asarray(uv).reshape(-1, 2), atol=1e-6)


def test_rad_tan_prism_is_kannala_brandt_then_opencvs_tangential_and_thin_prism() -> None:
    """OpenCV's 12-coefficient pinhole model, fed the radially distorted ray (x_r, y_r, 1) with
    no radial terms, applies exactly the tangential and thin-prism part of the model."""
    k = (0.05, -0.01, 0.002, -0.0003, 0.00002, -0.000001)
    p1, p2, s1, s2, s3, s4 = 0.0011, -0.0009, 0.002, -0.0004, -0.0015, 0.0003
    intr = _intrinsics("fisheye_rad_tan_prism", (*k, p1, p2, s1, s2, s3, s4))
    pts = _points(max_angle_deg=70)
    rho = np.hypot(pts[:, 0], pts[:, 1]) / pts[:, 2]
    theta = np.arctan(rho)
    theta_d = theta * (1 + sum(c * theta ** (2 * i) for i, c in enumerate(k, start=1)))
    ray = np.column_stack([pts[:, :2] / pts[:, 2:] * (theta_d / rho)[:, None], np.ones(len(pts))])
    expected = _cv_project(ray, intr, [0, 0, p1, p2, 0, 0, 0, 0, s1, s2, s3, s4])
    np.testing.assert_allclose(project_camera_points(pts, intr).uv, expected, atol=1e-6)


def test_omnidirectional_is_opencv_rad_tan_on_the_mei_sphere_point() -> None:
    xi, k1, k2, k3, p1, p2 = 0.9, -0.2, 0.04, -0.003, 0.0008, -0.0005
    intr = _intrinsics("omnidirectional", (k1, k2, k3, 0.0, p1, p2, xi, 0.0, 0.0))
    pts = _points(max_angle_deg=60)
    sphere = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    sphere[:, 2] += xi
    expected = _cv_project(sphere, intr, [k1, k2, p1, p2, k3])
    np.testing.assert_allclose(project_camera_points(pts, intr).uv, expected, atol=1e-6)


# --- scale-sensor-fusion-io oracle ---------------------------------------------------------------


def _scale_project(points: F64, intr: CameraIntrinsics) -> tuple[F64, F64]:
    helpers = pytest.importorskip("scale_sensor_fusion_io.utils.camera_helpers")
    from scale_sensor_fusion_io.models.sensors.camera import CameraDistortion
    from scale_sensor_fusion_io.models.sensors.camera.camera_intrinsics import (
        CameraIntrinsics as ScaleIntrinsics,
    )

    dist = intr.distortion
    scale_dist = (
        None if dist is None else CameraDistortion.from_values(dist.model, list(dist.params))
    )
    scale = ScaleIntrinsics(fx=intr.fx, fy=intr.fy, cx=intr.cx, cy=intr.cy, width=intr.width,
                            height=intr.height, distortion=scale_dist)
    u, v, _ = helpers.project_distort(points.copy(), scale)
    return np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)


@pytest.mark.parametrize(
    ("model", "params", "max_angle"),
    [
        # Scale's tangential terms differ from OpenCV's (3 p1 x y), so p1 = p2 = 0 here
        ("brown_conrady", (-0.25, 0.07, 0.0, 0.0, -0.01, 0.0, 0.0, 0.0, 0.003, -0.002), 35),
        ("mod_equi_fish", (0.5, -0.03, 0.006, -0.001), 80),
        ("mod_kannala", (0.02, -0.004, 0.0005, -0.00002), 80),
        # Scale ignores k4 (0 here) and shares brown_conrady's tangential terms (0 here)
        ("omnidirectional", (-0.2, 0.05, -0.004, 0.0, 0.0, 0.0, 1.1, 0.002, 0.001), 60),
        ("omnidirectional", (-0.1, 0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), 40),
    ],
)
def test_models_scale_implements_match_project_distort(
    model: DistortionModel, params: tuple[float, ...], max_angle: float
) -> None:
    intr = _intrinsics(model, params)
    pts = _points(max_angle_deg=max_angle)
    u, v = _scale_project(pts, intr)
    proj = project_camera_points(pts, intr)
    assert proj.valid.all()
    np.testing.assert_allclose(proj.uv[:, 0], u, atol=1e-6)
    np.testing.assert_allclose(proj.uv[:, 1], v, atol=1e-6)


# --- published formulas, hand-computed -----------------------------------------------------------


def test_cylindrical_hand_computed() -> None:
    intr = _intrinsics("cylindrical")
    # 45 degrees to the right, 1 m below the axis at 2 m horizontal distance
    pts = np.array([[math.sqrt(2), 1.0, math.sqrt(2)], [0.0, 0.0, -5.0], [-3.0, -1.5, 0.0]])
    proj = project_camera_points(pts, intr)
    assert proj.uv[0] == pytest.approx([640.5 + 800 * math.pi / 4, 479.5 + 780 * 0.5])
    assert proj.uv[1] == pytest.approx([640.5 + 800 * math.pi, 479.5])  # behind: u past width
    assert proj.in_front.all()
    assert not proj.in_image[1]
    assert proj.uv[2] == pytest.approx([640.5 - 800 * math.pi / 2, 479.5 - 780 * 0.5])
    assert proj.depth_m == pytest.approx([2.0, 5.0, 3.0])


def test_equirectangular_hand_computed() -> None:
    intr = CameraIntrinsics(fx=W / (2 * math.pi), fy=H / math.pi, cx=W / 2, cy=H / 2, width=W,
                            height=H, distortion=Distortion(model="equirectangular"))
    pts = np.array([[0.0, 0.0, 3.0], [1.0, 0.0, 0.0], [0.0, -2.0, 2.0], [0.0, 0.0, -1.0]])
    proj = project_camera_points(pts, intr)
    assert proj.uv[0] == pytest.approx([W / 2, H / 2])
    assert proj.uv[1] == pytest.approx([W * 3 / 4, H / 2])
    assert proj.uv[2] == pytest.approx([W / 2, H / 4])  # 45 degrees up
    assert proj.uv[3] == pytest.approx([W, H / 2])  # straight behind: the right edge (outside)
    assert proj.in_image.tolist() == [True, True, True, False]
    assert proj.depth_m[2] == pytest.approx(math.sqrt(8))


def test_ftheta_hand_computed() -> None:
    intr = _intrinsics("ftheta", (0.0, 700.0, 0.0, -20.0, 0.0))
    # 30 degrees off axis towards +x, and 60 degrees towards -y
    pts = np.array([[math.tan(math.pi / 6), 0.0, 1.0], [0.0, -math.tan(math.pi / 3), 1.0]])
    proj = project_camera_points(pts, intr)
    r30 = 700 * (math.pi / 6) - 20 * (math.pi / 6) ** 3
    r60 = 700 * (math.pi / 3) - 20 * (math.pi / 3) ** 3
    assert proj.uv[0] == pytest.approx([640.5 + r30, 479.5])
    assert proj.uv[1] == pytest.approx([640.5, 479.5 - r60])


def test_fisheye_radial_custom_hand_computed() -> None:
    dcx, dcy = 12.0, -8.0
    k1 = 0.1
    intr = _intrinsics("fisheye_radial_custom", (k1, 0, 0, 0, 0, 0, 0, 0, dcx, dcy))
    # a ray through the distortion centre lands there, undistorted
    centre_ray = np.array([[dcx / 800.0, dcy / 780.0, 1.0]])
    uv = project_camera_points(centre_ray, intr).uv[0]
    assert uv == pytest.approx([640.5 + dcx, 479.5 + dcy])
    # 0.5 normalised to the right of the distortion centre
    x = 0.5
    theta = math.atan(x)
    xd = theta * (1 + k1 * theta**2)
    pt = np.array([[dcx / 800.0 + x, dcy / 780.0, 1.0]])
    assert project_camera_points(pt, intr).uv[0] == pytest.approx([640.5 + dcx + 800 * xd,
                                                                    479.5 + dcy])


def test_brown_conrady_lx_ly_shift_after_r2_hand_computed() -> None:
    intr = _intrinsics("brown_conrady", (0.1, 0, 0, 0, 0, 0, 0, 0, 0.01, -0.02))
    x, y = 0.3, 0.2
    r2 = x * x + y * y
    u = 640.5 + 800 * (x + 0.01) * (1 + 0.1 * r2)
    v = 479.5 + 780 * (y - 0.02) * (1 + 0.1 * r2)
    assert project_camera_points([[x, y, 1.0]], intr).uv[0] == pytest.approx([u, v])


# --- flags and poses -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(DISTORTION_PARAM_COUNTS))
def test_every_model_flags_behind_and_outside(model: DistortionModel) -> None:
    params = tuple(0.0 for _ in range(DISTORTION_PARAM_COUNTS[model]))
    if model == "ftheta":
        params = (0.0, 800.0, 0.0, 0.0, 0.0)
    intr = _intrinsics(model, params)
    pts = np.array([[0.0, 0.0, 10.0], [0.0, 0.0, -10.0], [1000.0, 0.0, 1.0]])
    proj = project_camera_points(pts, intr)
    assert proj.in_image[0]
    assert proj.uv[0] == pytest.approx([640.5, 479.5])
    assert not proj.in_image[1]
    assert not proj.in_image[2]
    if model not in ("cylindrical", "equirectangular"):
        assert proj.in_front.tolist() == [True, False, True]
        assert np.isnan(proj.uv[1]).all()


def test_folded_polynomial_is_not_valid() -> None:
    # k1 = -0.5: r (1 - 0.5 r^2) peaks at r^2 = 2/3; a point beyond must not land in the image
    intr = _intrinsics("brown_conrady", (-0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    proj = project_camera_points([[0.5, 0.0, 1.0], [2.0, 0.0, 1.0]], intr)
    assert proj.valid.tolist() == [True, False]


def test_world_projection_uses_the_pose_interpolated_at_the_image_time() -> None:
    # the camera moves along world +x from 0 to 10 m in 1 s, looking along world +y (optical z)
    # world_from_camera: optical x = world x, optical y = world -z, optical z = world y
    rot = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    q = matrix_to_quat(rot)
    poses = PosePath(timestamps=np.array([0, 1_000_000]),
                     values=np.array([[0.0, 0, 0, *q], [10.0, 0, 0, *q]]))
    m = camera_from_world(poses, 500_000)
    np.testing.assert_allclose(m[:3, :3] @ np.array([5.0, 7.0, 0.0]) + m[:3, 3], [0.0, 0.0, 7.0],
                               atol=1e-12)
    proj = project_world_points([[5.0, 7.0, 0.0]], poses, _intrinsics(None), 500_000)
    assert proj.uv[0] == pytest.approx([640.5, 479.5])
    assert proj.depth_m[0] == pytest.approx(7.0)
