"""Deterministic synthetic captures in the sfs_kit folder layout (shared by the fixture and bench).

A rig drives along a gentle curve; a roof lidar sees a ground plane, a few boxes and a wall; the
cameras are OpenCV optical frames (+z forward, +x right, +y down) mounted on the ego. Everything
is seeded, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from sfs_kit.readers import PointCloud, write_pcd

F64 = npt.NDArray[np.float64]

START_US = 1_700_000_000_000_000
FRAME_PERIOD_US = 100_000


@dataclass(frozen=True)
class CameraSpec:
    """A camera: id, yaw on the rig (radians, 0 = forward), image size and JPEG quality."""

    sensor_id: str
    yaw_rad: float
    width: int
    height: int


def ego_pose(t_s: float) -> tuple[list[float], list[float]]:
    """``world_from_ego`` at time t: a slow left curve at 8 m/s; (position_m, quat_xyzw)."""
    yaw = 0.05 * t_s
    x = 8.0 * t_s * math.cos(yaw / 2)
    y = 8.0 * t_s * math.sin(yaw / 2)
    return [x, y, 0.0], [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)]


def camera_matrix(yaw_rad: float) -> list[list[float]]:
    """``ego_from_camera``: optical frame looking along ego yaw ``yaw_rad``, 1.5 m up."""
    fwd = np.array([math.cos(yaw_rad), math.sin(yaw_rad), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    right = np.cross(down, fwd)  # x = y_down x z_fwd for a right-handed (x, y, z)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = right, down, fwd
    m[:3, 3] = [1.2 * math.cos(yaw_rad), 1.2 * math.sin(yaw_rad), 1.5]
    return [[round(float(v), 12) + 0.0 for v in row] for row in m]


def lidar_points(rng: np.random.Generator, n: int) -> tuple[F64, F64, F64]:
    """Points in the lidar frame (ground ring, boxes, a wall), intensity 0..255, time 0..0.1 s."""
    n_ground = n * 6 // 10
    n_box = n * 3 // 10
    n_wall = n - n_ground - n_box
    r = rng.uniform(3.0, 40.0, n_ground)
    a = rng.uniform(-math.pi, math.pi, n_ground)
    ground = np.stack([r * np.cos(a), r * np.sin(a), np.full(n_ground, -1.8)], axis=1)
    centres = np.array([[10.0, 3.0, -1.0], [15.0, -4.0, -1.0], [-8.0, 6.0, -1.0]])
    which = rng.integers(0, 3, n_box)
    boxes = centres[which] + rng.uniform(-1.0, 1.0, (n_box, 3)) * [2.0, 1.0, 0.8]
    wall = np.stack(
        [rng.uniform(-20, 20, n_wall), np.full(n_wall, 12.0), rng.uniform(-1.8, 2.0, n_wall)],
        axis=1,
    )
    pts = np.concatenate([ground, boxes, wall]) + rng.normal(0.0, 0.01, (n, 3))
    angle = np.arctan2(pts[:, 1], pts[:, 0])
    time_s = (angle + math.pi) / (2 * math.pi) * 0.099
    intensity = np.clip(rng.normal(80.0, 40.0, n), 0.0, 255.0).round()
    return pts, intensity, time_s


def jpeg_bytes(
    rng: np.random.Generator, spec: CameraSpec, frame: int, quality: int, noise: bool
) -> bytes:
    """A real JPEG: a sky/ground gradient, a few coloured boxes and the frame number."""
    h, w = spec.height, spec.width
    yy = np.linspace(0.0, 1.0, h)[:, None]
    base = np.empty((h, w, 3), dtype=np.float64)
    base[..., 0] = 120 + 100 * yy
    base[..., 1] = 150 + 60 * yy
    base[..., 2] = 230 - 150 * yy
    if noise:  # high-frequency texture, so big JPEGs have a realistic size
        base += rng.normal(0.0, 18.0, (h, w, 3))
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for k in range(4):
        x0 = int((0.1 + 0.2 * k + 0.01 * frame) * w) % w
        y0 = int(0.5 * h)
        draw.rectangle([x0, y0, x0 + w // 10, y0 + h // 6], fill=(40 * k, 200 - 30 * k, 90))
    draw.text((5, 5), f"{spec.sensor_id} #{frame}", fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def write_capture(
    root: Path,
    *,
    frames: int,
    points: int,
    cameras: list[CameraSpec],
    quality: int,
    noise: bool,
    seed: int,
    image_for: Callable[[int, CameraSpec, int], bytes] | None = None,
) -> None:
    """Write a capture folder: PCDs, JPEGs, poses.csv, calibration and capture.yaml.

    ``image_for(camera_index, spec, frame)`` supplies the JPEG bytes instead of drawing them.
    """
    rng = np.random.default_rng(seed)
    (root / "lidar").mkdir(parents=True, exist_ok=True)
    (root / "calibration").mkdir(exist_ok=True)
    stamps = [START_US + k * FRAME_PERIOD_US for k in range(frames)]
    for k in range(frames):
        pts, inten, t = lidar_points(rng, points)
        cloud = PointCloud(
            positions=pts.astype(np.float32),
            source="synthetic",
            format="pcd",
            intensity=inten.astype(np.float32),
            time_s=t,
        )
        write_pcd(root / "lidar" / f"{k:06d}.pcd", cloud, data="binary")
    (root / "lidar" / "timestamps.txt").write_text("".join(f"{ts}\n" for ts in stamps))
    with open(root / "poses.csv", "w", encoding="ascii") as f:
        f.write("timestamp_us,x,y,z,qx,qy,qz,qw\n")
        for j in range(-1, 2 * frames + 1):  # 20 Hz, a little beyond the frames on both sides
            t_us = START_US + j * FRAME_PERIOD_US // 2
            pos, q = ego_pose((t_us - START_US) / 1e6)
            f.write(f"{t_us}," + ",".join(f"{v:.9f}" for v in (*pos, *q)) + "\n")
    (root / "calibration" / "lidar_top.json").write_text(
        json.dumps(
            {
                "matrix": [
                    [1.0, 0.0, 0.0, 0.0],
                    [0.0, 1.0, 0.0, 0.0],
                    [0.0, 0.0, 1.0, 1.8],
                    [0.0, 0.0, 0.0, 1.0],
                ]
            },
            indent=1,
        )
    )
    cam_yaml: list[str] = []
    for c, spec in enumerate(cameras):
        folder = root / "cameras" / spec.sensor_id
        folder.mkdir(parents=True, exist_ok=True)
        for k, ts in enumerate(stamps):
            data = image_for(c, spec, k) if image_for else jpeg_bytes(rng, spec, k, quality, noise)
            (folder / f"{ts + 10_000 * (c + 1)}.jpg").write_bytes(data)
        f_px = 0.8 * spec.width
        (root / "calibration" / f"{spec.sensor_id}.json").write_text(
            json.dumps(
                {
                    "camera_matrix": [
                        [f_px, 0.0, spec.width / 2],
                        [0.0, f_px, spec.height / 2],
                        [0.0, 0.0, 1.0],
                    ],
                    "distortion_coefficients": [-0.05, 0.01, 0.0, 0.0, 0.0],
                    "image_width": spec.width,
                    "image_height": spec.height,
                },
                indent=1,
            )
        )
        (root / "calibration" / f"{spec.sensor_id}_extrinsics.json").write_text(
            json.dumps({"matrix": camera_matrix(spec.yaw_rad)}, indent=1)
        )
        cam_yaml += [
            f"  - id: {spec.sensor_id}",
            f"    files: cameras/{spec.sensor_id}/*.jpg",
            "    timestamps: {from_filename: true, unit: us}",
            f"    intrinsics: {{file: calibration/{spec.sensor_id}.json}}",
            "    extrinsics:",
            f"      file: calibration/{spec.sensor_id}_extrinsics.json",
            "      direction: sensor_to_ego",
        ]
    manifest = [
        "# sfs_kit capture manifest (see README, 'Capture folder layout')",
        "version: 1",
        f"name: {root.name}",
        "poses:",
        "  file: poses.csv            # world_from_ego",
        "  time_unit: us",
        "lidars:",
        "  - id: lidar_top",
        "    files: lidar/*.pcd",
        "    timestamps: {file: lidar/timestamps.txt, unit: us}",
        "    frame: sensor",
        "    extrinsics: {file: calibration/lidar_top.json, direction: sensor_to_ego}",
        "    intensity_max: 255",
        "    point_time: {unit: s, reference: frame}",
        "cameras:",
        *cam_yaml,
        "metadata:",
        "  site: synthetic",
        "",
    ]
    (root / "capture.yaml").write_text("\n".join(manifest))
