"""KITTI raw drive folders -> ``Capture``: velodyne scans, camera PNGs, oxts ego poses, calibration.

Layout (``<date>/<date>_drive_<nnnn>_sync/``; the ``calib_*.txt`` files may sit in the drive
folder or in its parent date folder)::

    velodyne_points/data/0000000000.bin   float32 x, y, z, reflectance (0..1), velodyne frame
    velodyne_points/timestamps.txt        one "YYYY-MM-DD HH:MM:SS.fffffffff" line per scan
    image_0[0-3]/data/0000000000.png      (+ timestamps.txt) grey 00/01, colour 02/03
    oxts/data/0000000000.txt              30 numbers: lat lon alt roll pitch yaw ... (+ timestamps)
    calib_cam_to_cam.txt  calib_velo_to_cam.txt  calib_imu_to_velo.txt

Conventions, as the KITTI devkit and pykitti use them:

- The ego frame is the IMU. oxts become ``world_from_imu`` with the Mercator scale projection:
  ``scale = cos(lat0 * pi / 180)`` (lat0 of the first packet), ``ER = 6378137``,
  ``x = scale * lon * pi * ER / 180``, ``y = scale * ER * log(tan((90 + lat) * pi / 360))``,
  ``z = alt``, ``R = Rz(yaw) Ry(pitch) Rx(roll)``; the first packet's translation is subtracted
  (pykitti's ``origin``; it is recorded in the capture metadata).
- ``calib_imu_to_velo`` is ``velo_from_imu``; ``calib_velo_to_cam`` is ``cam0_from_velo``
  (unrectified). Rectified images (the ``_sync`` product, sized ``S_rect_0i``) use ``P_rect_0i``
  with no distortion and ``cami_from_velo = T_i R_rect_00 cam0_from_velo`` where ``T_i``
  translates x by ``P_rect_0i[0,3] / P_rect_0i[0,0]``; unrectified images (sized ``S_0i``) use
  ``K_0i``, ``D_0i`` (brown_conrady k1 k2 p1 p2 k3) and ``[R_0i | T_0i] cam0_from_velo``.
- Timestamps are UTC wall-clock with nanoseconds, converted exactly to integer µs (floor).
- Scans and oxts are both about 10 Hz but stamped independently, so a scan may fall a few ms
  outside the oxts span; the end pose is used within ``POSE_TOLERANCE_US`` (half a period).
"""

from __future__ import annotations

import calendar
import math
import re
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sfs_kit._excerpt import excerpt
from sfs_kit._paths import read_input
from sfs_kit.capture._channels import intensity_to_uint8
from sfs_kit.capture.base import (
    CameraIntrinsicsSource,
    CameraSource,
    Capture,
    EgoPoses,
    FramePoints,
    ImageSource,
    LidarFrameSource,
    LidarSource,
    LoadedImage,
)
from sfs_kit.capture.sync import check_increasing
from sfs_kit.errors import InputError
from sfs_kit.models.geometry import matrix_to_quat
from sfs_kit.readers._rigid import check_rigid
from sfs_kit.readers.image import read_image
from sfs_kit.readers.kitti_bin import read_kitti_bin

__all__ = [
    "EARTH_RADIUS_M",
    "POSE_TOLERANCE_US",
    "is_kitti_raw",
    "oxts_to_poses",
    "parse_kitti_timestamp",
    "read_calib_file",
    "read_kitti_raw",
]

F64 = npt.NDArray[np.float64]
EARTH_RADIUS_M = 6378137.0
POSE_TOLERANCE_US = 50_000
_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$", re.ASCII)
_OXTS_FIELDS = 30


def is_kitti_raw(path: Path) -> bool:
    """A folder with ``velodyne_points/`` or ``oxts/``: looks like a KITTI raw drive."""
    return path.is_dir() and ((path / "velodyne_points").is_dir() or (path / "oxts").is_dir())


def parse_kitti_timestamp(text: str, *, source: str = "<text>", line: int | None = None) -> int:
    """``"2011-09-26 13:02:25.964389445"`` (UTC) -> integer µs since the Unix epoch, floored."""
    m = _TS.match(text.strip())
    if m is None:
        raise InputError(
            f"{source}: line {line}: {excerpt(text.strip())} is not a KITTI timestamp "
            f"'YYYY-MM-DD HH:MM:SS.fffffffff'.",
            source=source,
            line=line,
            field="timestamp",
        )
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError) as err:
        raise InputError(
            f"{source}: line {line}: invalid date in {excerpt(text.strip())}.",
            source=source,
            line=line,
            field="timestamp",
        ) from err
    frac = (m.group(7) or "").ljust(9, "0")
    return seconds * 1_000_000 + int(frac) // 1000


def _text(path: Path, what: str) -> str:
    """A KITTI text file as ASCII (other bytes replaced: they fail the parse, named)."""
    return read_input(path, what=what).decode("ascii", errors="replace")


def _read_timestamps(path: Path) -> list[int]:
    if not path.is_file():
        raise InputError(f"KITTI timestamps file {str(path)!r} does not exist.", source=str(path))
    lines = [
        ln for ln in _text(path, "KITTI timestamps file").splitlines() if ln.strip()
    ]
    stamps = [parse_kitti_timestamp(ln, source=str(path), line=i + 1) for i, ln in enumerate(lines)]
    check_increasing(stamps, source=str(path), names=[f"line {i + 1}" for i in range(len(stamps))])
    return stamps


def read_calib_file(path: Path) -> dict[str, F64]:
    """``key: n1 n2 ...`` lines as float64 arrays; non-numeric lines (``calib_time``) skipped."""
    out: dict[str, F64] = {}
    text = _text(path, "KITTI calibration")
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        try:
            out[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue
    return out


def _calib(calib: dict[str, F64], key: str, size: int, path: Path) -> F64:
    value = calib.get(key)
    if value is None:
        raise InputError(
            f"KITTI calibration {str(path)!r} has no {key!r}.", source=str(path), field=key
        )
    if value.size != size or not np.isfinite(value).all():
        raise InputError(
            f"KITTI calibration {str(path)!r}: {key!r} must be {size} finite numbers, "
            f"found {value.size}.",
            source=str(path),
            field=key,
        )
    return value


def _rigid(calib: dict[str, F64], path: Path, r_key: str = "R", t_key: str = "T") -> F64:
    m = np.eye(4)
    m[:3, :3] = _calib(calib, r_key, 9, path).reshape(3, 3)
    m[:3, 3] = _calib(calib, t_key, 3, path)
    # a KITTI R is printed to ~7 digits; one that is no rotation would convert with "0 errors"
    return check_rigid(m, source=str(path), field=f"{r_key}/{t_key}")


def _find_calib(drive: Path, name: str) -> Path:
    for folder in (drive, drive.parent):
        if (folder / name).is_file():
            return folder / name
    raise InputError(
        f"KITTI calibration {name!r} is missing: looked in {str(drive)!r} and its parent.",
        source=str(drive / name),
        field=name,
    )


def oxts_to_poses(oxts: F64) -> tuple[F64, F64, F64]:
    """(M, >=6) oxts rows -> translations (M, 3) relative to the first, quat_xyzw (M, 4), origin."""
    lat, lon, alt = oxts[:, 0], oxts[:, 1], oxts[:, 2]
    roll, pitch, yaw = oxts[:, 3], oxts[:, 4], oxts[:, 5]
    scale = math.cos(float(lat[0]) * math.pi / 180.0)
    t = np.stack(
        [
            scale * lon * math.pi * EARTH_RADIUS_M / 180.0,
            scale * EARTH_RADIUS_M * np.log(np.tan((90.0 + lat) * math.pi / 360.0)),
            alt,
        ],
        axis=1,
    )
    cr, sr, cp, sp, cy, sy = (
        np.cos(roll),
        np.sin(roll),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(yaw),
        np.sin(yaw),
    )
    rot = np.empty((oxts.shape[0], 3, 3))
    # R = Rz(yaw) @ Ry(pitch) @ Rx(roll)
    rot[:, 0, 0] = cy * cp
    rot[:, 0, 1] = cy * sp * sr - sy * cr
    rot[:, 0, 2] = cy * sp * cr + sy * sr
    rot[:, 1, 0] = sy * cp
    rot[:, 1, 1] = sy * sp * sr + cy * cr
    rot[:, 1, 2] = sy * sp * cr - cy * sr
    rot[:, 2, 0] = -sp
    rot[:, 2, 1] = cp * sr
    rot[:, 2, 2] = cp * cr
    origin = t[0].copy()
    return t - origin, matrix_to_quat(rot), origin


def _read_oxts(folder: Path) -> tuple[list[int], F64]:
    files, stamps = _sensor_files(folder, "*.txt", what="oxts files")
    rows = np.empty((len(files), 6))
    for i, f in enumerate(files):
        parts = _text(f, "oxts packet").split()
        if len(parts) != _OXTS_FIELDS:
            raise InputError(
                f"oxts packet {str(f)!r} has {len(parts)} values, expected {_OXTS_FIELDS}.",
                source=str(f),
                field="oxts",
            )
        try:
            rows[i] = [float(v) for v in parts[:6]]
        except ValueError as err:
            raise InputError(
                f"oxts packet {str(f)!r}: lat lon alt roll pitch yaw are not numbers.",
                source=str(f),
                field="oxts",
            ) from err
        if not np.isfinite(rows[i]).all():
            raise InputError(
                f"oxts packet {str(f)!r}: lat lon alt roll pitch yaw must be finite.",
                source=str(f),
                field="oxts",
            )
    return stamps, rows


def _load_scan(path: str) -> FramePoints:
    cloud = read_kitti_bin(path)
    intensity = None
    if cloud.intensity is not None:
        intensity = intensity_to_uint8(
            cloud.intensity, source=path, intensity_range=cloud.intensity_range
        )
    return FramePoints(
        positions_m=cloud.positions, intensity=intensity, time_us=None, origin_m=cloud.origin_m
    )


def _load_png(path: str) -> LoadedImage:
    info = read_image(path)
    return LoadedImage(
        format=info.format, width=info.width, height=info.height, content=info.content
    )


def _sensor_files(
    folder: Path, pattern: str, *, what: str | None = None
) -> tuple[list[Path], list[int]]:
    """``folder/data/<pattern>`` in name order and ``folder/timestamps.txt``, one to one.

    ``what`` names the files in the count-mismatch message (default: files in ``folder/data``).
    """
    files = sorted((folder / "data").glob(pattern))
    stamps = _read_timestamps(folder / "timestamps.txt")
    if len(files) != len(stamps):
        what = what or f"files in {str(folder / 'data')!r}"
        raise InputError(
            f"{str(folder / 'timestamps.txt')!r} has {len(stamps)} timestamps for "
            f"{len(files)} {what}.",
            source=str(folder / "timestamps.txt"),
            field="timestamp",
        )
    return files, stamps


def _camera(  # noqa: PLR0917
    drive: Path,
    index: int,
    cam_calib: dict[str, F64],
    cam_path: Path,
    cam0_from_velo: F64,
    ego_from_velo: F64,
) -> CameraSource | None:
    folder = drive / f"image_{index:02d}"
    if not folder.is_dir():
        return None
    files, stamps = _sensor_files(folder, "*.png")
    if not files:
        return None
    first = read_image(files[0])
    k = f"{index:02d}"
    rect_size = _calib(cam_calib, f"S_rect_{k}", 2, cam_path)
    raw_size = _calib(cam_calib, f"S_{k}", 2, cam_path)
    size = (first.width, first.height)
    if size == (int(rect_size[0]), int(rect_size[1])):
        p_rect = _calib(cam_calib, f"P_rect_{k}", 12, cam_path).reshape(3, 4)
        if not p_rect[0, 0] > 0:  # the focal length divides the baseline below
            raise InputError(
                f"KITTI calibration {str(cam_path)!r}: 'P_rect_{k}' has focal length "
                f"{float(p_rect[0, 0])!r}; it must be > 0.", source=str(cam_path),
                field=f"P_rect_{k}")
        r_rect = np.eye(4)
        r_rect[:3, :3] = _calib(cam_calib, "R_rect_00", 9, cam_path).reshape(3, 3)
        # the rectifying rotation: a singular or scaling one would convert with "0 errors"
        r_rect = check_rigid(r_rect, source=str(cam_path), field="R_rect_00")
        shift = np.eye(4)
        shift[0, 3] = p_rect[0, 3] / p_rect[0, 0]
        cam_from_velo = shift @ r_rect @ cam0_from_velo
        intr = CameraIntrinsicsSource(
            fx=float(p_rect[0, 0]),
            fy=float(p_rect[1, 1]),
            cx=float(p_rect[0, 2]),
            cy=float(p_rect[1, 2]),
            width=size[0],
            height=size[1],
            distortion_model=None,
            distortion_params=(),
            skew=float(p_rect[0, 1]),
            source=f"{cam_path}:P_rect_{k}",
        )
    elif size == (int(raw_size[0]), int(raw_size[1])):
        kmat = _calib(cam_calib, f"K_{k}", 9, cam_path).reshape(3, 3)
        dist = _calib(cam_calib, f"D_{k}", 5, cam_path)
        cam_from_velo = _rigid(cam_calib, cam_path, f"R_{k}", f"T_{k}") @ cam0_from_velo
        k1, k2, p1, p2, k3 = (float(v) for v in dist)
        intr = CameraIntrinsicsSource(
            fx=float(kmat[0, 0]),
            fy=float(kmat[1, 1]),
            cx=float(kmat[0, 2]),
            cy=float(kmat[1, 2]),
            width=size[0],
            height=size[1],
            distortion_model="brown_conrady",
            distortion_params=(k1, k2, p1, p2, k3, 0.0, 0.0, 0.0, 0.0, 0.0),
            skew=float(kmat[0, 1]),
            source=f"{cam_path}:K_{k}",
        )
    else:
        raise InputError(
            f"{str(files[0])!r} is {size[0]}x{size[1]}, matching neither S_rect_{k} "
            f"{rect_size.astype(int).tolist()!r} nor S_{k} {raw_size.astype(int).tolist()!r} in "
            f"{str(cam_path)!r}.",
            source=str(files[0]),
            field="width",
        )
    return CameraSource(
        sensor_id=f"image_{k}",
        intrinsics=intr,
        ego_from_sensor=ego_from_velo @ np.linalg.inv(cam_from_velo),
        images=tuple(
            ImageSource(timestamp_us=t, source=str(f), load=partial(_load_png, str(f)))
            for f, t in zip(files, stamps, strict=True)
        ),
    )


def read_kitti_raw(path: str | Path) -> Capture:
    """Open a KITTI raw drive folder as a ``Capture`` (scans and images load lazily)."""
    drive = Path(path)
    if not (drive / "velodyne_points").is_dir():
        raise InputError(
            f"{str(drive)!r} is not a KITTI raw drive: 'velodyne_points/' is missing.",
            source=str(drive),
            field="velodyne_points",
        )
    scans, scan_stamps = _sensor_files(drive / "velodyne_points", "*.bin")
    if not scans:
        raise InputError(
            f"{str(drive / 'velodyne_points' / 'data')!r} holds no .bin scans.",
            source=str(drive / "velodyne_points" / "data"),
            field="velodyne_points",
        )
    imu_path = _find_calib(drive, "calib_imu_to_velo.txt")
    velo_from_imu = _rigid(read_calib_file(imu_path), imu_path)
    ego_from_velo = np.linalg.inv(velo_from_imu).astype(np.float64)
    lidar = LidarSource(
        sensor_id="velodyne",
        points_frame="sensor",
        ego_from_sensor=ego_from_velo,
        frames=tuple(
            LidarFrameSource(timestamp_us=t, source=str(f), load=partial(_load_scan, str(f)))
            for f, t in zip(scans, scan_stamps, strict=True)
        ),
    )
    cameras: list[CameraSource] = []
    if any((drive / f"image_{i:02d}").is_dir() for i in range(4)):
        velo_path = _find_calib(drive, "calib_velo_to_cam.txt")
        cam_path = _find_calib(drive, "calib_cam_to_cam.txt")
        cam0_from_velo = _rigid(read_calib_file(velo_path), velo_path)
        cam_calib = read_calib_file(cam_path)
        for i in range(4):
            camera = _camera(drive, i, cam_calib, cam_path, cam0_from_velo, ego_from_velo)
            if camera is not None:
                cameras.append(camera)
    if not (drive / "oxts").is_dir():
        raise InputError(
            f"KITTI drive {str(drive)!r} has no 'oxts/' folder, so no ego poses.",
            source=str(drive),
            field="oxts",
        )
    stamps, rows = _read_oxts(drive / "oxts")
    if not stamps:
        raise InputError(
            f"{str(drive / 'oxts' / 'data')!r} holds no oxts packets.",
            source=str(drive / "oxts"),
            field="oxts",
        )
    positions, quats, origin = oxts_to_poses(rows)
    ego = EgoPoses(
        timestamps_us=np.asarray(stamps, dtype=np.int64),
        positions_m=positions,
        quat_xyzw=quats,
        source=str(drive / "oxts"),
    )
    return Capture(
        path=drive,
        layout="kitti_raw",
        lidars=(lidar,),
        cameras=tuple(cameras),
        ego_poses=ego,
        pose_tolerance_us=POSE_TOLERANCE_US,
        metadata={
            "kitti_drive": drive.name,
            "kitti_mercator_origin_x_m": float(origin[0]),
            "kitti_mercator_origin_y_m": float(origin[1]),
            "kitti_mercator_origin_z_m": float(origin[2]),
        },
    )
