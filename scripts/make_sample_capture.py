"""Regenerate ``fixtures/sample_capture/``: 5 frames x 3,000 points, two 320x240 JPEG cameras.

Deterministic (seeded): running it again gives the same files. Usage::

    .venv/bin/python scripts/make_sample_capture.py [--out fixtures/sample_capture]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synthetic_capture import CameraSpec, write_capture

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Write the fixture folder from scratch."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "fixtures" / "sample_capture")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    cameras = [
        CameraSpec("cam_front", 0.0, 320, 240),
        CameraSpec("cam_left", math.pi / 2, 320, 240),
    ]
    write_capture(
        out, frames=5, points=3000, cameras=cameras, quality=60, noise=False, seed=20240601
    )
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total / 1e3:.0f} KB)")


if __name__ == "__main__":
    main()
