"""Camera sequences with real content and motion for the video tests (fixtures/opencv photos)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from .conftest import START_US, build_folder

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = [ROOT / "fixtures" / "opencv" / n for n in ("leuvenA.jpg", "building.jpg", "aloeL.jpg")]


def moving_frames(
    n: int, width: int, height: int, *, photo: int = 0
) -> list[npt.NDArray[np.uint8]]:
    """``n`` BGR frames cut from a real photo, zooming in and panning a little per frame."""
    src = np.asarray(cv2.imread(str(PHOTOS[photo % len(PHOTOS)]), cv2.IMREAD_COLOR), np.uint8)
    h, w = src.shape[:2]
    out = []
    for k in range(n):
        zoom = 1.0 + 0.02 * k
        cw, ch = w / zoom * 0.8, h / zoom * 0.8
        x0, y0 = (w - cw) / 2 + 2 * k, (h - ch) / 2 + k
        scale_x, scale_y = width / cw, height / ch
        m = np.array([[scale_x, 0, -x0 * scale_x], [0, scale_y, -y0 * scale_y]])
        frame = cv2.warpAffine(src, m, (width, height), flags=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(frame, dtype=np.uint8))
    return out


def jpeg_bytes(frame: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def decode_jpeg_rgb(data: bytes) -> npt.NDArray[np.uint8]:
    bgr = np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), np.uint8)
    return np.ascontiguousarray(bgr[:, :, ::-1])


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def camera_yaml(cam_id: str, content: str, intr: str) -> str:
    return (
        f"  - id: {cam_id}\n"
        f"    {content}\n"
        f"    intrinsics: {{file: {intr}}}\n"
        "    extrinsics: {file: cam_extr.json, direction: sensor_to_ego}\n"
    )


def build_video_capture(
    root: Path, *, frames: int = 8, width: int = 320, height: int = 240, cameras: int = 2
) -> tuple[Path, dict[str, list[bytes]]]:
    """A capture with ``frames`` lidar frames and ``cameras`` cameras of real moving JPEGs.

    Camera images are taken 10 ms after each lidar frame. Returns the folder and each camera's
    JPEG bytes in time order.
    """
    build_folder(root, frames=frames, camera=False)
    (root / "cam_extr.json").write_text(
        json.dumps({"matrix": [[0, 0, 1, 1], [-1, 0, 0, 0], [0, -1, 0, 1.5], [0, 0, 0, 1]]})
    )
    intr = {"fx": 300.0, "fy": 300.0, "cx": width / 2, "cy": height / 2}
    (root / "intr.json").write_text(json.dumps({**intr, "width": width, "height": height}))
    written: dict[str, list[bytes]] = {}
    yaml = "cameras:\n"
    for c in range(cameras):
        cam = f"cam{c}"
        (root / cam).mkdir()
        written[cam] = []
        for k, frame in enumerate(moving_frames(frames, width, height, photo=c)):
            data = jpeg_bytes(frame)
            (root / cam / f"{START_US + k * 100_000 + 10_000}.jpg").write_bytes(data)
            written[cam].append(data)
        content = f"files: {cam}/*.jpg\n    timestamps: {{from_filename: true, unit: us}}"
        yaml += camera_yaml(cam, content, "intr.json")
    with (root / "capture.yaml").open("a") as f:
        f.write(yaml)
    return root, written


def without_first_packets(mp4: bytes, n: int, tmp: Path) -> bytes:
    """``mp4`` remuxed without its first ``n`` packets: a video cut between keyframes."""
    import av

    src, dest = tmp / "whole.mp4", tmp / "cut.mp4"
    src.write_bytes(mp4)
    with av.open(str(src)) as inp, av.open(str(dest), "w", format="mp4") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        kept = [p for p in inp.demux(ist) if p.size][n:]
        offset = kept[0].dts
        assert offset is not None
        for packet in kept:
            assert packet.pts is not None
            assert packet.dts is not None
            packet.stream = ost
            packet.pts, packet.dts = packet.pts - offset, packet.dts - offset
            out.mux(packet)
    return dest.read_bytes()
