"""Benchmark the geometric pre-flight and the preview on the reference scene.

Run by hand: ``.venv/bin/python scripts/bench_preview.py [--runs 5] [--big-frames 200]``. Files go
to a temp dir under /tmp and are removed. Targets (issue 14), each measured against its limit in
the same run:

- ``validate --geometry`` on the 50-frame reference scene <= 1 s and <= 10x plain validation
  (both in-process, warm page cache: read the tree, validate; the geometry run adds the model and
  the G-* rules);
- ``preview`` of one frame with 6 cameras <= 3 s (in-process render, and the whole CLI in a fresh
  interpreter, imports included);
- preview peak RSS independent of the number of frames in the file: the CLI's peak RSS (VmHWM) in
  a subprocess on the 50-frame file and on a ``--big-frames`` file (same frames, more of them).

The reference scene's camera poses are body frames (x forward, z up: they look at the sky, and
``validate --geometry`` says so with G-C1/G-C3), so almost no point would project into them. The
benchmark turns them into OpenCV optical frames first (+z along the body's x), so each of the six
1920x1080 cameras gets its share of the 120,000 points, as in a real drive.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_scene import build_reference_scene

from sfs_kit.codecs.scene_io import read_sfs
from sfs_kit.codecs.sfs import read_sfs_dict, write_sfs_dict
from sfs_kit.models.geometry import matrix_to_quat, quat_to_matrix
from sfs_kit.models.scene import Scene
from sfs_kit.models.validate import validate_tree
from sfs_kit.models.validate_geometry import validate_geometry
from sfs_kit.preview import render_preview

ROOT = Path(__file__).resolve().parents[1]
# columns: the optical x, y, z axes in the body frame (x forward, y left, z up)
_BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _optical_cameras(tree: dict[str, Any]) -> dict[str, Any]:
    """The reference scene with every camera pose turned from a body frame to its optical
    frame (same position, same heading), so the cameras see the lidar points."""
    for sensor in tree["sensors"]:
        if sensor["type"] != "camera":
            continue
        values = np.asarray(sensor["poses"]["values"], dtype=np.float64)
        rot = quat_to_matrix(values[:, 3:7]) @ _BODY_FROM_OPTICAL
        values[:, 3:7] = matrix_to_quat(rot)
        sensor["poses"]["values"] = values.tolist()
    return tree


def _scene(n_frames: int) -> dict[str, Any]:
    return _optical_cameras(build_reference_scene(n_frames=n_frames))


def _median(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: page cache, imports, first-call costs
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _plain(path: Path) -> None:
    validate_tree(read_sfs_dict(path))


def _geometry(path: Path) -> None:
    tree = read_sfs_dict(path)
    issues = validate_tree(tree)
    validate_geometry(Scene.model_validate(tree))
    del issues


def _render(path: Path, out: Path) -> None:
    render_preview(read_sfs(path), out)


# VmHWM (peak RSS of this process image), not ru_maxrss: Linux carries ru_maxrss over fork and
# exec, so a child would report the benchmark parent's peak.
_RSS_CODE = """
import sys
from sfs_kit.cli import main
code = main(["preview", sys.argv[1], "-o", sys.argv[2], "--overwrite"])
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print("RSS_KB", hwm.split()[1], code, file=sys.stderr)
"""


def _cli(path: Path, out: Path) -> tuple[float, int]:
    """Wall time and peak RSS (kB) of ``sfs-kit preview`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RSS_CODE, str(path), str(out)], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("RSS_KB")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"preview failed: {proc.stderr[-2000:]}")
    return wall, int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-frames", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sfs-kit-bench-preview-"))
    try:
        ref = tmp / "reference_50.sfs"
        write_sfs_dict(_scene(50), ref)
        big = tmp / f"reference_{args.big_frames}.sfs"
        write_sfs_dict(_scene(args.big_frames), big)
        ref_scene = read_sfs(ref)
        g_codes = sorted({i.code for i in validate_geometry(ref_scene)})
        layout, _ = render_preview(ref_scene, None)
        projected = {c.sensor_id: len(c.uv) for c in layout.cameras}
        del ref_scene
        plain_s = _median(lambda: _plain(ref), args.runs)
        geometry_s = _median(lambda: _geometry(ref), args.runs)
        render_s = _median(lambda: _render(ref, tmp / "inproc.png"), max(3, args.runs // 2))
        cli = [_cli(ref, tmp / "cli50.png") for _ in range(3)]
        cli_big = [_cli(big, tmp / "cli_big.png") for _ in range(3)]
        cli_s = statistics.median(w for w, _ in cli)
        rss50 = statistics.median(r for _, r in cli)
        rss_big = statistics.median(r for _, r in cli_big)
        report = {
            "machine": f"{platform.machine()} {os.cpu_count()} cpu, python "
                       f"{platform.python_version()}",
            "file_mb": {"50": round(ref.stat().st_size / 1e6, 1),
                        str(args.big_frames): round(big.stat().st_size / 1e6, 1)},
            "validate_plain_s": round(plain_s, 4),
            "validate_geometry_s": round(geometry_s, 4),
            "geometry_ratio": round(geometry_s / plain_s, 2),
            "geometry_targets": "<= 1 s and <= 10x plain",
            "preview_render_s": round(render_s, 3),
            "preview_cli_s": round(cli_s, 3),
            "preview_target": "<= 3 s (one frame, 6 cameras)",
            "preview_rss_mb": {"50": round(rss50 / 1024, 1),
                               str(args.big_frames): round(rss_big / 1024, 1)},
            "rss_ratio": round(rss_big / rss50, 3),
            "geometry_codes_on_reference": g_codes,
            "points_projected_per_camera": projected,
        }
        print(json.dumps(report, indent=2))
        ok = (geometry_s <= 1.0 and geometry_s <= 10 * plain_s and cli_s <= 3.0
              and rss_big <= 1.1 * rss50)
        print(f"validate --geometry {geometry_s:.3f} s vs plain {plain_s:.3f} s: "
              f"{geometry_s / plain_s:.1f}x; preview {render_s:.2f} s in-process, "
              f"{cli_s:.2f} s CLI; "
              f"peak RSS {rss50 / 1024:.0f} MB (50 frames) vs {rss_big / 1024:.0f} MB "
              f"({args.big_frames} frames): {rss_big / rss50:.2f}x -> "
              f"{'all targets met' if ok else 'TARGET MISSED'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
