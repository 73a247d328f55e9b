"""Benchmark: S3Store.upload_many against plain boto3 ``upload_file`` one by one, same run.

Starts its own SeaweedFS (data directory on /dev/shm when available) through the tests' context
manager. Uploads a reference scene's files (simulated: one ~220 MB .sfs, 300 JPEG-sized 400 KB
files, 50 frame-JSON-sized 2.2 MB files; or ``--dir DIR``) with fresh keys each repetition,
alternating which side goes first, and prints medians, MB/s and the ratio ours/boto3 (target
<= 1.0). Then re-uploads the unchanged set with ours and counts requests: one HEAD per object
and no PUT is expected. Run: ``.venv/bin/python scripts/bench_upload.py [--reps 5] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _servers.seaweed import seaweed_server

from sfs_kit.storage import S3Store

if TYPE_CHECKING:
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


def counted(client: S3Client, fn: Callable[[], object]) -> tuple[float, dict[str, int]]:
    """Seconds taken by ``fn`` and the requests ``client`` sent meanwhile, by operation."""
    counts: dict[str, int] = {}

    def on_send(event_name: str, **kwargs: object) -> None:
        name = event_name.rsplit(".", 1)[-1]
        counts[name] = counts.get(name, 0) + 1

    client.meta.events.register("before-send.s3", on_send)
    try:
        return timed(fn), counts
    finally:
        client.meta.events.unregister("before-send.s3", on_send)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


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

    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}, boto3 {boto3.__version__}; server data dir on {shm or 'disk'}")
    print(f"data: {len(items)} files, {total_bytes / MB:.1f} MB from {root}")

    with seaweed_server(shm) as server:
        admin = server.client()
        admin.create_bucket(Bucket="bench")
        ours_client = server.client()
        plain_client = server.client()
        store = S3Store("bench", client=ours_client)
        # warm-up: the first write into a new bucket allocates a volume and is slow
        plain_client.upload_file(str(items[0][0]), "bench", "warmup/first")
        store.upload_many(items[:5], max_workers=args.workers)

        ours_s: list[float] = []
        plain_s: list[float] = []
        for rep in range(args.reps):
            ours_items = [(p, f"ours/{rep}/{k}") for p, k in items]

            def ours(batch: list[tuple[Path, str]] = ours_items) -> None:
                store.upload_many(batch, max_workers=args.workers)

            def plain(rep: int = rep) -> None:
                for path, key in items:
                    plain_client.upload_file(str(path), "bench", f"boto3/{rep}/{key}")

            if rep % 2 == 0:
                ours_s.append(timed(ours))
                plain_s.append(timed(plain))
            else:
                plain_s.append(timed(plain))
                ours_s.append(timed(ours))
            print(f"  rep {rep}: ours {ours_s[-1]:.2f} s, boto3 {plain_s[-1]:.2f} s")

        last = [(p, f"ours/{args.reps - 1}/{k}") for p, k in items]
        re_s: list[float] = []
        counts: dict[str, int] = {}
        for _ in range(args.reps):
            seconds, counts = counted(
                ours_client, lambda: store.upload_many(last, max_workers=args.workers)
            )
            re_s.append(seconds)

    med_ours, med_plain = statistics.median(ours_s), statistics.median(plain_s)
    print(f"upload, median of {args.reps}:")
    print(f"  ours  upload_many ({args.workers} workers): {med_ours:.2f} s "
          f"({total_bytes / MB / med_ours:.0f} MB/s)")
    print(f"  boto3 upload_file one by one:         {med_plain:.2f} s "
          f"({total_bytes / MB / med_plain:.0f} MB/s)")
    print(f"  ratio ours/boto3: {med_ours / med_plain:.2f} (target <= 1.0)")
    puts = sum(counts.get(op, 0) for op in ("PutObject", "UploadPart", "CreateMultipartUpload"))
    print(f"re-upload of the unchanged set, median of {len(re_s)}: "
          f"{statistics.median(re_s):.2f} s; "
          f"requests of the last run: {counts} (HEADs {counts.get('HeadObject', 0)} for "
          f"{len(items)} objects, PUT/part requests {puts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
