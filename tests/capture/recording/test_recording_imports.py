"""A fresh ``sfs-kit convert`` of a recording loads only what a recording needs.

Start-up is most of the gap between ``sfs-kit convert`` and reading the recording with rosbags
alone (``scripts/bench_rosbag.py``), so the modules a recording conversion never uses stay
unloaded: the other capture layouts and their readers, the split_base64 writer, YAML, the
video codec, the run's journal, storage and submission; and of the pydantic models only those
it validates are built (``defer_build``). Checked structurally in a fresh process, never timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import drive as d

ROOT = Path(__file__).resolve().parents[3]

_CONVERT = """
import json, sys
import pydantic
from sfs_kit.cli import main
code = main(sys.argv[1:])

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

built = sorted({c.__name__ for c in subclasses(pydantic.BaseModel)
                if c.__module__.startswith("sfs_kit") and c.__dict__.get("__pydantic_complete__")})
print(json.dumps({"code": code, "modules": sorted(sys.modules), "built": built}))
"""

NOT_FOR_A_RECORDING = (
    "boto3", "botocore", "urllib3", "yaml", "msgpack", "PIL", "av", "matplotlib",
    "sfs_kit.capture.folder", "sfs_kit.capture.kitti_raw", "sfs_kit.capture.msgpack_stream",
    "sfs_kit.capture.scale_folder", "sfs_kit.capture.manifest", "sfs_kit.readers.pcd",
    "sfs_kit.readers.las", "sfs_kit.readers.ply", "sfs_kit.readers.poses",
    "sfs_kit.codecs.frame_json", "sfs_kit.codecs.video", "sfs_kit.models.scene",
    "sfs_kit.models.sensors", "sfs_kit.models.projection", "sfs_kit.pipeline.journal",
    "sfs_kit.pipeline.result", "sfs_kit.pipeline.run", "sfs_kit.storage", "sfs_kit.submit",
    "sfs_kit.preview",
)


def test_convert_of_a_recording_loads_only_what_it_uses(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "drive.sfs"
    # the front camera is a CompressedImage: its JPEG passes through, so no image library loads
    argv = [str(recordings["mcap"]), "-o", str(out), "--lidar-topic", d.OUSTER,
            "--camera-topic", f"{d.FRONT}={d.FRONT_INFO}", "--intensity-max",
            f"{d.OUSTER}={d.OUSTER_INTENSITY_MAX}", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", _CONVERT, "convert", *argv],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True,
        text=True, check=True, timeout=300,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stdout
    assert out.stat().st_size > 0
    modules = set(report["modules"])
    loaded = sorted(m for m in NOT_FOR_A_RECORDING
                    if m in modules or any(n.startswith(m + ".") for n in modules))
    assert loaded == []
    assert "rosbags.rosbag2" in modules  # the check sees the modules the conversion used
    # the scene models (sensors, calibration, Scene) are never validated on this path
    assert report["built"] == ["PosePath", "RecordingOptions"]
