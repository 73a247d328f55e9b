"""Benchmark: S3Store.upload_many against plain boto3 ``upload_file`` one by one, same run.

Starts its own SeaweedFS (data directory on /dev/shm when available) through the tests' context
manager. Uploads a reference scene's files (simulated: one ~220 MB .sfs, 300 JPEG-sized 400 KB
files, 50 frame-JSON-sized 2.2 MB files; or ``--dir DIR``) with fresh keys each repetition,
alternating which side goes first, and prints per-repetition and median ratios ours/boto3
(target <= 1.0), MB/s, and the CPU seconds of this process and of the ``weed`` server (they share
the machine). Then re-uploads the unchanged set with ours and counts requests and body bytes: one
listing, one HEAD per object and zero bytes sent are expected.
Run: ``.venv/bin/python scripts/bench_upload.py [--reps 5] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _servers.seaweed import seaweed_server

from sfs_kit.storage import S3Store

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest
    from types_boto3_s3 import S3Client

MB = 1_000_000
DATA_DIR = Path("/tmp/sfs-kit-bench-upload")


def make_scene(root: Path) -> None:
    """The simulated reference scene (kept between runs when the sizes already match)."""
    plan = [("scene.sfs", 220 * MB, b"{")]
    plan += [(f"camera/{i:04d}.jpg", 400_000, b"\xff\xd8\xff") for i in range(300)]
    plan += [(f"frames/{i:04d}.json", 2_200_000, b"{") for i in range(50)]
    rng = np.random.default_rng(0)
    for name, size, magic in plan:
        path = root / name
        if path.is_file() and path.stat().st_size == size:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        data = magic + rng.integers(0, 256, size - len(magic), dtype=np.uint8).tobytes()
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def scene_items(root: Path) -> list[tuple[Path, str]]:
    return [(p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()]


def counted(client: S3Client, fn: Callable[[], object]) -> tuple[float, dict[str, int], int]:
    """Seconds taken by ``fn``, the requests ``client`` sent meanwhile (by operation) and the
    request body bytes they declared (Content-Length)."""
    counts: dict[str, int] = {}
    body_bytes = [0]

    def on_send(event_name: str, request: AWSPreparedRequest, **kwargs: object) -> None:
        name = event_name.rsplit(".", 1)[-1]
        counts[name] = counts.get(name, 0) + 1
        body_bytes[0] += int(request.headers.get("Content-Length", 0) or 0)

    client.meta.events.register("before-send.s3", on_send)
    try:
        return timed(fn), counts, body_bytes[0]
    finally:
        client.meta.events.unregister("before-send.s3", on_send)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class CpuMeter:
    """CPU seconds (user + system) of this process and of the server's ``weed`` processes."""

    def __init__(self, work_dir: Path) -> None:
        self.me = psutil.Process()
        self.server = [
            proc for proc in psutil.process_iter(["name", "cmdline"])
            if proc.info["name"] == "weed" and str(work_dir) in " ".join(proc.info["cmdline"] or ())
        ]

    def read(self) -> tuple[float, float]:
        mine = self.me.cpu_times()
        server = 0.0
        for proc in self.server:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                server += times.user + times.system
        return mine.user + mine.system, server


@dataclass
class Side:
    """One contender's per-repetition wall and CPU seconds."""

    wall_s: list[float] = field(default_factory=list)
    client_cpu_s: list[float] = field(default_factory=list)
    server_cpu_s: list[float] = field(default_factory=list)

    def run(self, meter: CpuMeter, fn: Callable[[], object]) -> None:
        client0, server0 = meter.read()
        self.wall_s.append(timed(fn))
        client1, server1 = meter.read()
        self.client_cpu_s.append(client1 - client0)
        self.server_cpu_s.append(server1 - server0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, help="upload this directory instead of the simulation")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8, help="upload_many max_workers")
    args = parser.parse_args()

    root: Path = args.dir or DATA_DIR
    if args.dir is None:
        make_scene(root)
    items = scene_items(root)
    total_bytes = sum(p.stat().st_size for p, _ in items)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

    load_1, load_5, _ = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load_1:.2f} (1 min) {load_5:.2f} (5 min) "
          f"at start, Python {platform.python_version()}, numpy {np.__version__}, boto3 "
          f"{boto3.__version__}; server data dir on {shm or 'disk'}")
    print(f"data: {len(items)} files, {total_bytes / MB:.1f} MB from {root}")

    with seaweed_server(shm) as server:
        admin = server.client()
        admin.create_bucket(Bucket="bench")
        ours_client = server.client()
        plain_client = server.client()
        store = S3Store("bench", client=ours_client)
        meter = CpuMeter(server.work_dir)
        # warm-up: the first write into a new bucket allocates a volume and is slow
        plain_client.upload_file(str(items[0][0]), "bench", "warmup/first")
        store.upload_many(items[:5], max_workers=args.workers)

        ours, plain = Side(), Side()
        ratios: list[float] = []
        for rep in range(args.reps):
            ours_items = [(p, f"ours/{rep}/{k}") for p, k in items]

            def run_ours(batch: list[tuple[Path, str]] = ours_items) -> None:
                store.upload_many(batch, max_workers=args.workers)

            def run_plain(rep: int = rep) -> None:
                for path, key in items:
                    plain_client.upload_file(str(path), "bench", f"boto3/{rep}/{key}")

            if rep % 2 == 0:
                ours.run(meter, run_ours)
                plain.run(meter, run_plain)
            else:
                plain.run(meter, run_plain)
                ours.run(meter, run_ours)
            ratios.append(ours.wall_s[-1] / plain.wall_s[-1])
            print(f"  rep {rep} ({'ours' if rep % 2 == 0 else 'boto3'} first): "
                  f"ours {ours.wall_s[-1]:.2f} s, boto3 {plain.wall_s[-1]:.2f} s, "
                  f"ratio {ratios[-1]:.2f}; CPU s client/server: ours "
                  f"{ours.client_cpu_s[-1]:.1f}/{ours.server_cpu_s[-1]:.1f}, boto3 "
                  f"{plain.client_cpu_s[-1]:.1f}/{plain.server_cpu_s[-1]:.1f}")

        last = [(p, f"ours/{args.reps - 1}/{k}") for p, k in items]
        re_s: list[float] = []
        counts: dict[str, int] = {}
        sent = 0
        for _ in range(args.reps):
            seconds, counts, sent = counted(
                ours_client, lambda: store.upload_many(last, max_workers=args.workers)
            )
            re_s.append(seconds)

    med = statistics.median
    print(f"upload, median of {args.reps}:")
    for label, side in ((f"ours  upload_many ({args.workers} workers)", ours),
                        ("boto3 upload_file one by one      ", plain)):
        print(f"  {label}: {med(side.wall_s):.2f} s ({total_bytes / MB / med(side.wall_s):.0f} "
              f"MB/s), CPU s: client {med(side.client_cpu_s):.1f}, server "
              f"{med(side.server_cpu_s):.1f}")
    print(f"  ratio ours/boto3: median of per-rep ratios {med(ratios):.2f}, ratio of medians "
          f"{med(ours.wall_s) / med(plain.wall_s):.2f} (target <= 1.0)")
    puts = sum(counts.get(op, 0) for op in ("PutObject", "UploadPart", "CreateMultipartUpload"))
    print(f"re-upload of the unchanged set, median of {len(re_s)}: {med(re_s):.2f} s "
          f"({len(items) / med(re_s):.0f} files/s); requests of the last run: {counts} "
          f"(HEADs {counts.get('HeadObject', 0)} for {len(items)} objects, PUT/part requests "
          f"{puts}, body bytes sent {sent})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
