"""Streaming: the converter's peak memory does not grow with the recording's length.

Each conversion runs in a fresh process (VmHWM covers numpy's and sqlite's buffers, which
tracemalloc does not see); 50 more sweeps of 20,000 points held at once would add ~20 MB of
messages plus their decoded clouds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from . import drive as d

POINTS = 20_000
LAYOUT = [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 12, 7), ("t", 16, 6)]

_PEAK_RSS = """
import sys
from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import RecordingOptions
options = RecordingOptions(intensity_max={sys.argv[3]: 255.0})
convert_capture(open_capture(sys.argv[1], recording=options), sys.argv[2], format="sfs")
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


def _long_drive(path: Path, container: d.Container, sweeps: int) -> Path:
    """A lidar-only drive: ``sweeps`` clouds of ``POINTS`` points, TF at the sweep rate."""
    out = d._Out(path, container)
    tf_type, t_static = "tf2_msgs/msg/TFMessage", d.T0_NS - 1_000_000_000
    out.write("/tf_static", tf_type, t_static, out.t[tf_type](transforms=[
        out.transform(t_static, "base_link", "os_sensor", d.ego_from("os_sensor"))]))
    rng = np.random.default_rng(3)
    for k in range(-1, sweeps + 1):
        t_ns = d.T0_NS + k * d.PERIOD_NS
        out.write("/tf", tf_type, t_ns, out.t[tf_type](transforms=[
            out.transform(t_ns, "odom", "base_link", d.odom_from_base(t_ns))]))
        if 0 <= k < sweeps:
            values = {"x": rng.uniform(-50, 50, POINTS), "y": rng.uniform(-50, 50, POINTS),
                      "z": rng.uniform(-2, 4, POINTS), "intensity": rng.uniform(0, 255, POINTS),
                      "t": np.linspace(0, 99_000_000, POINTS)}
            data = d.pack_cloud(LAYOUT, values, 20, POINTS, 1)
            out.write(d.OUSTER, "sensor_msgs/msg/PointCloud2", t_ns + 1,
                      out.cloud(t_ns, "os_sensor", LAYOUT, data, 20, POINTS, 1, 20 * POINTS))
    out.close()
    return path


def _peak_rss_kib(recording: Path, out: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(recording), str(out), d.OUSTER],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
        timeout=300,
    )
    return int(done.stdout.split()[-1])


@pytest.mark.parametrize("container", ["mcap", "ros2"])
def test_peak_memory_is_flat_with_recording_length(tmp_path: Path, container: str) -> None:
    peaks = []
    for sweeps in (10, 60):
        recording = _long_drive(tmp_path / f"drive{sweeps}", container, sweeps)  # type: ignore[arg-type]
        out = tmp_path / f"drive{sweeps}.sfs"
        peaks.append(_peak_rss_kib(recording, out))
        assert out.stat().st_size > sweeps * POINTS * 12  # every sweep was written
    assert peaks[1] - peaks[0] < 8 * 1024, peaks  # KiB
