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

from sfs_kit.readers import PointCloud, _arrow_text, _lzf, read_pcd, write_pcd
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


def _arrow_available() -> bool:
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def machine_facts() -> str:
    import boto3

    return (f"CPUs {os.cpu_count()}, Python {platform.python_version()}, numpy {np.__version__}, "
            f"boto3 {boto3.__version__}, lzf C extension "
            f"{'yes' if _lzf.lzf_module() else 'no'}, pyarrow {_arrow_version()}, "
            f"{platform.machine()}")


def _arrow_version() -> str:
    try:
        import pyarrow
    except ImportError:
        return "not installed"
    return str(pyarrow.__version__)


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
        label = f"{kind} (pyarrow)" if kind == "ascii" and _arrow_available() else kind
        print(f"  read_pcd {label:<17} {seconds * 1e3:8.2f} ms  {N_POINTS / seconds / 1e6:6.2f} "
              f"M points/s  {ratio:6.1f}x fromfile  ({path.stat().st_size:,} B)")
    _arrow_text.ENABLED = False  # the exact numpy parser alone, for comparison
    try:
        exact = median_seconds(functools.partial(read_pcd, paths["ascii"]))
    finally:
        _arrow_text.ENABLED = True
    print(f"  read_pcd {'ascii (numpy)':<17} {exact * 1e3:8.2f} ms  "
          f"{N_POINTS / exact / 1e6:6.2f} M points/s  {exact / reference:6.1f}x fromfile")

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

CONVERT_REPEATS = 5
_MEMORY_PROBE = """
import sys
from sfs_kit.capture import convert_capture
convert_capture(sys.argv[1], sys.argv[2], format="sfs")
# VmHWM (peak RSS of this process image; ru_maxrss would inherit the parent's peak across exec)
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def _read_capture_files(capture: Path) -> tuple[list[PointCloud], list[bytes]]:
    """Reference reading: every PCD through read_point_cloud, every JPEG through read_image."""
    from sfs_kit.readers import read_image, read_point_cloud

    clouds = [read_point_cloud(p) for p in sorted((capture / "lidar").glob("*.pcd"))]
    images = [read_image(p).content for p in sorted((capture / "cameras").glob("*/*.jpg"))]
    return clouds, images


def _plain_tree(clouds: list[PointCloud], images: list[bytes]) -> dict[str, object]:
    """The same arrays as the converted scene, as a plain dict for write_sfs_dict."""
    frames = [{"timestamp": k * 100_000, "points": {
        "positions": c.positions,
        "intensities": np.zeros(c.num_points, np.uint8) if c.intensity is None
        else c.intensity.astype(np.uint8),
        "timestamps": np.zeros(c.num_points, np.uint32)}} for k, c in enumerate(clouds)]
    return {"version": "1.0", "sensors": [
        {"id": "lidar", "type": "lidar", "frames": frames},
        {"id": "cams", "type": "camera",
         "images": [{"timestamp": k, "content": np.frombuffer(b, np.uint8)}
                    for k, b in enumerate(images)]}]}


def _peak_rss_mb(capture: Path, out: Path) -> float:
    import subprocess

    done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(capture), str(out)],
                          check=True, capture_output=True, text=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def bench_capture_part(directory: Path) -> None:
    """Convert the 50-frame reference capture vs reading its files + writing the .sfs; memory."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_reference_capture import make_reference_capture

    from sfs_kit.capture import convert_capture
    from sfs_kit.codecs.sfs import write_sfs_dict

    capture = make_reference_capture(Path("/tmp/sfs_reference_capture_50"), 50)
    out = directory / "converted.sfs"
    read_s = median_seconds(lambda: _read_capture_files(capture), repeats=CONVERT_REPEATS)
    tree = _plain_tree(*_read_capture_files(capture))
    write_s = median_seconds(lambda: write_sfs_dict(tree, directory / "plain.sfs"),
                             repeats=CONVERT_REPEATS)
    convert_s = median_seconds(lambda: convert_capture(capture, out, format="sfs"),
                               repeats=CONVERT_REPEATS)
    reference = read_s + write_s
    print(f"capture conversion (50 frames x 120,000 points, 300 JPEGs, "
          f"{out.stat().st_size / 1e6:.0f} MB .sfs; medians of {CONVERT_REPEATS})")
    print(f"  read files               {read_s * 1e3:8.0f} ms")
    print(f"  write_sfs_dict           {write_s * 1e3:8.0f} ms")
    overhead = (convert_s / reference - 1) * 100
    print(f"  convert_capture -> .sfs  {convert_s * 1e3:8.0f} ms  "
          f"{convert_s / reference:.2f}x read+write (overhead {overhead:+.0f}%, target <= +20%)")
    big = make_reference_capture(Path("/tmp/sfs_reference_capture_200"), 200)
    rss = [_peak_rss_mb(c, directory / f"m{n}.sfs") for n, c in ((50, capture), (200, big))]
    print(f"  peak RSS of a conversion: 50 frames {rss[0]:.0f} MB, 200 frames {rss[1]:.0f} MB "
          f"({rss[1] / rss[0]:.2f}x, target <= 1.30x)")


def main() -> None:
    print(machine_facts(), file=sys.stdout)
    with tempfile.TemporaryDirectory(prefix="sfs_bench_readers_") as directory:
        bench_reader_part(Path(directory))
        bench_capture_part(Path(directory))


if __name__ == "__main__":
    main()
