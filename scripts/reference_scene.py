"""The benchmark reference scene as a plain SFS-schema dict (spec section 2), built in memory.

One lidar sensor ``lidar_top`` (50 frames x 120,000 points by default: positions float32 (N,3),
intensities uint8 (N,), timestamps uint32 (N,) on the scene clock, >= the frame timestamp) and six
cameras with intrinsics and one real ~400 KB JPEG per frame. Timestamps are microseconds from 0
at 10 Hz; poses follow a smooth circular drive. Import ``build_reference_scene`` from other
benchmarks (``sys.path`` must contain ``scripts/``).
"""

from __future__ import annotations

import functools
import io
import math
from typing import Any

import numpy as np
import numpy.typing as npt

FRAME_PERIOD_US = 100_000
JPEG_TARGET_BYTES = 400_000
IMAGE_WIDTH, IMAGE_HEIGHT = 1920, 1080
CAMERA_NAMES = ("front", "front_left", "front_right", "back", "back_left", "back_right")


def _pose_xyzq(timestamp_us: int, yaw_offset_rad: float = 0.0) -> list[float]:
    """A smooth drive on a 50 m circle at 10 m/s, z up; ``[x, y, z, qx, qy, qz, qw]``."""
    angle_rad = 10.0 * timestamp_us / 1e6 / 50.0
    yaw_rad = angle_rad + math.pi / 2 + yaw_offset_rad
    return [
        50.0 * math.cos(angle_rad),
        50.0 * math.sin(angle_rad),
        1.8,
        0.0,
        0.0,
        math.sin(yaw_rad / 2),
        math.cos(yaw_rad / 2),
    ]


def _noise_image(seed: int) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(IMAGE_HEIGHT // 40 + 1, IMAGE_WIDTH // 40 + 1, 3))
    texture = np.repeat(np.repeat(coarse, 40, axis=0), 40, axis=1)[:IMAGE_HEIGHT, :IMAGE_WIDTH]
    fine = rng.normal(0.0, 14.0, size=(IMAGE_HEIGHT, IMAGE_WIDTH, 3))
    return np.clip(texture * 0.6 + 50 + fine, 0, 255).astype(np.uint8)


def _encode_jpeg(pixels: npt.NDArray[np.uint8], quality: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@functools.cache
def reference_jpeg(index: int) -> bytes:
    """A distinct noise-textured 1920x1080 JPEG whose quality is tuned to about 400 KB."""
    pixels = _noise_image(1000 + index)
    low, high = 5, 95
    best = _encode_jpeg(pixels, 50)
    while low <= high:
        quality = (low + high) // 2
        data = _encode_jpeg(pixels, quality)
        if abs(len(data) - JPEG_TARGET_BYTES) < abs(len(best) - JPEG_TARGET_BYTES):
            best = data
        if len(data) < JPEG_TARGET_BYTES:
            low = quality + 1
        else:
            high = quality - 1
    return best


def _lidar_frame(rng: np.random.Generator, timestamp_us: int, n_points: int) -> dict[str, Any]:
    x, y, z = _pose_xyzq(timestamp_us)[:3]
    radius_m = rng.uniform(2.0, 60.0, n_points)
    azimuth_rad = rng.uniform(0.0, 2 * math.pi, n_points)
    positions_m = np.empty((n_points, 3), dtype=np.float32)
    positions_m[:, 0] = x + radius_m * np.cos(azimuth_rad)
    positions_m[:, 1] = y + radius_m * np.sin(azimuth_rad)
    positions_m[:, 2] = z + rng.uniform(-2.0, 4.0, n_points)
    sweep_us = np.sort(rng.integers(0, FRAME_PERIOD_US, n_points, dtype=np.uint32))
    return {
        "timestamp": timestamp_us,
        "points": {
            "positions": positions_m,
            "intensities": rng.integers(0, 256, n_points, dtype=np.uint8),
            "timestamps": (sweep_us + np.uint32(timestamp_us)).astype(np.uint32),
        },
    }


def build_reference_scene(
    n_frames: int = 50, n_points: int = 120_000, n_cameras: int = 6
) -> dict[str, Any]:
    """Build the reference scene dict; camera images share one JPEG buffer per camera."""
    rng = np.random.default_rng(42)
    timestamps_us = [i * FRAME_PERIOD_US for i in range(n_frames)]
    lidar = {
        "id": "lidar_top",
        "type": "lidar",
        "coordinates": "world",
        "poses": {"timestamps": timestamps_us, "values": [_pose_xyzq(t) for t in timestamps_us]},
        "frames": [_lidar_frame(rng, t, n_points) for t in timestamps_us],
    }
    sensors: list[dict[str, Any]] = [lidar]
    for index in range(n_cameras):
        name = CAMERA_NAMES[index % len(CAMERA_NAMES)]
        yaw_rad = 2 * math.pi * index / max(n_cameras, 1)
        content = np.frombuffer(reference_jpeg(index), dtype=np.uint8)
        sensors.append(
            {
                "id": f"camera_{name}" if index < len(CAMERA_NAMES) else f"camera_{index}",
                "type": "camera",
                "poses": {
                    "timestamps": timestamps_us,
                    "values": [_pose_xyzq(t, yaw_rad) for t in timestamps_us],
                },
                "intrinsics": {
                    "fx": 1000.0,
                    "fy": 1000.0,
                    "cx": IMAGE_WIDTH / 2,
                    "cy": IMAGE_HEIGHT / 2,
                    "width": IMAGE_WIDTH,
                    "height": IMAGE_HEIGHT,
                    "distortion": None,
                },
                "images": [{"timestamp": t, "content": content} for t in timestamps_us],
            }
        )
    return {"version": "1.0", "time_unit": "microseconds", "time_offset": 0, "sensors": sensors}


if __name__ == "__main__":
    scene = build_reference_scene(n_frames=2, n_points=1000, n_cameras=2)
    print(f"sensors: {[s['id'] for s in scene['sensors']]}; jpeg bytes: {len(reference_jpeg(0))}")
