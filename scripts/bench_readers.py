"""Benchmark the raw readers (run by hand): ``.venv/bin/python scripts/bench_readers.py``.

Reader part: a 120,000-point PCD (x y z intensity t ring) read as binary, binary_compressed and
ascii, against ``np.fromfile`` of the same binary bytes (target: binary <= 2x fromfile; ascii
>= 2 million points/s), plus LZF decompression by the C extension and the pure-Python fallback.
Generated data stays under a temporary directory.
"""

from __future__ import annotations

import functools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sfs_kit.readers import PointCloud, _lzf, read_pcd, write_pcd
from sfs_kit.readers.pcd import PcdData, parse_header

N_POINTS = 120_000
REPEATS = 9


def median_seconds(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_cloud(n: int) -> PointCloud:
    rng = np.random.default_rng(7)
    return PointCloud(
        positions=(rng.random((n, 3), dtype=np.float32) - 0.5) * 200, source="bench",
        format="bench", intensity=rng.random(n, dtype=np.float32) * 255,
        time_s=np.sort(rng.random(n)) * 0.1, ring=rng.integers(0, 128, n).astype(np.uint16))


def machine_facts() -> str:
    import boto3

    return (f"CPUs {os.cpu_count()}, Python {platform.python_version()}, numpy {np.__version__}, "
            f"boto3 {boto3.__version__}, lzf C extension "
            f"{'yes' if _lzf.lzf_module() else 'no'}, {platform.machine()}")


def bench_reader_part(directory: Path) -> None:
    cloud = make_cloud(N_POINTS)
    paths = {}
    kinds: tuple[PcdData, ...] = ("binary", "binary_compressed", "ascii")
    for kind in kinds:
        paths[kind] = directory / f"cloud_{kind}.pcd"
        write_pcd(paths[kind], cloud, data=kind)
    binary = paths["binary"].read_bytes()
    header = parse_header(binary, "bench")
    record = header.record_dtype()

    def fromfile() -> object:
        return np.fromfile(paths["binary"], dtype=record, offset=header.data_offset)

    reference = median_seconds(fromfile)
    print(f"PCD {N_POINTS:,} points (x y z intensity t ring, {record.itemsize} B/point), "
          f"median of {REPEATS}:")
    print(f"  np.fromfile (reference)  {reference * 1e3:8.2f} ms")
    for kind, path in paths.items():
        seconds = median_seconds(functools.partial(read_pcd, path))
        ratio = seconds / reference
        print(f"  read_pcd {kind:<17} {seconds * 1e3:8.2f} ms  {N_POINTS / seconds / 1e6:6.2f} "
              f"M points/s  {ratio:6.1f}x fromfile  ({path.stat().st_size:,} B)")

    compressed = paths["binary_compressed"].read_bytes()
    start = parse_header(compressed, "bench").data_offset
    size_c, size_u = np.frombuffer(compressed, "<u4", 2, start)
    block = compressed[start + 8:start + 8 + int(size_c)]
    module = _lzf.lzf_module()
    if module is not None:
        c_seconds = median_seconds(lambda: module.decompress(block, int(size_u) + 1))
        print(f"  LZF C extension          {c_seconds * 1e3:8.2f} ms  "
              f"{size_u / c_seconds / 1e6:8.1f} MB/s decompressed")
    py_seconds = median_seconds(lambda: _lzf.decompress_python(block, int(size_u), source="b"),
                                repeats=5)
    print(f"  LZF pure Python          {py_seconds * 1e3:8.2f} ms  "
          f"{size_u / py_seconds / 1e6:8.1f} MB/s decompressed (median of 5)")


# --- capture conversion part ------------------------------------------------------------------
# CAPTURE-CONVERSION BENCHMARK: added by the capture/convert helper below this line.


def main() -> None:
    print(machine_facts(), file=sys.stdout)
    with tempfile.TemporaryDirectory(prefix="sfs_bench_readers_") as directory:
        bench_reader_part(Path(directory))


if __name__ == "__main__":
    main()
