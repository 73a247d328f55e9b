"""Small captures built in code for the capture tests: folders, a copy of the fixture."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfs_kit.readers import PointCloud, write_pcd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "sample_capture"
START_US = 1_700_000_000_000_000


def jpeg(width: int, height: int, shade: int = 100) -> bytes:
    """A real tiny JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 50, 200)).save(out, format="JPEG", quality=50)
    return out.getvalue()


def png(width: int, height: int) -> bytes:
    """A real tiny PNG."""
    out = io.BytesIO()
    Image.new("L", (width, height), 90).save(out, format="PNG")
    return out.getvalue()


CAMERA_EXTRINSICS = [
    [0.0, 0.0, 1.0, 1.0],
    [-1.0, 0.0, 0.0, 0.0],
    [0.0, -1.0, 0.0, 1.5],
    [0.0, 0.0, 0.0, 1.0],
]


def build_folder(
    root: Path,
    *,
    frames: int = 3,
    points: int = 50,
    camera: bool = True,
    pose_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    poses: bool = True,
    point_time: bool = True,
    manifest_extra: str = "",
) -> Path:
    """A capture folder: lidar PCDs (sensor frame, lidar 2 m above ego), one 32x24 camera.

    The ego moves +1 m in x per 100 ms frame; poses every 50 ms, to 100 ms after the last frame.
    """
    rng = np.random.default_rng(7)
    (root / "lidar").mkdir(parents=True)
    stamps = [START_US + k * 100_000 for k in range(frames)]
    for k in range(frames):
        pos = rng.uniform(-10, 10, (points, 3)).astype(np.float32)
        pos[0] = 0.0  # the first point sits at the sensor origin
        cloud = PointCloud(
            positions=pos,
            source="t",
            format="pcd",
            intensity=np.linspace(0, 255, points).astype(np.float32),
            time_s=np.linspace(0.0, 0.09, points) if point_time else None,
        )
        write_pcd(root / "lidar" / f"{k:03d}.pcd", cloud)
    (root / "lidar" / "ts.txt").write_text("".join(f"{t}\n" for t in stamps))
    if poses:
        lines = ["t,x,y,z,qx,qy,qz,qw"]
        for j in range(2 * frames + 1):
            x = pose_offset_m[0] + j * 0.5
            lines.append(
                f"{START_US + j * 50_000},{x},{pose_offset_m[1]},{pose_offset_m[2]},0,0,0,1"
            )
        (root / "poses.csv").write_text("\n".join(lines) + "\n")
    cam_yaml = ""
    if camera:
        (root / "cam").mkdir()
        for k, t in enumerate(stamps):
            (root / "cam" / f"{t + 10_000}.jpg").write_bytes(jpeg(32, 24, 60 + 10 * k))
        (root / "cam_intr.json").write_text(
            json.dumps({"fx": 30.0, "fy": 30.0, "cx": 16.0, "cy": 12.0, "width": 32, "height": 24})
        )
        (root / "cam_extr.json").write_text(json.dumps({"matrix": CAMERA_EXTRINSICS}))
        cam_yaml = (
            "cameras:\n"
            "  - id: cam\n"
            "    files: cam/*.jpg\n"
            "    timestamps: {from_filename: true, unit: us}\n"
            "    intrinsics: {file: cam_intr.json}\n"
            "    extrinsics: {file: cam_extr.json, direction: sensor_to_ego}\n"
        )
    manifest = (
        "version: 1\n"
        + ("poses: {file: poses.csv, time_unit: us}\n" if poses else "")
        + "lidars:\n"
        "  - id: lidar\n"
        "    files: lidar/*.pcd\n"
        "    timestamps: {file: lidar/ts.txt, unit: us}\n"
        "    extrinsics: {translation_m: [0, 0, 2], quat_xyzw: [0, 0, 0, 1], "
        "direction: sensor_to_ego}\n"
        "    intensity_max: 255\n"
        + ("    point_time: {unit: s, reference: frame}\n" if point_time else "")
        + cam_yaml
        + manifest_extra
    )
    (root / "capture.yaml").write_text(manifest)
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A fresh small capture folder."""
    return build_folder(tmp_path / "cap")


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    """Build a capture folder with options (see ``build_folder``)."""
    counter = iter(range(1000))

    def make(**kwargs: object) -> Path:
        return build_folder(tmp_path / f"cap{next(counter)}", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of fixtures/sample_capture."""
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE, dest)
    return dest
