"""Synthetic scenes with a known geometric truth, and one planted defect each (tests only).

A car drives a gentle left curve at 8 m/s through a static street (ground, two building walls,
parked boxes, poles). A level roof lidar sees the street within 40 m at 10 Hz; three cameras
(front, left, rear) are OpenCV optical frames on the rig with one image per lidar frame. The
defects are what a capture conversion produces from a real mistake: the same wrong pose or clock
feeds every derived pose and the world-frame points.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from sfs_kit.models import Scene
from sfs_kit.models.geometry import matrix_to_pose, pose_to_matrix

F64 = npt.NDArray[np.float64]
Defect = Literal[
    "inverted_extrinsic", "quat_swap", "clock_300ms", "clock_300ms_left", "pose_jump",
    "far_coordinates", "stale_poses",
]

FRAMES = 30
PERIOD_US = 100_000
JUMP_FRAME = 15
CAMERA_W, CAMERA_H = 320, 240
CAMERAS = {"cam_front": 0.0, "cam_left": math.pi / 2, "cam_rear": math.pi}
LIDAR_ID = "lidar_top"
FAR_OFFSET_M = np.array([0.0, 4_500_000.0, 0.0])


def ego_pose(t_s: float) -> F64:
    """``world_from_ego`` 4x4 at time t: a gentle left curve at 8 m/s, level."""
    yaw = 0.05 * t_s
    m = np.eye(4)
    m[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    m[:3, 3] = [8.0 * t_s, 0.2 * t_s * t_s, 0.0]
    return m


def ego_from_camera(yaw_rad: float) -> F64:
    """Optical frame (+z forward along ego yaw, +y down), 1.5 m up, 1 m out from the centre."""
    fwd = np.array([math.cos(yaw_rad), math.sin(yaw_rad), 0.0])
    down = np.array([0.0, 0.0, -1.0])
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = np.cross(down, fwd), down, fwd
    m[:3, 3] = [math.cos(yaw_rad), math.sin(yaw_rad), 1.5]
    return m


EGO_FROM_LIDAR = np.eye(4)
EGO_FROM_LIDAR[2, 3] = 1.8


def street(seed: int = 7) -> F64:
    """The static world: about 60,000 points."""
    rng = np.random.default_rng(seed)
    parts = []
    ground = rng.uniform([-40, -14, 0], [80, 14, 0], (15_000, 3))
    parts.append(ground)
    for side in (-9.0, 9.0):  # building walls with a varying roof line
        x = rng.uniform(-40, 80, 15_000)
        z = rng.uniform(0, 1, 15_000) * (6 + 3 * np.sin(x / 7))
        parts.append(np.column_stack([x, np.full_like(x, side), z]))
    for cx in np.arange(-30, 80, 9.0):  # parked boxes alternating sides, and poles
        cy = 5.5 if int(cx) % 2 else -5.5
        box = rng.uniform([cx - 2, cy - 0.9, 0], [cx + 2, cy + 0.9, 1.5], (1_000, 3))
        parts.append(box)
        h = rng.uniform(0, 5, 300)
        parts.append(np.column_stack([np.full_like(h, cx + 4), np.full_like(h, -cy * 1.3), h]))
    return np.concatenate(parts)


def _png(color: tuple[int, int, int]) -> npt.NDArray[np.uint8]:
    img = Image.new("RGB", (CAMERA_W, CAMERA_H), color)
    for y in range(0, CAMERA_H, 20):  # horizontal stripes, so it is not one flat colour
        img.paste((color[0] // 2, color[1] // 2, color[2] // 2), (0, y, CAMERA_W, y + 4))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _pose_rows(matrices: list[F64]) -> list[list[float]]:
    return [matrix_to_pose(m).tolist() for m in matrices]


def build_geometry_scene(defect: Defect | None = None, *, frames: int = FRAMES,
                         points_per_frame: int = 6_000) -> Scene:
    """The clean street scene, or the same with one ``defect`` planted."""
    rng = np.random.default_rng(11)
    world = street()
    times_us = [i * PERIOD_US for i in range(frames)]

    def recorded_ego(t_us: int) -> F64:
        m = ego_pose(t_us / 1e6)
        if defect == "pose_jump" and t_us >= JUMP_FRAME * PERIOD_US:
            m = m.copy()
            m[0, 3] += 10.0
        if defect == "stale_poses":
            m = ego_pose(0.0)
        if defect == "far_coordinates":
            m = m.copy()
            m[:3, 3] += FAR_OFFSET_M
        if defect == "quat_swap":  # the ego poses held wxyz and were read as xyzw
            x, y, z, w = matrix_to_pose(m)[3:]
            m = pose_to_matrix([*m[:3, 3], w, x, y, z])
        return m

    lidar_true = [ego_pose(t / 1e6) @ EGO_FROM_LIDAR for t in times_us]
    lidar_rec = [recorded_ego(t) @ EGO_FROM_LIDAR for t in times_us]
    lidar_frames = []
    for t, true_m, rec_m in zip(times_us, lidar_true, lidar_rec, strict=True):
        near = world[np.linalg.norm(world - true_m[:3, 3], axis=1) < 40.0]
        pick = near[rng.choice(len(near), min(points_per_frame, len(near)), replace=False)]
        sensor = (pick - true_m[:3, 3]) @ true_m[:3, :3]  # sensor frame
        posed = np.asarray(sensor @ rec_m[:3, :3].T + rec_m[:3, 3], dtype=np.float64)
        lidar_frames.append({"timestamp": t, "points": {"positions": posed.astype(np.float32)}})
    sensors: list[dict[str, object]] = [{
        "type": "lidar", "id": LIDAR_ID,
        "poses": {"timestamps": times_us, "values": _pose_rows(lidar_rec)},
        "frames": lidar_frames,
    }]
    colors = {"cam_front": (200, 80, 60), "cam_left": (60, 160, 90), "cam_rear": (70, 90, 200)}
    for cam_id, yaw in CAMERAS.items():
        extrinsic: F64 = ego_from_camera(yaw)
        if defect == "inverted_extrinsic" and cam_id == "cam_front":
            extrinsic = np.asarray(np.linalg.inv(extrinsic), dtype=np.float64)
        shifted = defect == "clock_300ms" or (defect == "clock_300ms_left" and cam_id == "cam_left")
        shift = 300_000 if shifted else 0
        img_times = [t + shift for t in times_us]
        ego_at: Callable[[int], F64] = recorded_ego
        cam_m = [ego_at(t) @ extrinsic for t in img_times]
        content = _png(colors[cam_id])
        sensors.append({
            "type": "camera", "id": cam_id,
            "poses": {"timestamps": img_times, "values": _pose_rows(cam_m)},
            "intrinsics": {"fx": 160.0, "fy": 160.0, "cx": CAMERA_W / 2, "cy": CAMERA_H / 2,
                           "width": CAMERA_W, "height": CAMERA_H},
            "images": [{"timestamp": t, "content": content} for t in img_times],
        })
    return Scene.model_validate({"version": "1.0", "time_offset": 0, "sensors": sensors})
