"""Benchmark: ``sfs-kit batch`` at scale, against ``sfs-kit run`` in a loop, on Ray, and re-run.

Uses a local SeaweedFS behind the tests' fault proxy and the Scale endpoint stand-in (both from
``tests/_servers``); captures are small generated msgpack streams (one lidar, two sweeps).

1. scale: ``--captures`` captures (default 200; the issue's figure is 1,000, ``--captures 1000``)
   through ``sfs-kit batch --workers 2`` with faults: 2 % broken inputs, S3 500s (some beyond
   botocore's retries), a 429 storm and 500s after task creation. Prints wall time, captures per
   minute, failures by class, and checks exactly one task per good capture. The driver's peak RSS
   is polled (driver only, not workers) for this run and for one of a quarter the size.
2. re-run of the finished batch: wall time (target < 5 % of the first), bytes and tasks (0).
3. overhead: ``--loop`` fresh captures by ``sfs-kit batch --workers 2`` vs ``sfs-kit run`` in a
   shell-style loop, alternating, ``--reps`` times; medians and the ratio (target >= 1.6x).
4. Ray: the same number of captures through ``--engine ray`` on a local Ray started once, vs the
   local engine in the same process; per-capture wall time of each and Ray's overhead.

Run: ``.venv/bin/python scripts/bench_batch.py [--captures 200] [--loop 20] [--reps 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _servers.s3_proxy import S3Fault, S3FaultProxy
from _servers.scale_standin import API_KEY, Fault, ScaleStandin
from _servers.seaweed import SeaweedServer, seaweed_server

from sfs_kit.batch import BatchOptions, Ledger, read_captures, run_batch
from sfs_kit.capture.msgpack_stream import MsgpackCaptureWriter
from sfs_kit.pipeline import RunConfig

ROOT = Path(__file__).resolve().parents[1]
POINTS = 400


def make_captures(folder: Path, count: int, seed: int, *, broken_every: int = 0) -> list[Path]:
    """``count`` small captures (every ``broken_every``-th one garbage)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"c{seed}-{i:05d}.msgpack"
        if broken_every and i % broken_every == broken_every - 1:
            path.write_bytes(b"\xc1 broken capture")
        else:
            rng = np.random.default_rng(seed * 100_000 + i)
            with MsgpackCaptureWriter(path) as writer:
                writer.write_calibration("lidar", "lidar", np.eye(4))
                writer.write_pose(1_000_000, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
                writer.write_pose(1_200_000, [1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
                for k in range(2):
                    writer.write_points("lidar", 1_000_000 + 100_000 * k,
                                        rng.normal(size=(POINTS, 3)).astype("<f4"))
        paths.append(path)
    return paths


class Env:
    """The servers and the environment a batch subprocess needs."""

    def __init__(self, server: SeaweedServer, proxy: S3FaultProxy, standin: ScaleStandin,
                 work: Path) -> None:
        self.server, self.proxy, self.standin, self.work = server, proxy, standin, work
        self.bucket = "bench-batch"
        server.client().create_bucket(Bucket=self.bucket)
        self.environ = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key,
                        "AWS_SECRET_ACCESS_KEY": server.secret_key,
                        "AWS_DEFAULT_REGION": server.region, "SCALE_API_KEY": API_KEY,
                        "SCALE_API_BASE_URL": standin.base_url, "PYTHONPATH": str(ROOT)}

    def common(self, prefix: str) -> list[str]:
        return ["--bucket", self.bucket, "--prefix", prefix, "--endpoint-url",
                self.proxy.endpoint_url, "--project", "bench"]

    def config(self, prefix: str) -> RunConfig:
        return RunConfig(bucket=self.bucket, prefix=prefix, endpoint_url=self.proxy.endpoint_url,
                         project="bench", api_key=API_KEY, api_base_url=self.standin.base_url)

    def sfs_kit(self, *args: str) -> tuple[float, float, int]:
        """Run ``sfs-kit ARGS`` as a subprocess: wall seconds, the process's peak RSS MiB, rc."""
        import psutil

        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "sfs_kit", *args], env=self.environ,
                                cwd=self.work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        peak = 0.0
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, watched.memory_info().rss / 2**20)
            time.sleep(0.05)
        return time.perf_counter() - start, peak, proc.returncode


def _listing(paths: list[Path], where: Path) -> Path:
    where.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    return where


def scale(env: Env, count: int) -> dict[str, Any]:
    """Phase 1 and 2: a faulted batch of ``count`` captures, then its re-run."""
    paths = make_captures(env.work / "scale", count, seed=1, broken_every=50)
    broken = sum(1 for p in paths if p.stat().st_size < 100)
    listing = _listing(paths, env.work / "scale.txt")
    ledger = env.work / "ledger-scale"
    for i in range(0, count, 37):  # beyond botocore's 5 retries: our retry
        env.proxy.inject(S3Fault("PUT", f"/c1-{i:05d}-", times=6))
    for i in range(5, count, 23):  # absorbed by botocore
        env.proxy.inject(S3Fault("PUT", f"/c1-{i:05d}-", times=2))
    env.standin.inject(*[Fault("rate_limit", path="/v1/task/multistage", retry_after="1")] * 8)
    env.standin.inject(*[Fault("error_after_create", path="/v1/task/multistage")] * 3)
    tasks_before = len(env.standin.tasks)
    first_s, first_rss, rc = env.sfs_kit("batch", str(listing), "--out", str(ledger),
                                         "--workers", "2", *env.common("scale"))
    states = Ledger.open(ledger).states().values()
    done = [s for s in states if s.state == "done"]
    failed = Counter(s.error_class for s in states if s.state == "failed")
    retried = Counter(h.split(": ")[1] for s in states for h in s.history)
    tasks = env.standin.tasks[tasks_before:]
    one_each = (len(tasks) == len(done) == count - broken
                and len({t["unique_id"] for t in tasks}) == len(tasks))
    puts_before = len(env.proxy.requests("PUT"))
    tasks_mid = len(env.standin.tasks)
    rerun_s, _, rc2 = env.sfs_kit("batch", str(listing), "--out", str(ledger), "--workers", "2",
                                  *env.common("scale"))
    rerun_puts = len(env.proxy.requests("PUT")) - puts_before
    rerun_tasks = len(env.standin.tasks) - tasks_mid
    small = make_captures(env.work / "scale-small", max(1, count // 4), seed=2)
    small_s, small_rss, _ = env.sfs_kit(
        "batch", str(_listing(small, env.work / "small.txt")), "--out",
        str(env.work / "ledger-small"), "--workers", "2", *env.common("small"))
    return {
        "captures": count, "wall_s": round(first_s, 2),
        "captures_per_min": round(count / first_s * 60, 1), "exit_code": rc,
        "done": len(done), "failed_by_class": dict(failed),
        "failed_attempts_by_class": dict(retried),
        "exactly_one_task_per_good_capture": one_each,
        "driver_peak_rss_mib": round(first_rss, 1),
        f"driver_peak_rss_mib_{max(1, count // 4)}_captures": round(small_rss, 1),
        "rerun_wall_s": round(rerun_s, 2), "rerun_fraction": round(rerun_s / first_s, 4),
        "rerun_exit_code": rc2,
        "rerun_puts": rerun_puts, "rerun_tasks": rerun_tasks,
        "small_wall_s": round(small_s, 2),
    }


def overhead(env: Env, count: int, reps: int) -> dict[str, Any]:
    """Phase 3: batch --workers 2 vs ``sfs-kit run`` in a loop, fresh captures each time."""
    batch_s: list[float] = []
    loop_s: list[float] = []
    for rep in range(reps):
        for kind in ("batch", "loop") if rep % 2 == 0 else ("loop", "batch"):
            seed = 10 + rep * 2 + (kind == "loop")
            paths = make_captures(env.work / f"ov-{seed}", count, seed=seed)
            prefix = f"ov-{seed}"
            if kind == "batch":
                wall, _, rc = env.sfs_kit("batch", *map(str, paths), "--out",
                                          str(env.work / f"ledger-{seed}"), "--workers", "2",
                                          *env.common(prefix))
                batch_s.append(wall)
            else:
                start = time.perf_counter()
                for path in paths:
                    _, _, rc = env.sfs_kit("run", str(path), "--out",
                                           str(env.work / f"run-{seed}-{path.stem}"),
                                           *env.common(prefix))
                loop_s.append(time.perf_counter() - start)
            if rc != 0:
                raise SystemExit(f"{kind} failed with exit code {rc}")
    b, loop = statistics.median(batch_s), statistics.median(loop_s)
    return {"captures": count, "reps": reps, "batch_2_workers_s": [round(x, 2) for x in batch_s],
            "run_loop_s": [round(x, 2) for x in loop_s], "median_batch_s": round(b, 2),
            "median_loop_s": round(loop, 2), "speedup": round(loop / b, 2)}


def ray_overhead(env: Env, count: int, reps: int) -> dict[str, Any]:
    """Phase 4: per-capture wall time on a local Ray vs the local engine, same process."""
    import ray

    os.environ.update({k: v for k, v in env.environ.items() if k.startswith(("AWS_", "SCALE_"))})
    start = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")  # a Ray of its own, never another on the machine
    startup_s = time.perf_counter() - start
    per: dict[str, list[float]] = {"local": [], "ray": []}
    try:
        for rep in range(reps):
            for engine in ("local", "ray") if rep % 2 == 0 else ("ray", "local"):
                seed = 100 + rep * 2 + (engine == "ray")
                paths = make_captures(env.work / f"ray-{seed}", count, seed=seed)
                rows = read_captures([str(p) for p in paths])
                options = BatchOptions(engine=engine, workers=2)
                t0 = time.perf_counter()
                result = run_batch(rows, env.config(f"ray-{seed}"), env.work / f"rl-{seed}",
                                   options)
                per[engine].append((time.perf_counter() - t0) / count)
                if not result.ok:
                    raise SystemExit(f"{engine} batch failed: {result.failures()[:1]}")
    finally:
        ray.shutdown()
    local, on_ray = statistics.median(per["local"]), statistics.median(per["ray"])
    return {"captures": count, "ray_startup_s": round(startup_s, 2),
            "per_capture_local_s": round(local, 4), "per_capture_ray_s": round(on_ray, 4),
            "ray_overhead_per_capture_s": round(on_ray - local, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=int, default=200)
    parser.add_argument("--loop", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    import boto3

    facts = {"cpus": os.cpu_count(), "python": platform.python_version(),
             "numpy": np.__version__, "boto3": boto3.__version__}
    print(json.dumps({"machine": facts}))
    work = Path(tempfile.mkdtemp(prefix="sfs-kit-bench-batch-", dir="/dev/shm"
                                 if os.access("/dev/shm", os.W_OK) else None))
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    try:
        with seaweed_server(base) as server, ScaleStandin() as standin:
            proxy = S3FaultProxy(server.endpoint_url)
            try:
                env = Env(server, proxy, standin, work)
                print(json.dumps({"scale": scale(env, args.captures)}), flush=True)
                print(json.dumps({"overhead": overhead(env, args.loop, args.reps)}), flush=True)
                if not args.skip_ray:
                    print(json.dumps({"ray": ray_overhead(env, args.loop, args.reps)}),
                          flush=True)
            finally:
                proxy.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
