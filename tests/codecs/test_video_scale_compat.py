"""Camera video against Scale's own helpers (scale_sensor_fusion_io.utils.video_helpers).

Scale's ``VideoWriter`` and ``VideoReader`` shell out to an ``ffmpeg`` binary on the PATH. No
network is needed: the ``imageio-ffmpeg`` wheel (test extra) ships a static ffmpeg, linked here
as ``ffmpeg`` in a temporary PATH entry, so Scale's helpers run exactly as written.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from sfs_kit import read_sfs, validate
from sfs_kit.capture import convert_capture
from sfs_kit.codecs.video import decode_frame, probe_video
from sfs_kit.models import CameraSensor

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "fixtures" / "opencv" / "building.jpg"
IDENTITY = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
N = 6


@pytest.fixture
def scale_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ``ffmpeg`` on the PATH for Scale's helpers (the imageio-ffmpeg binary)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ffmpeg").symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # VideoReader's frame cache
    return bin_dir


def _scale_helpers() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_sensor_fusion_io.utils import video_helpers
    return video_helpers


def _frames(n: int) -> list[np.ndarray]:
    """n 320x240 BGR crops of a real photo, moving 4 px right per frame."""
    src = np.asarray(cv2.imread(str(PHOTO)), np.uint8)
    return [np.ascontiguousarray(src[100:340, 100 + 4 * k : 420 + 4 * k]) for k in range(n)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * float(np.log10(255.0**2 / mse))


def test_a_scene_scale_writes_with_its_video_helper_reads_back(
    scale_ffmpeg: Path, tmp_path: Path
) -> None:
    from scale_json_binary.json_binary_codecs import write_file
    from scale_sensor_fusion_io.spec.sfs import types as SFS  # noqa: N812

    frames = _frames(N)
    paths = []
    for k, frame in enumerate(frames):
        paths.append(str(tmp_path / f"{k}.jpg"))
        cv2.imwrite(paths[-1], frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    mp4 = tmp_path / "scale.mp4"
    _scale_helpers().VideoWriter(str(mp4), fps=10, show_progress=False).encode(paths)
    stamps = [k * 100_000 for k in range(N)]
    camera = SFS.CameraSensor(
        id="cam",
        poses=SFS.PosePath(timestamps=stamps, values=[IDENTITY] * N),
        intrinsics=SFS.CameraIntrinsics(
            fx=300.0, fy=300.0, cx=160.0, cy=120.0, width=320, height=240, distortion=None
        ),
        video=SFS.CameraSensorVideo(
            timestamps=stamps, content=np.frombuffer(mp4.read_bytes(), np.uint8), fps=10.0
        ),
    )
    lidar = SFS.LidarSensor(
        id="lidar",
        poses=SFS.PosePath(timestamps=[0], values=[IDENTITY]),
        frames=[
            SFS.LidarSensorFrame(
                timestamp=0,
                points=SFS.LidarSensorPoints(positions=np.ones((4, 3), np.float32)),
            )
        ],
    )
    out = tmp_path / "scale.sfs"
    write_file(str(out), dataclasses.asdict(SFS.Scene(sensors=[lidar, camera], time_offset=0)))

    scene = read_sfs(out)
    assert [i for i in validate(scene) if i.severity == "error"] == []  # V-C5 with PyAV
    cam = next(s for s in scene.sensors if isinstance(s, CameraSensor))
    assert cam.video is not None
    assert cam.video.timestamps.tolist() == stamps
    info = probe_video(cam.video.content)
    assert (info.codec, info.width, info.height) == ("h264", 320, 240)
    assert info.pix_fmt in ("yuv420p", "yuvj420p")  # a recent ffmpeg keeps JPEG's full range
    assert info.frame_count == N
    for k in range(N):
        decoded = decode_frame(cam.video.content, k)[:, :, ::-1]
        scores = [_psnr(decoded, f) for f in frames]
        assert int(np.argmax(scores)) == k
        assert scores[k] > 30.0


def test_scales_reader_decodes_our_video_frame_by_frame(scale_ffmpeg: Path, tmp_path: Path) -> None:
    """Scale's own loading path (SFSLoader -> CameraSensor.get_content_at_frame -> ffmpeg)."""
    from capture.video_support import build_video_capture, decode_jpeg_rgb

    folder, jpegs = build_video_capture(tmp_path / "cap", frames=N, cameras=1)
    out = tmp_path / "ours.sfs"
    convert_capture(folder, out, format="sfs", camera_video=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_sensor_fusion_io.loaders import SFSLoader

        scene = SFSLoader(str(out)).load()
    camera = next(s for s in scene.sensors if s.type.value == "camera")
    refs = [decode_jpeg_rgb(j) for j in jpegs["cam0"]]
    for k in range(N):
        picture = camera.get_content_at_frame(k)  # RGB, decoded by Scale's ffmpeg call
        assert picture.shape == (240, 320, 3)
        scores = [_psnr(picture, ref) for ref in refs]
        assert int(np.argmax(scores)) == k
        assert scores[k] > 28.0
    cache = Path(camera.video_loader.cache_dir)
    assert len(list(cache.glob("*.jpg"))) == N  # ffmpeg found exactly N frames in our MP4
