"""Small valid scenes built in code (dict trees as read_sfs_dict returns them), for many tests."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

IDENTITY = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
WIDTH, HEIGHT = 32, 24


@cache
def jpeg_bytes(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A real baseline JPEG of the given size."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, format="JPEG")
    return buf.getvalue()


@cache
def png_bytes(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A real PNG of the given size."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def content(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Encoded bytes as a read-only 1-D uint8 array (like the reader returns)."""
    return np.frombuffer(data, dtype=np.uint8)


def lidar_points(n: int, t0: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "positions": rng.uniform(-50, 50, size=(n, 3)).astype(np.float32),
        "colors": rng.integers(0, 256, size=(n, 3), dtype=np.uint8),
        "intensities": rng.integers(0, 256, size=n, dtype=np.uint8),
        "timestamps": (t0 + np.arange(n, dtype=np.uint32) * 10).astype(np.uint32),
    }


def pose_path(timestamps: list[int]) -> dict[str, Any]:
    return {
        "timestamps": list(timestamps),
        "values": [[float(i), 2.0 * i, 0.5, 0.0, 0.0, 0.0, 1.0] for i in range(len(timestamps))],
    }


def build_scene(
    *,
    frames: int = 3,
    points: int = 20,
    with_radar: bool = True,
    with_camera: bool = True,
    png: bool = False,
) -> dict[str, Any]:
    """A scene that passes our compat validator and Scale's: lidar, radar, camera (images)."""
    frame_ts = [100_000 * i for i in range(frames)]
    span = pose_path([0, *[t + 50_000 for t in frame_ts]])
    sensors: list[dict[str, Any]] = [
        {
            "type": "lidar",
            "id": "lidar_top",
            "poses": span,
            "frames": [
                {"timestamp": t, "points": lidar_points(points, t, seed=i)}
                for i, t in enumerate(frame_ts)
            ],
        }
    ]
    if with_radar:
        rng = np.random.default_rng(7)
        sensors.append(
            {
                "type": "radar",
                "id": "radar_front",
                "poses": pose_path([0, 300_000]),
                "frames": [
                    {
                        "timestamp": 0,
                        "points": {
                            "positions": rng.uniform(-5, 5, (4, 3)).astype(np.float32),
                            "directions": rng.uniform(-1, 1, (4, 3)).astype(np.float32),
                            "lengths": rng.uniform(0, 2, 4).astype(np.float32),
                            "timestamps": np.array([0, 1, 2, 3], dtype=np.uint32),
                        },
                    }
                ],
            }
        )
    if with_camera:
        data = png_bytes() if png else jpeg_bytes()
        sensors.append(
            {
                "type": "camera",
                "id": "cam_front",
                "poses": pose_path([0, 300_000]),
                "intrinsics": {
                    "fx": 20.0,
                    "fy": 20.0,
                    "cx": 16.0,
                    "cy": 12.0,
                    "width": WIDTH,
                    "height": HEIGHT,
                    "distortion": {"model": "brown_conrady", "params": [0.0] * 10},
                },
                "images": [{"timestamp": t, "content": content(data)} for t in frame_ts],
            }
        )
    return {
        "version": "1.0",
        "sensors": sensors,
        "time_offset": 1_700_000_000_000_000,
        "time_unit": "microseconds",
    }
