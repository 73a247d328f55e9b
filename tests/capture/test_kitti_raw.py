"""KITTI raw drives: a tiny synthetic drive built in the test (no real KITTI data is available)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sfs_kit.capture import convert_capture, open_capture, read_capture_scene
from sfs_kit.capture.kitti_raw import EARTH_RADIUS_M, oxts_to_poses, parse_kitti_timestamp
from sfs_kit.errors import InputError
from sfs_kit.models import CameraSensor, LidarSensor

from .conftest import png

STAMPS = [
    "2011-09-26 13:02:25.964389445",
    "2011-09-26 13:02:26.064389445",
    "2011-09-26 13:02:26.164389445",
]
OXTS = [
    "2011-09-26 13:02:25.950000000",
    "2011-09-26 13:02:26.050000000",
    "2011-09-26 13:02:26.150000000",
    "2011-09-26 13:02:26.250000000",
]
VELO_TO_CAM = "R: 0 -1 0 0 0 -1 1 0 0\nT: 0.1 -0.05 -0.3\n"
IMU_TO_VELO = "R: 1 0 0 0 1 0 0 0 1\nT: -0.8 0.3 -0.9\n"
CAM_TO_CAM = (
    "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
    "S_00: 1392 512\nK_00: 100 0 16 0 100 12 0 0 1\nD_00: -0.3 0.2 0.001 -0.001 -0.07\n"
    "R_00: 1 0 0 0 1 0 0 0 1\nT_00: 0 0 0\nS_rect_00: 32 24\n"
    "R_rect_00: 1 0 0 0 1 0 0 0 1\nP_rect_00: 50 0 16 0 0 50 12 0 0 0 1 0\n"
)


def _drive(root: Path, *, rectified: bool = True) -> Path:
    date = root / "2011_09_26"
    drive = date / "2011_09_26_drive_0001_sync"
    for sub in ("velodyne_points/data", "image_00/data", "oxts/data"):
        (drive / sub).mkdir(parents=True)
    rng = np.random.default_rng(1)
    for k in range(3):
        scan = np.concatenate([rng.uniform(-20, 20, (30, 3)), rng.uniform(0, 1, (30, 1))], axis=1)
        scan[0] = [0, 0, 0, 1.0]
        scan.astype("<f4").tofile(drive / "velodyne_points" / "data" / f"{k:010d}.bin")
        size = (32, 24) if rectified else (1392, 512)
        (drive / "image_00" / "data" / f"{k:010d}.png").write_bytes(png(*size))
    for sub in ("velodyne_points", "image_00"):
        (drive / sub / "timestamps.txt").write_text("\n".join(STAMPS) + "\n")
    for k in range(4):
        values = [49.0 + 1e-5 * k, 8.4, 110.0, 0.01, -0.02, 0.5 + 0.01 * k] + [0.0] * 24
        (drive / "oxts" / "data" / f"{k:010d}.txt").write_text(
            " ".join(f"{v:.9f}" for v in values) + "\n"
        )
    (drive / "oxts" / "timestamps.txt").write_text("\n".join(OXTS) + "\n")
    (date / "calib_velo_to_cam.txt").write_text(VELO_TO_CAM)
    (date / "calib_imu_to_velo.txt").write_text(IMU_TO_VELO)
    (date / "calib_cam_to_cam.txt").write_text(CAM_TO_CAM)
    return drive


def test_timestamp_to_microseconds_exactly() -> None:
    assert parse_kitti_timestamp("2011-09-26 13:02:25.964389445") == 1317042145964389
    assert parse_kitti_timestamp("1970-01-01 00:00:01.5") == 1_500_000
    with pytest.raises(
        InputError, match=r"t\.txt: line 3: '2011-09-26T13:02' is not a KITTI timestamp"
    ):
        parse_kitti_timestamp("2011-09-26T13:02", source="t.txt", line=3)
    with pytest.raises(InputError, match=r"line 1: invalid date in '2011-13-45 00:00:00'"):
        parse_kitti_timestamp("2011-13-45 00:00:00", line=1)


def test_oxts_mercator_matches_the_devkit_formula() -> None:
    rows = np.array(
        [[49.0, 8.4, 110.0, 0.1, 0.2, 0.3], [49.001, 8.401, 111.0, 0.0, 0.0, math.pi / 2]]
    )
    pos, quat, origin = oxts_to_poses(rows)
    scale = math.cos(49.0 * math.pi / 180)
    x1 = scale * 8.401 * math.pi * EARTH_RADIUS_M / 180
    y1 = scale * EARTH_RADIUS_M * math.log(math.tan((90 + 49.001) * math.pi / 360))
    np.testing.assert_allclose(
        origin,
        [
            scale * 8.4 * math.pi * EARTH_RADIUS_M / 180,
            scale * EARTH_RADIUS_M * math.log(math.tan((90 + 49.0) * math.pi / 360)),
            110.0,
        ],
    )
    np.testing.assert_allclose(pos[1], [x1 - origin[0], y1 - origin[1], 1.0], atol=1e-6)
    np.testing.assert_allclose(pos[0], [0, 0, 0])
    np.testing.assert_allclose(
        quat[1], [0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)], atol=1e-12
    )
    # R = Rz(yaw) Ry(pitch) Rx(roll): compare with a direct product
    r, p, y = 0.1, 0.2, 0.3
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    from sfs_kit.models.geometry import quat_to_matrix

    np.testing.assert_allclose(quat_to_matrix(quat[0]), rz @ ry @ rx, atol=1e-12)


def test_drive_converts_with_poses_and_rectified_camera(tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    cap = open_capture(drive)
    assert cap.layout == "kitti_raw"
    scene = read_capture_scene(cap)
    lidar, camera = scene.sensors
    assert isinstance(lidar, LidarSensor)
    assert isinstance(camera, CameraSensor)
    assert scene.time_offset == 1317042145964389
    assert [f.timestamp for f in lidar.frames] == [0, 100_000, 200_000]
    assert camera.intrinsics.fx == 50.0
    assert camera.intrinsics.distortion is None
    # the velodyne origin (point 0) in the world = the lidar pose translation
    for k, frame in enumerate(lidar.frames):
        np.testing.assert_allclose(frame.points.positions[0], lidar.poses.values[k, :3], atol=1e-4)
    # world_from_velo at frame 0: ego (IMU) pose at +14.39 ms, interpolated, then imu->velo inverse
    intens = lidar.frames[0].points.intensities
    assert intens is not None
    assert int(intens[0]) == 255
    out = tmp_path / "drive.sfs"
    assert convert_capture(cap, out, format="sfs").frame_count == 3


def test_unrectified_camera_uses_k_and_d(tmp_path: Path) -> None:
    cap = open_capture(_drive(tmp_path, rectified=False))
    intr = cap.cameras[0].intrinsics
    assert (intr.fx, intr.width, intr.height, intr.distortion_model) == (
        100.0,
        1392,
        512,
        "brown_conrady",
    )
    assert intr.distortion_params[:5] == (-0.3, 0.2, 0.001, -0.001, -0.07)


def test_image_size_matching_no_calibration(tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    for f in (drive / "image_00" / "data").glob("*.png"):
        f.write_bytes(png(40, 30))
    with pytest.raises(
        InputError, match=r"is 40x30, matching neither S_rect_00 \[32, 24\] nor S_00 \[1392, 512\]"
    ):
        open_capture(drive)


def test_missing_calibration_and_mismatched_timestamps(tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    (drive.parent / "calib_imu_to_velo.txt").unlink()
    with pytest.raises(InputError, match=r"KITTI calibration 'calib_imu_to_velo\.txt' is missing"):
        open_capture(drive)
    drive2 = _drive(tmp_path / "b")
    (drive2 / "velodyne_points" / "timestamps.txt").write_text("\n".join(STAMPS[:2]) + "\n")
    with pytest.raises(InputError, match=r"has 2 timestamps for 3 files"):
        open_capture(drive2)
    drive3 = _drive(tmp_path / "c")
    (drive3 / "velodyne_points" / "timestamps.txt").write_text("\n".join(reversed(STAMPS)) + "\n")
    with pytest.raises(InputError, match=r"timestamp of line 2 \(\d+ us\) goes backwards"):
        open_capture(drive3)


def test_bad_oxts_and_calibration_values(tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    (drive / "oxts" / "data" / "0000000001.txt").write_text("1 2 3\n")
    with pytest.raises(
        InputError, match=r"oxts packet .*0000000001\.txt' has 3 values, expected 30\."
    ):
        open_capture(drive)
    drive2 = _drive(tmp_path / "b")
    (drive2 / "oxts" / "data" / "0000000001.txt").write_text(" ".join(["nan"] * 30))
    with pytest.raises(InputError, match=r"lat lon alt roll pitch yaw must be finite\."):
        open_capture(drive2)
    drive3 = _drive(tmp_path / "c")
    (drive3.parent / "calib_imu_to_velo.txt").write_text("R: 1 0 0\nT: 0 0 0\n")
    with pytest.raises(InputError, match=r"'R' must be 9 finite numbers, found 3\."):
        open_capture(drive3)
    drive4 = _drive(tmp_path / "d")
    (drive4.parent / "calib_cam_to_cam.txt").write_text(
        CAM_TO_CAM.replace("P_rect_00", "Q_rect_00")
    )
    with pytest.raises(InputError, match=r"calib_cam_to_cam\.txt' has no 'P_rect_00'\."):
        open_capture(drive4)
    drive5 = _drive(tmp_path / "e")
    (drive5 / "oxts" / "data" / "0000000001.txt").write_text(" ".join(["x"] * 30))
    with pytest.raises(InputError, match=r"lat lon alt roll pitch yaw are not numbers\."):
        open_capture(drive5)


def test_drive_without_scans_or_oxts(tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    for f in (drive / "velodyne_points" / "data").glob("*.bin"):
        f.unlink()
    (drive / "velodyne_points" / "timestamps.txt").write_text("")
    with pytest.raises(InputError, match=r"holds no \.bin scans\."):
        open_capture(drive)
    drive2 = _drive(tmp_path / "b")
    for f in (drive2 / "oxts" / "data").glob("*"):
        f.unlink()
    (drive2 / "oxts" / "timestamps.txt").write_text("")
    with pytest.raises(InputError, match=r"holds no oxts packets\."):
        open_capture(drive2)
    drive3 = _drive(tmp_path / "c")
    for f in (drive3 / "oxts" / "data").glob("*"):
        f.unlink()
    (drive3 / "oxts" / "data").rmdir()
    (drive3 / "oxts" / "timestamps.txt").unlink()
    (drive3 / "oxts").rmdir()
    with pytest.raises(InputError, match=r"has no 'oxts/' folder, so no ego poses\."):
        open_capture(drive3)
