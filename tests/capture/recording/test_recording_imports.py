"""A fresh ``sfs-kit convert`` of a recording loads only what a recording needs.

Start-up is most of the gap between ``sfs-kit convert`` and reading the recording with rosbags
alone (``scripts/bench_rosbag.py``), so the modules a recording conversion never uses stay
unloaded: the other capture layouts and their readers, the split_base64 writer, YAML, the
video codec, the run's journal, storage and submission; and of the pydantic models only those
it validates are built (``defer_build``). The collector makes no passes over what the imports
and the opening built (``sfs_kit.cli._startup``). Checked structurally in a fresh process, never
timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import drive as d

ROOT = Path(__file__).resolve().parents[3]

_CONVERT = """
import gc, json, sys
import pydantic
from sfs_kit.cli import _startup, main
if sys.argv[1] == "own":
    _startup.own_process()
passes = []
gc.callbacks.append(lambda phase, info: phase == "start" and passes.append(info["generation"]))
code = main(sys.argv[2:])

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

built = sorted({c.__name__ for c in subclasses(pydantic.BaseModel)
                if c.__module__.startswith("sfs_kit") and c.__dict__.get("__pydantic_complete__")})
print(json.dumps({"code": code, "modules": sorted(sys.modules), "built": built,
                  "passes": passes, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}))
"""

NOT_FOR_A_RECORDING = (
    "boto3", "botocore", "urllib3", "yaml", "msgpack", "PIL", "av", "matplotlib", "numpy.ma",
    "sfs_kit.capture.folder", "sfs_kit.capture.kitti_raw", "sfs_kit.capture.msgpack_stream",
    "sfs_kit.capture.scale_folder", "sfs_kit.capture.manifest", "sfs_kit.readers.pcd",
    "sfs_kit.readers.las", "sfs_kit.readers.ply", "sfs_kit.readers.poses",
    "sfs_kit.codecs.frame_json", "sfs_kit.codecs.video", "sfs_kit.models.scene",
    "sfs_kit.models.sensors", "sfs_kit.models.projection", "sfs_kit.pipeline.journal",
    "sfs_kit.pipeline.result", "sfs_kit.pipeline.run", "sfs_kit.storage", "sfs_kit.submit",
    "sfs_kit.preview",
)


def _convert(recording: Path, out: Path, *, own_process: bool) -> dict[str, Any]:
    """Convert in a fresh interpreter, as the ``sfs-kit`` process or calling ``main`` in it."""
    # the front camera is a CompressedImage: its JPEG passes through, so no image library loads
    argv = [str(recording), "-o", str(out), "--lidar-topic", d.OUSTER,
            "--camera-topic", f"{d.FRONT}={d.FRONT_INFO}", "--intensity-max",
            f"{d.OUSTER}={d.OUSTER_INTENSITY_MAX}", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", _CONVERT, "own" if own_process else "in", "convert", *argv],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=out.parent, capture_output=True,
        text=True, check=True, timeout=300,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stdout
    assert out.stat().st_size > 0
    return report


def test_convert_of_a_recording_loads_only_what_it_uses(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    report = _convert(recordings["mcap"], tmp_path / "drive.sfs", own_process=True)
    modules = set(report["modules"])
    loaded = sorted(m for m in NOT_FOR_A_RECORDING
                    if m in modules or any(n.startswith(m + ".") for n in modules))
    assert loaded == []
    assert "rosbags.rosbag2" in modules  # the check sees the modules the conversion used
    # the scene models (sensors, calibration, Scene) are never validated on this path
    assert report["built"] == ["PosePath", "RecordingOptions"]


def test_start_up_makes_no_collector_passes_and_freezes_only_its_own_process(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    own = _convert(recordings["ros2"], tmp_path / "own.sfs", own_process=True)
    assert own["frozen"] > 10_000  # modules, classes, type stores: out of every later pass
    assert own["enabled"]  # collection runs again for the conversion's own garbage
    hosted = _convert(recordings["ros2"], tmp_path / "hosted.sfs", own_process=False)
    assert hosted["frozen"] == 0  # main() called in someone's process freezes nothing of theirs
    assert hosted["enabled"]
    # without the pause, the imports and the opening alone make ~125 passes, 11 of them over the
    # older generations; with it only the conversion's own young garbage is collected
    for report in (own, hosted):
        assert [g for g in report["passes"] if g > 0] == []
        assert len(report["passes"]) < 30
