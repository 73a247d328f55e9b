"""Benchmark: ``sfs_kit.run`` end to end against the sum of its parts, memory, and a re-run.

Uses a local SeaweedFS (data on /dev/shm when available) and the Scale endpoint stand-in from
``tests/_servers``. The reference capture (50 frames x 120,000 points, six 1920x1080 cameras,
written once to /tmp by ``scripts/_synthetic_capture.py``) is run as ``.sfs``:

1. overhead: ``run()`` vs ``convert_capture`` + ``S3Store.upload_many`` + presign measured alone
   in the same process, alternating order; target overhead <= 10 %.
2. re-run of the finished capture: no bytes uploaded, no task created, time < 5 % of the first run.
3. memory: ``run()`` on 50 and 200 frames, each in a fresh subprocess (local store, dry run), peak
   ``ru_maxrss`` and peak ``RssAnon`` (polled from /proc); target 200 <= 1.3 x 50.

Run: ``.venv/bin/python scripts/bench_pipeline.py [--reps 3] [--frames 50] [--skip-memory]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import seaweed_server
from _synthetic_capture import CameraSpec, write_capture

from sfs_kit.capture.convert import convert_capture
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.run import run
from sfs_kit.storage import S3Store

DATA = Path("/tmp/sfs-kit-bench-pipeline")
POINTS = 120_000
CAMERAS = ("front", "front_left", "front_right", "back", "back_left", "back_right")


def reference_capture(frames: int) -> Path:
    """The reference capture with ``frames`` frames (generated once, then reused)."""
    root = DATA / f"capture-{frames}"
    done = root / ".complete"
    if done.is_file():
        return root
    if root.exists():
        import shutil

        shutil.rmtree(root)
    cameras = [CameraSpec(name, 2 * math.pi * i / len(CAMERAS), 1920, 1080)
               for i, name in enumerate(CAMERAS)]
    print(f"generating {root} ({frames} frames) ...", flush=True)
    write_capture(root, frames=frames, points=POINTS, cameras=cameras, quality=90, noise=True,
                  seed=7)
    done.write_text("ok\n")
    return root


def _facts() -> str:
    return (f"cpus={os.cpu_count()} python={platform.python_version()} numpy={np.__version__} "
            f"boto3={boto3.__version__}")


def parts_alone(capture: Path, work: Path, store: S3Store, tag: str) -> tuple[float, float]:
    """(convert seconds, upload + presign seconds) for the .sfs, measured alone."""
    target = work / f"parts-{tag}.sfs"
    start = time.perf_counter()
    convert_capture(capture, target, format="sfs")
    convert_s = time.perf_counter() - start
    start = time.perf_counter()
    stored = store.upload_many([(target, store.key_for(f"parts-{tag}", "scene.sfs"))])
    store.url_for(stored[0].key)
    upload_s = time.perf_counter() - start
    target.unlink()
    return convert_s, upload_s


MEMORY_CHILD = """
import json, resource, sys
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.run import run
capture, out, fmt = sys.argv[1:4]
result = run(capture, RunConfig(format=fmt, out_dir=out, verify=False))
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "objects": len(result.objects)}))
"""


def _rss_anon_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def memory_of_run(capture: Path, fmt: str) -> tuple[int, int]:
    """(peak ru_maxrss KB, peak RssAnon KB) of ``run()`` in a fresh subprocess."""
    with tempfile.TemporaryDirectory(dir=DATA) as out:
        proc = subprocess.Popen([sys.executable, "-c", MEMORY_CHILD, str(capture), out, fmt],
                                stdout=subprocess.PIPE, text=True)
        peak_anon = 0
        while proc.poll() is None:
            peak_anon = max(peak_anon, _rss_anon_kb(proc.pid))
            time.sleep(0.02)
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"memory child failed with {proc.returncode}")
        report = json.loads(stdout.strip().splitlines()[-1])
    return int(report["maxrss_kb"]), peak_anon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    capture = reference_capture(args.frames)
    size = sum(p.stat().st_size for p in capture.rglob("*") if p.is_file())
    print(_facts())
    print(f"capture: {capture} ({size / 1e6:.0f} MB)")
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with seaweed_server(base) as server, ScaleStandin() as standin, \
            tempfile.TemporaryDirectory(dir=DATA) as tmp:
        os.environ.update({"AWS_ACCESS_KEY_ID": server.access_key,
                           "AWS_SECRET_ACCESS_KEY": server.secret_key,
                           "AWS_DEFAULT_REGION": server.region})
        work = Path(tmp)
        server.client().create_bucket(Bucket="bench")
        store = S3Store("bench", client=server.client())
        pipeline_s: list[float] = []
        parts_s: list[float] = []
        convert_list: list[float] = []
        upload_list: list[float] = []
        rerun_s: list[float] = []
        for rep in range(args.reps):
            config = RunConfig(format="sfs", out_dir=work / f"run-{rep}", bucket="bench",
                               prefix=f"rep{rep}", endpoint_url=server.endpoint_url,
                               region=server.region, project=f"bench-{rep}", api_key=API_KEY,
                               api_base_url=standin.base_url)
            order = ("parts", "pipeline") if rep % 2 == 0 else ("pipeline", "parts")
            for which in order:
                if which == "parts":
                    convert_s, upload_s = parts_alone(capture, work, store, str(rep))
                    convert_list.append(convert_s)
                    upload_list.append(upload_s)
                    parts_s.append(convert_s + upload_s)
                else:
                    start = time.perf_counter()
                    result = run(capture, config)
                    pipeline_s.append(time.perf_counter() - start)
                    assert result.task_id is not None
            posts_before = len(standin.posts())
            start = time.perf_counter()
            again = run(capture, config)
            rerun_s.append(time.perf_counter() - start)
            if again.bytes_uploaded != 0 or len(standin.posts()) != posts_before:
                raise RuntimeError("the re-run uploaded bytes or created a task")
            print(f"rep {rep}: pipeline {pipeline_s[-1]:.2f}s, convert {convert_s:.2f}s + "
                  f"upload {upload_s:.2f}s = {parts_s[-1]:.2f}s, re-run {rerun_s[-1]:.3f}s "
                  f"(bytes uploaded {again.bytes_uploaded}, POSTs {len(standin.posts())})",
                  flush=True)
        med_pipe = statistics.median(pipeline_s)
        med_parts = statistics.median(parts_s)
        med_rerun = statistics.median(rerun_s)
        print(f"median pipeline {med_pipe:.2f}s; parts {med_parts:.2f}s "
              f"(convert {statistics.median(convert_list):.2f}s, upload "
              f"{statistics.median(upload_list):.2f}s); overhead "
              f"{(med_pipe / med_parts - 1) * 100:+.1f}% (target <= +10%)")
        print(f"median re-run {med_rerun:.3f}s = {med_rerun / med_pipe * 100:.2f}% of the first "
              f"run (target < 5%); tasks created {len(standin.tasks)} for {args.reps} reps")
    if args.skip_memory:
        return
    big = reference_capture(args.frames * 4)
    for fmt in ("sfs", "split_base64"):
        small_rss, small_anon = memory_of_run(capture, fmt)
        big_rss, big_anon = memory_of_run(big, fmt)
        print(f"memory {fmt}: {args.frames} frames maxrss {small_rss / 1024:.0f} MB, RssAnon "
              f"{small_anon / 1024:.0f} MB; {args.frames * 4} frames maxrss "
              f"{big_rss / 1024:.0f} MB, RssAnon {big_anon / 1024:.0f} MB; ratio maxrss "
              f"{big_rss / small_rss:.2f}, RssAnon {big_anon / max(small_anon, 1):.2f} "
              f"(target <= 1.3)")


if __name__ == "__main__":
    main()
