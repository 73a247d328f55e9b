"""Cameras as video (``camera_video=True``): D8 MP4s, checked by Scale, OpenCV and our reader."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from sfs_kit.capture import convert_capture, read_capture_scene
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.codecs.video import decode_frame, probe_video
from sfs_kit.errors import InputError
from sfs_kit.models import CameraSensor, Scene

from .conftest import START_US
from .video_support import (
    build_video_capture,
    camera_yaml,
    decode_jpeg_rgb,
    moving_frames,
    psnr,
    without_first_packets,
)

FRAMES = 8
Scene_ = tuple[Path, dict[str, list[bytes]]]  # the converted scene and each camera's JPEGs


@pytest.fixture(scope="module")
def video_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[bytes]]]:
    """One converted capture (2 cameras x 8 frames of 320x240) shared by the read-only tests."""
    root = tmp_path_factory.mktemp("video")
    folder, jpegs = build_video_capture(root / "cap", frames=FRAMES)
    out = root / "scene.sfs"
    result = convert_capture(folder, out, format="sfs", camera_video=True)
    assert (result.video_count, result.image_count) == (2, 0)
    assert [i for i in result.issues if i.severity == "error"] == []
    return out, jpegs


def _video_bytes(out: Path, cam: str) -> bytes:
    tree = read_sfs_dict(out)
    sensor = next(s for s in tree["sensors"] if s["id"] == cam)
    assert "images" not in sensor
    return bytes(sensor["video"]["content"].tobytes())


def test_scale_validator_accepts_a_scene_with_video_cameras(
    video_scene: Scene_, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scale's model converter gives each video camera a VideoReader, which makes a cache folder
    # under tempfile.gettempdir() at once: keep it in tmp_path
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene
    out, _ = video_scene
    raw = read_file(str(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = parse_and_validate_scene(raw)
    assert result.success is True, result
    cams = [s for s in raw["sensors"] if s["type"] == "camera"]
    assert [len(c["video"]["timestamps"]) for c in cams] == [FRAMES, FRAMES]


def test_video_bytes_decode_with_opencv_in_order(video_scene: Scene_, tmp_path: Path) -> None:
    out, jpegs = video_scene
    for cam, sources in jpegs.items():
        mp4 = tmp_path / f"{cam}.mp4"
        mp4.write_bytes(_video_bytes(out, cam))
        capture = cv2.VideoCapture(str(mp4))
        decoded = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            decoded.append(np.asarray(frame, dtype=np.uint8)[:, :, ::-1])
        capture.release()
        assert len(decoded) == FRAMES
        assert {f.shape for f in decoded} == {(240, 320, 3)}
        refs = [decode_jpeg_rgb(j) for j in sources]
        for i, frame in enumerate(decoded):
            scores = [psnr(frame, ref) for ref in refs]
            assert scores[i] > 32.0, (cam, i, scores[i])
            assert int(np.argmax(scores)) == i  # frame i is source image i: order survives


def test_d8_settings_are_in_the_stream(video_scene: Scene_) -> None:
    out, _ = video_scene
    data = _video_bytes(out, "cam0")
    info = probe_video(data)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 320, 240)
    assert info.frame_count == FRAMES
    assert info.average_rate == pytest.approx(10.0)
    with av.open(io.BytesIO(data), "r") as container:
        keys = [p.is_keyframe for p in container.demux(video=0) if p.size]
    assert keys == [True, False] * (FRAMES // 2)  # keyint 2, scene cuts off


def test_timestamps_and_frames_round_trip_through_our_reader(
    video_scene: Scene_,
) -> None:
    out, jpegs = video_scene
    scene = Scene.model_validate(read_sfs_dict(out))
    cams = [s for s in scene.sensors if isinstance(s, CameraSensor)]
    for cam in cams:
        assert cam.video is not None
        assert cam.images is None
        assert cam.video.timestamps.tolist() == [10_000 + k * 100_000 for k in range(FRAMES)]
        assert cam.video.fps == pytest.approx(10.0)
        refs = [decode_jpeg_rgb(j) for j in jpegs[str(cam.id)]]
        for i in (0, 3, FRAMES - 1):
            frame = decode_frame(cam.video.content, i)
            assert frame.shape == (240, 320, 3)
            scores = [psnr(frame, ref) for ref in refs]
            assert int(np.argmax(scores)) == i


def test_in_memory_scene_has_the_same_videos(tmp_path: Path) -> None:
    folder, _ = build_video_capture(tmp_path / "cap", frames=4, cameras=1)
    scene = read_capture_scene(folder, camera_video=True)
    cam = next(s for s in scene.sensors if isinstance(s, CameraSensor))
    assert cam.video is not None
    assert probe_video(cam.video.content).frame_count == 4
    assert list(tmp_path.iterdir()) == [tmp_path / "cap"]  # no temporary MP4 left anywhere


def test_no_temporary_file_is_left_beside_the_output(tmp_path: Path) -> None:
    folder, _ = build_video_capture(tmp_path / "cap", frames=4, cameras=2)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    convert_capture(folder, out_dir / "s.sfs", format="sfs", camera_video=True)
    assert sorted(p.name for p in out_dir.iterdir()) == ["s.sfs"]


def test_a_bad_image_midway_leaves_nothing(tmp_path: Path) -> None:
    folder, _ = build_video_capture(tmp_path / "cap", frames=4, cameras=1)
    victim = sorted((folder / "cam0").glob("*.jpg"))[2]
    victim.write_bytes(victim.read_bytes()[:500])  # cut: no EOI
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(InputError, match=victim.name):
        convert_capture(folder, out_dir / "s.sfs", format="sfs", camera_video=True)
    assert list(out_dir.iterdir()) == []


def test_camera_video_with_split_base64_is_refused(tmp_path: Path) -> None:
    folder, _ = build_video_capture(tmp_path / "cap", frames=2, cameras=1)
    with pytest.raises(InputError, match="split_base64 frames reference images"):
        convert_capture(folder, tmp_path / "frames", format="split_base64", camera_video=True)
    assert not (tmp_path / "frames").exists()


def test_python_memory_stays_flat_with_capture_length(tmp_path: Path) -> None:
    """The converter keeps no image bytes or frames around: its Python peak does not grow with
    the number of images (the encoder's own buffers are bounded by x264's lookahead)."""
    peaks = []
    for n in (6, 24):
        folder, _ = build_video_capture(
            tmp_path / f"cap{n}", frames=n, cameras=1, width=640, height=480
        )
        tracemalloc.start()
        convert_capture(folder, tmp_path / f"s{n}.sfs", format="sfs", camera_video=True)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    one_image = max(p.stat().st_size for p in (tmp_path / "cap24" / "cam0").iterdir())
    assert peaks[1] - peaks[0] < 4 * one_image, peaks


_PEAK_RSS = """
import sys
from sfs_kit.capture import convert_capture
convert_capture(sys.argv[1], sys.argv[2], format="sfs", camera_video=True)
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


def _peak_rss_kib(folder: Path, out: Path) -> int:
    """Peak resident memory (VmHWM) of a fresh process converting ``folder`` with video."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(folder), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=300,
    )
    return int(done.stdout.split()[-1])


def test_process_memory_stays_flat_with_capture_length(tmp_path: Path) -> None:
    """Peak RSS, FFmpeg's and x264's buffers included (tracemalloc sees only Python's), does not
    grow with the number of pictures: 40 more 640x480 frames held decoded would add 18-37 MB."""
    peaks = []
    for n in (8, 48):
        folder, _ = build_video_capture(
            tmp_path / f"cap{n}", frames=n, cameras=1, width=640, height=480
        )
        peaks.append(_peak_rss_kib(folder, tmp_path / f"s{n}.sfs"))
        assert probe_video(_video_bytes(tmp_path / f"s{n}.sfs", "cam0")).frame_count == n
    assert peaks[1] - peaks[0] < 10 * 1024, peaks  # KiB


# --- cameras whose input is already a video -------------------------------------------------


def _write_mp4(
    path: Path,
    n: int,
    width: int,
    height: int,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> list[np.ndarray]:
    frames = moving_frames(n, width, height, photo=1)
    with av.open(str(path), "w", format="mp4") as out:
        stream: Any = out.add_stream(codec, rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options or {}
        for k, bgr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[:, :, ::-1]), "rgb24")
            frame = frame.reformat(format=pix_fmt)
            frame.pts = k
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]


def _video_input_capture(root: Path, n_stamps: int) -> Path:
    folder, _ = build_video_capture(root, frames=6, cameras=1)
    stamps = [START_US + k * 100_000 + 20_000 for k in range(n_stamps)]
    (folder / "front_ts.txt").write_text("".join(f"{t}\n" for t in stamps))
    with (folder / "capture.yaml").open("a") as f:
        f.write(
            camera_yaml(
                "front", "video: front.mp4\n    timestamps: {file: front_ts.txt}", "intr.json"
            )
        )
    return folder


def test_an_h264_mp4_input_passes_through_unchanged(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 5)
    _write_mp4(folder / "front.mp4", 5, 320, 240, options={"crf": "30", "g": "5"})
    out = tmp_path / "s.sfs"
    result = convert_capture(folder, out, format="sfs")  # images stay images
    assert (result.video_count, result.image_count) == (1, 6)
    assert any("stored without re-encoding" in n for n in result.notes)
    stored = _video_bytes(out, "front")
    assert (
        hashlib.sha256(stored).digest()
        == hashlib.sha256((folder / "front.mp4").read_bytes()).digest()
    )
    tree = read_sfs_dict(out)
    front = next(s for s in tree["sensors"] if s["id"] == "front")
    assert front["video"]["timestamps"] == [20_000 + k * 100_000 for k in range(5)]


def test_other_video_inputs_are_re_encoded_to_h264(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 5)
    sources = _write_mp4(folder / "front.mp4", 5, 320, 240, codec="mpeg4")
    out = tmp_path / "s.sfs"
    result = convert_capture(folder, out, format="sfs", camera_video=True)
    assert result.video_count == 2
    assert not any("stored without re-encoding" in n for n in result.notes)
    stored = _video_bytes(out, "front")
    info = probe_video(stored)
    assert (info.codec, info.pix_fmt, info.frame_count) == ("h264", "yuv420p", 5)
    for i, src in enumerate(sources):
        assert psnr(decode_frame(stored, i), src) > 28.0


def test_a_video_input_with_a_wrong_frame_count_names_the_camera(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 6)
    _write_mp4(folder / "front.mp4", 5, 320, 240)
    with pytest.raises(InputError, match=r"camera 'front'.* 5 frames .* 6 timestamps"):
        convert_capture(folder, tmp_path / "s.sfs", format="sfs")
    assert not (tmp_path / "s.sfs").exists()


def test_a_video_input_of_the_wrong_size_names_the_camera(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 5)
    _write_mp4(folder / "front.mp4", 5, 640, 480)
    with pytest.raises(InputError, match=r"camera 'front'.*640x480.*320x240"):
        convert_capture(folder, tmp_path / "s.sfs", format="sfs")


def test_a_video_input_cut_between_keyframes_names_the_camera(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 5)
    _write_mp4(tmp_path / "whole.mp4", 6, 320, 240, options={"g": "2", "bf": "0"})
    cut = without_first_packets((tmp_path / "whole.mp4").read_bytes(), 1, tmp_path)
    (folder / "front.mp4").write_bytes(cut)
    with pytest.raises(InputError, match=r"camera 'front'.*does not start with a keyframe"):
        convert_capture(folder, tmp_path / "s.sfs", format="sfs")
    assert not (tmp_path / "s.sfs").exists()


def test_a_corrupt_video_input_is_an_input_error(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 5)
    (folder / "front.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(500))
    with pytest.raises(InputError, match=r"front\.mp4"):
        convert_capture(folder, tmp_path / "s.sfs", format="sfs")


def test_a_video_input_cannot_go_to_split_base64(tmp_path: Path) -> None:
    folder = _video_input_capture(tmp_path / "cap", 5)
    _write_mp4(folder / "front.mp4", 5, 320, 240)
    with pytest.raises(InputError, match=r"Camera 'front'.*only a \.sfs"):
        convert_capture(folder, tmp_path / "frames", format="split_base64")


def test_odd_sized_cameras_become_even_videos_with_matching_intrinsics(tmp_path: Path) -> None:
    folder, jpegs = build_video_capture(
        tmp_path / "cap", frames=4, cameras=1, width=321, height=241
    )
    out = tmp_path / "s.sfs"
    result = convert_capture(folder, out, format="sfs", camera_video=True)
    assert any("321x241 pictures are stored as a 320x240 video" in n for n in result.notes)
    cam = next(s for s in read_sfs_dict(out)["sensors"] if s["type"] == "camera")
    intr = cam["intrinsics"]
    assert (intr["width"], intr["height"], intr["cx"], intr["cy"]) == (320, 240, 160.5, 120.5)
    content = cam["video"]["content"]
    assert probe_video(content).frame_count == 4
    for k, data in enumerate(jpegs["cam0"]):
        ref = decode_jpeg_rgb(data)[:240, :320]
        assert psnr(decode_frame(content, k), ref) > 30.0
