"""Benchmark: ``sfs-kit convert`` of a ROS recording vs reading it with ``rosbags`` alone.

Writes (or reuses) a generated recording of the reference capture's size: 50 sweeps x 120,000
points (Ouster-like PointCloud2, point_step 32), 6 cameras with one ~400 KB JPEG
``CompressedImage`` + ``CameraInfo`` per sweep, ``/tf_static`` mountings and ``/tf`` at 50 Hz;
and the same drive 4x longer (200 sweeps). In the same run, each in its own subprocess, it times

- the reference: ``rosbags.highlevel.AnyReader`` reading and deserialising every message;
- ours: ``sfs-kit convert RECORDING --format sfs -o OUT.sfs``;

(medians of ``--runs`` alternating runs) and prints the ratios (target <= 1.3x), then the peak
RSS of ``sfs-kit convert`` on the short and the 4x longer recording (target <= 1.2x), measured by
``os.wait4`` on each child.

Two figures each: **wall**, a fresh process from start to exit (ours: the real command,
``python -m sfs_kit convert ...``; the reference: its script, importing what it uses), and
**work**, the child's own timer after its imports (ours in a harness that imports every module
the command loads lazily first). Children compile to a bytecode cache (``PYTHONPYCACHEPREFIX``
under ``--dir``, even where ``PYTHONDONTWRITEBYTECODE`` is set), as an installed package has its
``.pyc`` files; each command runs once untimed first, which also warms the page cache.

    .venv/bin/python scripts/bench_rosbag.py [--container mcap|ros1|ros2] [--runs 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_scene import IMAGE_HEIGHT, IMAGE_WIDTH, reference_jpeg

N_POINTS = 120_000
CAMERAS = ("front", "front_left", "back_left", "back", "back_right", "front_right")
LIDAR_TOPIC = "/sensing/lidar/top/points"
T0_NS = 1_700_000_000 * 10**9
PERIOD_NS = 100_000_000
INTENSITY_MAX = "255"
# Imports done before the work timer starts: rosbags' type stores (a few hundred ms to import;
# the reference uses ROS2_HUMBLE for every container), and for ours every module the convert
# command imports lazily, so "work" is reading, decoding and writing only.
STORES = "import rosbags.typesys.stores.ros1_noetic, rosbags.typesys.stores.ros2_humble"
READ_ALL = """
import sys, time
from pathlib import Path
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore
import rosbags.typesys.stores.ros2_humble
t = time.perf_counter()
n = 0
with AnyReader([Path(sys.argv[1])], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as r:
    for conn, _, raw in r.messages():
        r.deserialize(raw, conn.msgtype)
        n += 1
print(n, time.perf_counter() - t)
"""


def _writer(path: Path, container: str) -> tuple[object, object, bool]:
    from rosbags.rosbag1 import Writer as Writer1
    from rosbags.rosbag2 import StoragePlugin
    from rosbags.rosbag2 import Writer as Writer2
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ros1 = container == "ros1"
    store = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    if ros1:
        store.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms",
                                          "tf2_msgs/msg/TFMessage"))
        return Writer1(path), store, True
    plugin = StoragePlugin.MCAP if container == "mcap" else StoragePlugin.SQLITE3
    return Writer2(path, version=9, storage_plugin=plugin), store, False


def write_recording(path: Path, sweeps: int, container: str) -> Path:
    """The generated drive (see the module docstring); reused when it exists."""
    if path.exists():
        return path
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    writer, store, ros1 = _writer(tmp, container)
    t = store.types  # type: ignore[attr-defined]
    ser = store.serialize_ros1 if ros1 else store.serialize_cdr  # type: ignore[attr-defined]
    writer.open()  # type: ignore[attr-defined]
    conns: dict[str, object] = {}

    def write(topic: str, msgtype: str, log_ns: int, msg: object) -> None:
        if topic not in conns:
            conns[topic] = writer.add_connection(topic, msgtype, typestore=store)  # type: ignore[attr-defined]
        writer.write(conns[topic], log_ns, ser(msg, msgtype))  # type: ignore[attr-defined]

    def header(t_ns: int, frame: str) -> object:
        stamp = t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        if ros1:
            return t["std_msgs/msg/Header"](seq=0, stamp=stamp, frame_id=frame)
        return t["std_msgs/msg/Header"](stamp=stamp, frame_id=frame)

    def transform(t_ns: int, parent: str, child: str, xyz: tuple[float, float, float],
                  yaw: float, optical: bool = False) -> object:
        if optical:  # body (yaw) then the optical rotation: q = q_yaw * q_optical
            qo = np.array([-0.5, 0.5, -0.5, 0.5])
            qy = np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])
            x1, y1, z1, w1 = qy
            x2, y2, z2, w2 = qo
            q = (w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2, w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                 w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2, w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2)
        else:
            q = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        return t["geometry_msgs/msg/TransformStamped"](
            header=header(t_ns, parent), child_frame_id=child,
            transform=t["geometry_msgs/msg/Transform"](
                translation=t["geometry_msgs/msg/Vector3"](x=xyz[0], y=xyz[1], z=xyz[2]),
                rotation=t["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3])))

    tf = "tf2_msgs/msg/TFMessage"
    statics = [transform(T0_NS, "base_link", "lidar_top", (0.0, 0.0, 1.8), 0.0)]
    statics += [transform(T0_NS, "base_link", f"cam_{name}_optical_frame", (1.0, 0.0, 1.5),
                          i * math.pi / 3, optical=True) for i, name in enumerate(CAMERAS)]
    write("/tf_static", tf, T0_NS - 10**9, t[tf](transforms=statics))
    rng = np.random.default_rng(7)
    dtype = np.dtype({"names": ["x", "y", "z", "intensity", "t", "ring"],
                      "formats": ["<f4", "<f4", "<f4", "<f4", "<u4", "<u2"],
                      "offsets": [0, 4, 8, 16, 20, 24], "itemsize": 32})
    fields = [t["sensor_msgs/msg/PointField"](name=n, offset=o, datatype=d, count=1)
              for n, o, d in (("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 16, 7),
                              ("t", 20, 6), ("ring", 24, 4))]
    jpegs = [reference_jpeg(c) for c in range(len(CAMERAS))]
    k_ = [1000.0, 0.0, IMAGE_WIDTH / 2, 0.0, 1000.0, IMAGE_HEIGHT / 2, 0.0, 0.0, 1.0]
    p_ = [k_[0], 0.0, k_[2], 0.0, 0.0, k_[4], k_[5], 0.0, 0.0, 0.0, 1.0, 0.0]
    info_arrays = {"d": np.array([-0.05, 0.01, 0.0, 0.0, 0.0]), "k": np.array(k_),
                   "r": np.eye(3).reshape(9), "p": np.array(p_)}
    if ros1:
        info_arrays = {n.upper(): v for n, v in info_arrays.items()}
    roi = t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                 do_rectify=False)
    for j in range(-2, sweeps * 5 + 5):  # /tf at 50 Hz, covering every sweep
        t_ns = T0_NS + j * 20_000_000
        s = (t_ns - T0_NS) / 1e9
        write("/tf", tf, t_ns, t[tf](transforms=[
            transform(t_ns, "odom", "base_link", (10.0 * s, 0.5 * s, 0.0), 0.05 * s)]))
    for k in range(sweeps):
        ts = T0_NS + k * PERIOD_NS
        pts = np.zeros(N_POINTS, dtype=dtype)
        pts["x"] = rng.uniform(-80, 80, N_POINTS)
        pts["y"] = rng.uniform(-80, 80, N_POINTS)
        pts["z"] = rng.uniform(-2, 6, N_POINTS)
        pts["intensity"] = rng.integers(0, 256, N_POINTS)
        pts["t"] = np.linspace(0, 99_000_000, N_POINTS).astype(np.uint32)
        pts["ring"] = np.arange(N_POINTS) % 128
        write(LIDAR_TOPIC, "sensor_msgs/msg/PointCloud2", ts + 2_000_000,
              t["sensor_msgs/msg/PointCloud2"](
                  header=header(ts, "lidar_top"), height=1, width=N_POINTS, fields=fields,
                  is_bigendian=False, point_step=32, row_step=32 * N_POINTS,
                  data=pts.view(np.uint8), is_dense=True))
        for c, name in enumerate(CAMERAS):
            tc = ts + 5_000_000 + c * 1_000_000
            frame = f"cam_{name}_optical_frame"
            write(f"/camera/{name}/image_raw/compressed", "sensor_msgs/msg/CompressedImage",
                  tc + 3_000_000, t["sensor_msgs/msg/CompressedImage"](
                      header=header(tc, frame), format="jpeg",
                      data=np.frombuffer(jpegs[c], dtype=np.uint8)))
            write(f"/camera/{name}/camera_info", "sensor_msgs/msg/CameraInfo", tc + 3_000_000,
                  t["sensor_msgs/msg/CameraInfo"](
                      header=header(tc, frame), height=IMAGE_HEIGHT, width=IMAGE_WIDTH,
                      distortion_model="plumb_bob", binning_x=0, binning_y=0, roi=roi,
                      **info_arrays))
    writer.close()  # type: ignore[attr-defined]
    tmp.rename(path)
    if path.is_dir():  # rosbag2 names its storage file after the folder
        for f in path.iterdir():
            if f.name.startswith(tmp.name):
                f.rename(path / f.name.replace(tmp.name, path.name, 1))
        meta = path / "metadata.yaml"
        meta.write_text(meta.read_text().replace(tmp.name, path.name))
    return path


CONVERT = f"""
import sys, time
import rosbags.highlevel, rosbags.serde.primitives, PIL.Image, PIL.JpegImagePlugin
{STORES}
import sfs_kit.capture.convert, sfs_kit.capture.layout, sfs_kit.capture.recording.capture
import sfs_kit.cli.convert, sfs_kit.pipeline.config
from sfs_kit.cli import main
t = time.perf_counter()
code = main(sys.argv[1:])
print(code, time.perf_counter() - t)
sys.exit(code)
"""


_ENV: dict[str, str] = {}  # the children's environment, set by main


def _child_env(cache: Path) -> dict[str, str]:
    """This environment with a bytecode cache of its own (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _run(cmd: list[str]) -> tuple[float, float, int, float]:
    """Wall time (s), the child's own timing of its work (s, after its imports; NaN when it
    prints none), peak RSS (KiB) and CPU time (user + system, s) of one child process; it must
    succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:4]} failed: {err}")
    work = float(out.split()[-1]) if cmd[1] == "-c" else math.nan
    return elapsed, work, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime


def _convert_cmd(recording: Path, out: Path, *, harness: bool = False) -> list[str]:
    """The convert command (``harness``: in the CONVERT harness, which times the work); the
    previous run's output is removed first, so no run pays for freeing the last one's 300 MB
    (an ``--overwrite`` rename over it costs ~0.2 s)."""
    out.unlink(missing_ok=True)
    start = ["-c", CONVERT] if harness else ["-m", "sfs_kit"]
    return [sys.executable, *start, "convert", str(recording), "--format", "sfs", "-o",
            str(out), "--json", "--intensity-max", f"{LIDAR_TOPIC}={INTENSITY_MAX}"]


def main() -> None:
    """Generate, time, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", choices=("mcap", "ros1", "ros2"), default="mcap")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sfs_bench_rosbag"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    suffix = ".bag" if args.container == "ros1" else ""
    short = write_recording(args.dir / f"drive50_{args.container}{suffix}", 50, args.container)
    long = write_recording(args.dir / f"drive200_{args.container}{suffix}", 200, args.container)
    size = sum(p.stat().st_size for p in ([short] if short.is_file() else short.iterdir()))
    print(f"recording {short} ({args.container}): {size / 1e6:.0f} MB, 50 sweeps x "
          f"{N_POINTS:,} points, {len(CAMERAS)} cameras")
    out = args.dir / "out.sfs"
    _ENV.update(_child_env(args.dir / "pycache"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    ref_cmd = [sys.executable, "-c", READ_ALL, str(short)]
    # untimed: writes the bytecode cache, reads the recording into the page cache
    _run(ref_cmd)
    _run(_convert_cmd(short, out))
    _run(_convert_cmd(short, out, harness=True))
    ref_runs, our_runs, our_work = [], [], []
    for _ in range(args.runs):
        ref_runs.append(_run(ref_cmd))
        our_runs.append(_run(_convert_cmd(short, out)))
        our_work.append(_run(_convert_cmd(short, out, harness=True)))
    # CPU time of the same fresh processes: less moved by other loads on a shared machine
    for label, k, ours_of in (("wall, a fresh process: start, imports, work, exit", 0, our_runs),
                              ("cpu (user + system) of those fresh processes", 3, our_runs),
                              ("work, after imports", 1, our_work)):
        ref_t = [r[k] for r in ref_runs]
        our_t = [r[k] for r in ours_of]
        ref, ours = statistics.median(ref_t), statistics.median(our_t)
        print(f"{label}:")
        print(f"  rosbags read+deserialise all: median {ref:.2f} s  {[round(x, 2) for x in ref_t]}")
        print(f"  sfs-kit convert -> .sfs: median {ours:.2f} s  {[round(x, 2) for x in our_t]}")
        print(f"  ratio ours / rosbags: {ours / ref:.2f}x (target <= 1.3x)")
    rss_short = [_run(_convert_cmd(short, out))[2] for _ in range(max(1, args.runs - 1))]
    rss_long = [_run(_convert_cmd(long, out))[2] for _ in range(max(1, args.runs - 1))]
    a, b = statistics.median(rss_short), statistics.median(rss_long)
    print(f"peak RSS convert: 50 sweeps {a / 1024:.0f} MiB, 200 sweeps {b / 1024:.0f} MiB, "
          f"ratio {b / a:.2f}x (target <= 1.2x)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
