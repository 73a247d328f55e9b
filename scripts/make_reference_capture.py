"""Write the benchmark reference capture (sfs_kit folder layout) under /tmp.

50 frames x 120,000 points as binary PCD (x y z intensity t: intensity 0..255, per-point time in
seconds relative to the frame), 6 cameras (1920x1080) with one ~400 KB JPEG per frame (the same
noise-textured JPEG per camera as ``scripts/reference_scene.py``), poses.csv of a smooth drive,
calibration JSON and capture.yaml. ``--frames 200`` makes the capture for the memory test.

    .venv/bin/python scripts/make_reference_capture.py [--frames 50] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synthetic_capture import CameraSpec, write_capture
from reference_scene import IMAGE_HEIGHT, IMAGE_WIDTH, reference_jpeg

N_POINTS = 120_000
CAMERAS = [
    CameraSpec(name, i * math.pi / 3, IMAGE_WIDTH, IMAGE_HEIGHT)
    for i, name in enumerate(
        ("front", "front_left", "back_left", "back", "back_right", "front_right")
    )
]


def make_reference_capture(out: Path, frames: int) -> Path:
    """Write (or reuse, if complete) the reference capture with ``frames`` frames at ``out``."""
    if (out / "capture.yaml").is_file() and len(list((out / "lidar").glob("*.pcd"))) == frames:
        return out
    if out.exists():
        shutil.rmtree(out)
    jpegs = {c: reference_jpeg(c) for c in range(len(CAMERAS))}
    write_capture(
        out,
        frames=frames,
        points=N_POINTS,
        cameras=CAMERAS,
        quality=0,
        noise=False,
        seed=50,
        image_for=lambda c, _spec, _k: jpegs[c],
    )
    return out


def main() -> None:
    """Parse the flags and write the capture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(f"/tmp/sfs_reference_capture_{args.frames}")
    start = time.perf_counter()
    make_reference_capture(out, args.frames)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"wrote {out}: {args.frames} frames, {total / 1e6:.0f} MB in "
        f"{time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
