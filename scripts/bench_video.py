"""Benchmark cameras as video (run by hand): ``.venv/bin/python scripts/bench_video.py``.

Camera sequences with real content and motion: each of 6 cameras cuts its frames from a real
photograph (``fixtures/opencv``: a Leuven street, a building, an aloe plant, fruit, two
chessboard photos), scaled to 1920x1080 and zoomed in and panned a little from frame to frame like
a forward-moving camera, saved as JPEG quality 90; 50 frames each at 10 Hz, beside a small lidar.
In the same run:

- size: the .sfs with ``camera_video`` against the same capture with images (target >= 3x smaller);
- quality: PSNR of every decoded video frame against its decoded source JPEG (target: mean
  >= 35 dB, no frame < 30 dB), decoded with PyAV and, for one camera, OpenCV;
- speed: encoder throughput in frames/s (``Mp4Encoder`` on the JPEG bytes, median of runs) and
  the wall time of ``sfs-kit convert`` (a fresh process each run) with and without
  ``--camera-video`` (medians);
- the incumbent: Scale's own ``VideoWriter`` (scale-sensor-fusion-io, which pipes the JPEGs into
  an ``ffmpeg`` binary: the imageio-ffmpeg wheel's, test extra) on the same camera in the same
  run, in alternating rounds (at least 5) so other load on the machine hits both alike: frames/s
  and CPU ms per frame (ffmpeg's, as a child process), MP4 size and PSNR against ours, with
  the ratios;
- memory: peak RSS of a ``convert --camera-video`` subprocess for 10 and 50 frames per camera
  (flat with capture length: one frame at a time).

The encoder settings are D8's (crf 24, preset fast, keyint 2, no scene cuts); ``--presets`` times
other presets for comparison only. Generated data stays in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from _synthetic_capture import CameraSpec, write_capture  # noqa: E402

from sfs_kit.codecs.sfs import read_sfs_dict  # noqa: E402
from sfs_kit.codecs.video import Mp4Encoder, VideoSettings, iter_frames, probe_video  # noqa: E402

PHOTOS = ["leuvenA.jpg", "building.jpg", "aloeL.jpg", "fruits.jpg", "left01.jpg", "right01.jpg"]
WIDTH, HEIGHT = 1920, 1080
U8 = npt.NDArray[np.uint8]


def moving_frames(photo: Path, n: int, camera: int) -> list[U8]:
    """``n`` 1920x1080 BGR frames from one photo: a 16:9 window zooming in ~0.6% and panning
    ~2 px (source scale) per frame, each camera drifting its own way."""
    src = np.asarray(cv2.imread(str(photo), cv2.IMREAD_COLOR), np.uint8)
    h, w = src.shape[:2]
    base_w = min(w, h * 16 / 9) * 0.85
    angle = camera * 1.1
    drift = np.array([np.cos(angle), np.sin(angle) * 0.4]) * 2.0
    out = []
    for k in range(n):
        cw = base_w / (1.0 + 0.006 * k)
        ch = cw * 9 / 16
        cx, cy = w / 2 + drift[0] * k, h / 2 + drift[1] * k
        scale = WIDTH / cw
        m = np.array([[scale, 0, -(cx - cw / 2) * scale], [0, scale, -(cy - ch / 2) * scale]])
        frame = cv2.warpAffine(
            src, m, (WIDTH, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
        )
        out.append(np.asarray(frame, np.uint8))
    return out


def jpeg(frame: U8) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(data.tobytes())


def psnr(a: U8, b: U8) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def make_capture(root: Path, frames: int, cameras: int) -> dict[int, list[bytes]]:
    images: dict[int, list[bytes]] = {}
    for c in range(cameras):
        photo = ROOT / "fixtures" / "opencv" / PHOTOS[c % len(PHOTOS)]
        images[c] = [jpeg(f) for f in moving_frames(photo, frames, c)]
    specs = [CameraSpec(f"cam_{c}", c * 2 * np.pi / cameras, WIDTH, HEIGHT) for c in range(cameras)]
    write_capture(
        root,
        frames=frames,
        points=2000,
        cameras=specs,
        quality=90,
        noise=False,
        seed=1,
        image_for=lambda c, _spec, k: images[c][k],
    )
    return images


def timed(run: object, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def encode_images(images: list[bytes], settings: VideoSettings, out: Path) -> None:
    """One camera's JPEGs through ``Mp4Encoder.add_images``, as the converter encodes them."""
    with Mp4Encoder(out, width=WIDTH, height=HEIGHT, fps=10.0, settings=settings) as enc:
        enc.add_images((data, f"image {k}") for k, data in enumerate(images))


def encoder_fps(images: list[bytes], settings: VideoSettings, out: Path, repeats: int) -> float:
    median, _ = timed(lambda: encode_images(images, settings, out), repeats)
    return len(images) / median


def cli_convert(capture: Path, out: Path, *video: str) -> None:
    """``sfs-kit convert`` in a fresh process, as a user runs it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sfs_kit",
            "-q",
            "convert",
            str(capture),
            "--format",
            "sfs",
            "-o",
            str(out),
            "--overwrite",
            *video,
        ],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def scale_writer(out: Path) -> Callable[[list[str]], None] | None:
    """Scale's ``VideoWriter`` (its ffmpeg command line, D8's settings) writing ``out``, as a
    function of the JPEG paths; None when scale-sensor-fusion-io or imageio-ffmpeg is missing."""
    try:
        import imageio_ffmpeg
        from scale_sensor_fusion_io.utils.video_helpers import VideoWriter
    except ImportError as err:
        print(f"(Scale's VideoWriter not measured: {err})")
        return None
    bin_dir = out.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "ffmpeg").exists():
        (bin_dir / "ffmpeg").symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    writer = VideoWriter(str(out), fps=10, show_progress=False)
    return writer.encode


def _cpu_s(who: int) -> float:
    use = resource.getrusage(who)
    return use.ru_utime + use.ru_stime


def head_to_head(
    ours: Callable[[], None], theirs: Callable[[], None], frames: int, repeats: int
) -> dict[str, float]:
    """Alternating rounds of our encoder and Scale's (load from other work hits both alike):
    median frames/s and CPU ms per frame of each (ours: this process's threads; Scale's: the
    ffmpeg child's, plus the piping here)."""
    runs: dict[str, list[float]] = {"fps": [], "cpu": [], "scale_fps": [], "scale_cpu": []}
    for _ in range(repeats):
        for key, run in (("", ours), ("scale_", theirs)):
            cpu0 = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            run()
            wall = time.perf_counter() - start
            cpu = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN) - cpu0
            runs[key + "fps"].append(frames / wall)
            runs[key + "cpu"].append(1000 * cpu / frames)
    return {key: statistics.median(values) for key, values in runs.items()}


def decoded_psnr(mp4: bytes | Path, images: list[bytes]) -> list[float]:
    """PSNR of each frame of ``mp4`` (decoded with PyAV) against its decoded source JPEG."""
    data = mp4.read_bytes() if isinstance(mp4, Path) else mp4
    scores = []
    for k, frame in enumerate(iter_frames(data)):
        ref = cv2.imdecode(np.frombuffer(images[k], np.uint8), cv2.IMREAD_COLOR)
        scores.append(psnr(frame.to_ndarray(format="bgr24"), np.asarray(ref, np.uint8)))
    assert len(scores) == len(images), (len(scores), len(images))
    return scores


def peak_rss_mb(capture: Path, out: Path) -> float:
    """Peak RSS of a fresh process converting ``capture`` with video: ``VmHWM`` of its own
    address space (``ru_maxrss`` would carry over this big parent's peak through fork/exec)."""
    code = (
        "import sys\n"
        "from sfs_kit.capture import convert_capture\n"
        "convert_capture(sys.argv[1], sys.argv[2], format='sfs', camera_video=True)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(capture), str(out)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--presets", default="", help="extra x264 presets to time, e.g. medium")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    import av

    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, PyAV "
        f"{av.__version__} (FFmpeg {av.library_versions['libavcodec']}), OpenCV {cv2.__version__}"
    )
    print(
        f"content: {args.cameras} cameras x {args.frames} frames, {WIDTH}x{HEIGHT} JPEG q90 "
        f"from fixtures/opencv photos, zoom 0.6%/frame + pan"
    )
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench_video_") as tmp_name:
        tmp = Path(tmp_name)
        images = make_capture(tmp / "cap", args.frames, args.cameras)
        jpeg_bytes = sum(len(b) for imgs in images.values() for b in imgs)
        print(
            f"JPEG input: {jpeg_bytes / 1e6:.1f} MB "
            f"({jpeg_bytes / args.frames / args.cameras / 1e3:.0f} kB per image)"
        )

        img_out, vid_out = tmp / "images.sfs", tmp / "video.sfs"
        t_img, runs_img = timed(lambda: cli_convert(tmp / "cap", img_out), args.repeats)
        t_vid, runs_vid = timed(
            lambda: cli_convert(tmp / "cap", vid_out, "--camera-video"), args.repeats
        )
        size_img, size_vid = img_out.stat().st_size, vid_out.stat().st_size
        n_images = args.frames * args.cameras
        print("\n== size (.sfs) ==")
        print(f"with images {size_img / 1e6:8.2f} MB")
        print(f"with video  {size_vid / 1e6:8.2f} MB")
        print(f"ratio       {size_img / size_vid:8.2f}x smaller (target >= 3x)")

        print("\n== quality: PSNR of every decoded frame vs its decoded source JPEG ==")
        tree = read_sfs_dict(vid_out)
        cams = [s for s in tree["sensors"] if s["type"] == "camera"]
        all_psnr: list[float] = []
        for c, cam in enumerate(cams):
            content = cam["video"]["content"]
            info = probe_video(content)
            scores = decoded_psnr(content.tobytes(), images[c])
            all_psnr += scores
            print(
                f"{cam['id']:<7} {PHOTOS[c % len(PHOTOS)]:<13} {info.frame_count} frames "
                f"{info.bit_rate / 1e6 if info.bit_rate else 0:6.2f} Mbit/s  PSNR mean "
                f"{statistics.mean(scores):5.2f} dB, min {min(scores):5.2f} dB"
            )
        mp4 = tmp / "cam0.mp4"
        mp4.write_bytes(cams[0]["video"]["content"].tobytes())
        capture = cv2.VideoCapture(str(mp4))
        cv_scores: list[float] = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            ref = cv2.imdecode(np.frombuffer(images[0][len(cv_scores)], np.uint8), 1)
            cv_scores.append(psnr(np.asarray(frame, np.uint8), np.asarray(ref, np.uint8)))
        capture.release()
        print(
            f"all     mean {statistics.mean(all_psnr):.2f} dB, min {min(all_psnr):.2f} dB "
            f"(targets: mean >= 35, min >= 30)"
        )
        print(
            f"cam_0 decoded by OpenCV: {len(cv_scores)} frames, mean "
            f"{statistics.mean(cv_scores):.2f} dB (independent decoder)"
        )

        print("\n== speed ==")
        paths = []
        for k, data in enumerate(images[0]):
            paths.append(str(tmp / f"scale_{k}.jpg"))
            Path(paths[-1]).write_bytes(data)
        scale_mp4 = tmp / "scale.mp4"
        scale_encode = scale_writer(scale_mp4)
        if scale_encode is None:
            fps = encoder_fps(images[0], VideoSettings(), tmp / "enc.mp4", args.repeats)
            race: dict[str, float] = {}
        else:
            race = head_to_head(
                lambda: encode_images(images[0], VideoSettings(), tmp / "enc.mp4"),
                lambda: scale_encode(paths),
                len(paths),
                max(args.repeats, 5),
            )
            fps = race["fps"]
        print(f"encoder (D8, preset fast): {fps:6.1f} frames/s at 1080p on {os.cpu_count()} CPUs")
        extra = {}
        for preset in filter(None, args.presets.split(",")):
            extra[preset] = encoder_fps(
                images[0], VideoSettings(preset=preset), tmp / "enc.mp4", args.repeats
            )
            print(f"encoder (crf 24, preset {preset}): {extra[preset]:6.1f} frames/s")
        print(
            f"sfs-kit convert               : median {t_img:6.2f} s  "
            f"runs {[round(t, 2) for t in runs_img]}"
        )
        print(
            f"sfs-kit convert --camera-video: median {t_vid:6.2f} s  "
            f"runs {[round(t, 2) for t in runs_vid]}  ({n_images / t_vid:.1f} images/s, "
            f"{t_vid / t_img:.1f}x the images' time)"
        )

        print("\n== the incumbent: Scale's VideoWriter (ffmpeg CLI, same settings), cam_0 ==")
        scale_figures: dict[str, float] = {}
        if race:
            ours = cams[0]["video"]["content"]
            scale_scores = decoded_psnr(scale_mp4, images[0])
            ours_scores = decoded_psnr(ours.tobytes(), images[0])
            scale_size = scale_mp4.stat().st_size
            print(
                f"frames/s   ours {fps:6.1f}   Scale's {race['scale_fps']:6.1f}   "
                f"ratio {fps / race['scale_fps']:.2f}   (medians of alternating rounds)"
            )
            print(
                f"CPU/frame  ours {race['cpu']:6.1f} ms   Scale's {race['scale_cpu']:6.1f} ms   "
                f"ratio {race['cpu'] / race['scale_cpu']:.2f}"
            )
            print(
                f"MP4 bytes  ours {ours.size / 1e6:6.2f} MB   Scale's {scale_size / 1e6:6.2f} MB   "
                f"ratio {ours.size / scale_size:.2f}"
            )
            print(
                f"PSNR mean  ours {statistics.mean(ours_scores):6.2f} dB   Scale's "
                f"{statistics.mean(scale_scores):6.2f} dB   (min {min(ours_scores):.2f} / "
                f"{min(scale_scores):.2f} dB)"
            )
            scale_figures = {
                "scale_writer_fps": race["scale_fps"],
                "scale_writer_cpu_ms_per_frame": race["scale_cpu"],
                "encoder_cpu_ms_per_frame": race["cpu"],
                "scale_writer_mp4_bytes": scale_size,
                "scale_writer_psnr_mean_db": statistics.mean(scale_scores),
                "ours_cam0_mp4_bytes": int(ours.size),
            }

        print("\n== memory: peak RSS of convert --camera-video (subprocess) ==")
        short = tmp / "short"
        make_capture(short, 10, args.cameras)
        rss_short = peak_rss_mb(short, tmp / "short.sfs")
        rss_long = peak_rss_mb(tmp / "cap", tmp / "long.sfs")
        print(
            f"10 frames/camera: {rss_short:7.1f} MB   {args.frames} frames/camera: "
            f"{rss_long:7.1f} MB   (growth {rss_long - rss_short:+.1f} MB for "
            f"{(args.frames - 10) * args.cameras} more images, "
            f"{(args.frames - 10) * args.cameras * jpeg_bytes / n_images / 1e6:.0f} MB of JPEG)"
        )
        figures = {
            "sfs_images_bytes": size_img,
            "sfs_video_bytes": size_vid,
            "size_ratio": size_img / size_vid,
            "psnr_mean_db": statistics.mean(all_psnr),
            "psnr_min_db": min(all_psnr),
            "opencv_psnr_mean_db": statistics.mean(cv_scores),
            "encoder_fps": fps,
            "encoder_fps_presets": extra,
            "convert_images_s": t_img,
            "convert_video_s": t_vid,
            "peak_rss_mb_10_frames": rss_short,
            f"peak_rss_mb_{args.frames}_frames": rss_long,
            **scale_figures,
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
