"""What the fuzz campaign (``fuzz_inputs.py``) feeds: every input kind sfs_kit reads, its seed and
the public entry point that reads it.

A kind is one valid seed file (alone, or inside a folder copied per case) that the campaign
mutates, and ``entry`` calls what a user's command would call on it: the point-cloud and image
readers, calibrations, poses, manifests, a split_base64 frames folder, the capture layouts (our
folder, KITTI raw, the Scale toolkit folder and its YAML twin, a recording manifest, a msgpack
stream, ROS 1 / ROS 2 / MCAP recordings, a video camera), the batch command's capture lists and
ledger, the run journal a resumed ``run`` trusts, and the ``sfs-kit.toml`` settings file. Seeds are
written with sfs_kit's own writers, the test suite's builders and PyAV (deterministic; nothing is
downloaded).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sfs_kit.pipeline import RunConfig

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Kind:
    """One input kind: its seed (a file, or a folder plus the file inside it to mutate) and the
    public entry point that reads it. ``journal`` kinds are framed records with a CRC each, so
    some of their mutations edit a record's values and re-seal it (else the CRC refuses all)."""

    name: str
    seed: str  # relative to the seed folder: the file that is mutated
    folder: str | None = None  # a folder copied per case (the seed file lies inside it)
    text: bool = False
    journal: bool = False


_DRIVE = "kitti/2011_09_26/2011_09_26_drive_0001_sync"
KINDS: tuple[Kind, ...] = (
    Kind("pcd_binary", "pcd_binary.pcd"),
    Kind("pcd_ascii", "pcd_ascii.pcd", text=True),
    Kind("pcd_compressed", "pcd_compressed.pcd"),
    Kind("kitti_bin", "kitti.bin"),
    Kind("nuscenes_bin", "nuscenes.pcd.bin"),
    Kind("ply_binary", "ply_binary.ply"),
    Kind("ply_ascii", "ply_ascii.ply", text=True),
    Kind("npy", "points.npy"),
    Kind("npz", "points.npz"),
    Kind("las", "simple.las"),
    Kind("laz", "simple.laz"),
    Kind("jpeg", "image.jpg"),
    Kind("png", "image.png"),
    Kind("poses_csv", "poses.csv", text=True),
    Kind("poses_json", "poses.json", text=True),
    Kind("calib_json", "intrinsics.json", text=True),
    Kind("calib_yaml", "intrinsics.yaml", text=True),
    Kind("calib_opencv", "opencv.yml", text=True),
    Kind("extrinsics_json", "extrinsics.json", text=True),
    Kind("scale_pose", "scale_pose.json", text=True),
    Kind("frame_json", "frame.json", text=True),
    Kind("frames_folder", "frames/frame-00001.json", folder="frames", text=True),
    Kind("sfs", "scene.sfs"),
    Kind("msgpack", "stream.msgpack"),
    Kind("manifest_yaml", "capture/capture.yaml", folder="capture", text=True),
    Kind("manifest_json", "capture_json/capture.json", folder="capture_json", text=True),
    Kind("timestamps", "capture/lidar/ts.txt", folder="capture", text=True),
    Kind("capture_pcd", "capture/lidar/001.pcd", folder="capture"),
    Kind("capture_poses", "capture/poses.csv", folder="capture", text=True),
    Kind("capture_image", "capture/cam/1700000000110000.jpg", folder="capture"),
    Kind("kitti_calib", "kitti/2011_09_26/calib_velo_to_cam.txt", folder="kitti", text=True),
    Kind("kitti_calib_cam", "kitti/2011_09_26/calib_cam_to_cam.txt", folder="kitti", text=True),
    Kind("kitti_calib_imu", "kitti/2011_09_26/calib_imu_to_velo.txt", folder="kitti", text=True),
    Kind("kitti_timestamps", f"{_DRIVE}/velodyne_points/timestamps.txt", folder="kitti",
         text=True),
    Kind("kitti_image_timestamps", f"{_DRIVE}/image_00/timestamps.txt", folder="kitti",
         text=True),
    Kind("kitti_oxts_timestamps", f"{_DRIVE}/oxts/timestamps.txt", folder="kitti", text=True),
    Kind("kitti_oxts", f"{_DRIVE}/oxts/data/0000000001.txt", folder="kitti", text=True),
    Kind("kitti_velodyne", f"{_DRIVE}/velodyne_points/data/0000000001.bin", folder="kitti"),
    Kind("kitti_png", f"{_DRIVE}/image_00/data/0000000001.png", folder="kitti"),
    Kind("scale_folder_pose", "scale_format/poses/2.json", folder="scale_format", text=True),
    Kind("scale_folder_intrinsics", "scale_format/cameras/front_camera/intrinsics.json",
         folder="scale_format", text=True),
    Kind("scale_folder_extrinsics", "scale_format/cameras/front_camera/extrinsics.json",
         folder="scale_format", text=True),
    Kind("scale_folder_ply", "scale_format/pointcloud/2.ply", folder="scale_format"),
    Kind("scale_folder_radar", "scale_format/radar_points/2.txt", folder="scale_format",
         text=True),
    Kind("scale_folder_pose_yaml", "scale_yaml/poses/2.yaml", folder="scale_yaml", text=True),
    Kind("scale_folder_intrinsics_yaml", "scale_yaml/cameras/front_camera/intrinsics.yaml",
         folder="scale_yaml", text=True),
    Kind("camera_video", "video_capture/front.mp4", folder="video_capture"),
    Kind("video_manifest", "video_capture/capture.yaml", folder="video_capture", text=True),
    Kind("ros1_bag", "drive.bag"),
    Kind("mcap", "drive.mcap"),
    Kind("ros2_db3", "drive_db3/drive_db3.db3", folder="drive_db3"),
    Kind("ros2_metadata", "drive_db3/metadata.yaml", folder="drive_db3", text=True),
    Kind("recording_manifest", "recording/capture.yaml", folder="recording", text=True),
    Kind("batch_list_txt", "batch/night.txt", folder="batch", text=True),
    Kind("batch_list_jsonl", "batch/night.jsonl", folder="batch", text=True),
    Kind("batch_list_csv", "batch/night.csv", folder="batch", text=True),
    Kind("batch_ledger", "batch/ledger/sfs-kit-ledger.bin", folder="batch", journal=True),
    Kind("run_journal", "run/out/sfs-kit-journal.bin", folder="run", journal=True),
    Kind("config_toml", "sfs-kit.toml", text=True),
)
KIND_BY_NAME = {kind.name: kind for kind in KINDS}


# --- seeds: one small valid input of every kind ------------------------------------------------


def build_seeds(root: Path) -> None:
    """Write one valid input of every kind under ``root`` (deterministic)."""
    import numpy as np
    from PIL import Image

    from sfs_kit.capture import MsgpackCaptureWriter, convert_capture
    from sfs_kit.readers import PointCloud, write_pcd, write_ply
    from sfs_kit.readers.pcd import encode_pcd

    rng = np.random.default_rng(11)
    pos = rng.uniform(-10, 10, (40, 3)).astype(np.float32)
    cloud = PointCloud(positions=pos, source="seed", format="pcd",
                       intensity=np.linspace(0, 255, 40).astype(np.float32))
    write_pcd(root / "pcd_binary.pcd", cloud)
    (root / "pcd_ascii.pcd").write_bytes(encode_pcd(cloud, "ascii"))
    (root / "pcd_compressed.pcd").write_bytes(encode_pcd(cloud, "binary_compressed"))
    np.concatenate([pos, rng.uniform(0, 1, (40, 1)).astype(np.float32)], axis=1).astype(
        "<f4").tofile(root / "kitti.bin")
    rings = rng.integers(0, 32, (40, 1)).astype(np.float32)
    np.concatenate([pos, rng.uniform(0, 255, (40, 1)).astype(np.float32), rings], axis=1).astype(
        "<f4").tofile(root / "nuscenes.pcd.bin")
    write_ply(root / "ply_binary.ply", cloud)
    write_ply(root / "ply_ascii.ply", cloud, "ascii")
    np.save(root / "points.npy", pos)
    np.savez_compressed(root / "points.npz", points=pos)
    for name in ("simple.las", "simple.laz"):
        shutil.copy(ROOT / "fixtures" / "laspy" / name, root / name)
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 40, 200)).save(out, format="JPEG", quality=60)
    (root / "image.jpg").write_bytes(out.getvalue())
    out = io.BytesIO()
    Image.new("L", (32, 24), 90).save(out, format="PNG")
    (root / "image.png").write_bytes(out.getvalue())
    start = 1_700_000_000_000_000
    rows = [f"{start + j * 50_000},{j * 0.5},0,0,0,0,0,1" for j in range(7)]
    (root / "poses.csv").write_text("t,x,y,z,qx,qy,qz,qw\n" + "\n".join(rows) + "\n")
    (root / "poses.json").write_text(json.dumps({"poses": [
        {"timestamp_us": start + j * 50_000, "position": [j * 0.5, 0, 0],
         "quat_xyzw": [0, 0, 0, 1]} for j in range(4)]}, indent=1))
    intrinsics = {"fx": 30.0, "fy": 30.0, "cx": 16.0, "cy": 12.0, "width": 32, "height": 24,
                  "distortion_coefficients": [0.1, -0.05, 0.001, 0.001, 0.0]}
    (root / "intrinsics.json").write_text(json.dumps(intrinsics, indent=1))
    (root / "intrinsics.yaml").write_text(
        "camera_matrix: [[30, 0, 16], [0, 30, 12], [0, 0, 1]]\nimage_width: 32\n"
        "image_height: 24\ndistortion_model: plumb_bob\nD: [0.1, -0.05, 0.001, 0.001, 0.0]\n")
    shutil.copy(ROOT / "fixtures" / "opencv" / "left_intrinsics.yml", root / "opencv.yml")
    (root / "extrinsics.json").write_text(json.dumps({"R": [[0, 0, 1], [-1, 0, 0], [0, -1, 0]],
                                                      "T": [1.0, 0.0, 1.5]}))
    (root / "scale_pose.json").write_text(json.dumps({"heading": [1, 0, 0, 0],
                                                      "position": [1.0, 2.0, 0.5]}))
    shutil.copy(ROOT / "fixtures" / "frames" / "basic.json", root / "frame.json")
    with MsgpackCaptureWriter(root / "stream.msgpack") as writer:
        writer.write_calibration("lidar", "lidar", np.eye(4))
        for j in range(5):
            writer.write_pose(start + j * 50_000, [0.5 * j, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
        for k in range(2):
            writer.write_points("lidar", start + k * 100_000, pos[: 10 + k])
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    from capture.conftest import build_folder
    from capture.test_kitti_raw import _drive
    from capture.test_scale_folder import _as_yaml_twin, build_scale_folder

    build_folder(root / "capture", frames=2, points=20)
    build_folder(root / "capture_json", frames=2, points=20, camera=False)
    _yaml_to_json(root / "capture_json")
    _drive(root / "kitti")
    build_scale_folder(root / "scale_format", names=("1", "2", "3"))
    _as_yaml_twin(build_scale_folder(root / "scale_yaml", names=("1", "2", "3")))  # older form
    _video_capture(root / "video_capture")
    _recordings(root)
    _config(root / "sfs-kit.toml")
    _run_journal(root)
    _batch(root)
    convert_capture(root / "capture", root / "scene.sfs", format="sfs")
    convert_capture(root / "capture", root / "frames", format="split_base64")


def _yaml_to_json(folder: Path) -> None:
    import yaml

    manifest = yaml.safe_load((folder / "capture.yaml").read_text())
    (folder / "capture.yaml").unlink()
    (folder / "capture.json").write_text(json.dumps(manifest, indent=1))


def _video_capture(folder: Path) -> None:
    """A capture whose camera is an H.264 MP4 (PyAV's libx264), paired with a timestamps file."""
    import av
    import numpy as np
    from capture.conftest import START_US, build_folder

    frames = 3
    build_folder(folder, frames=frames, points=20, camera=False, manifest_extra=(
        "cameras:\n"
        "  - id: front\n"
        "    video: front.mp4\n"
        "    timestamps: {file: front_ts.txt}\n"
        "    intrinsics: {file: front_intr.json}\n"
        "    extrinsics: {file: front_extr.json, direction: sensor_to_ego}\n"))
    (folder / "front_ts.txt").write_text(
        "".join(f"{START_US + k * 100_000 + 20_000}\n" for k in range(frames)))
    (folder / "front_intr.json").write_text(json.dumps(
        {"fx": 40.0, "fy": 40.0, "cx": 32.0, "cy": 24.0, "width": 64, "height": 48}))
    (folder / "front_extr.json").write_text(json.dumps(
        {"matrix": [[0, 0, 1, 1], [-1, 0, 0, 0], [0, -1, 0, 1.5], [0, 0, 0, 1]]}))
    with av.open(str(folder / "front.mp4"), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10, options={"g": "3", "crf": "35"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k in range(frames):
            picture = np.full((48, 64, 3), 40 + 60 * k, np.uint8)
            picture[8 * k:8 * k + 16, 10:30] = (250, 20, 90)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = k
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _recordings(root: Path) -> None:
    """ROS 1, MCAP and ROS 2 drives from rosbags' writers, and a capture.yaml naming the MCAP."""
    from capture.recording import drive
    from capture.recording.drive import DriveSpec, write_drive

    spec = DriveSpec(sweeps=2)
    write_drive(root / "drive.bag", "ros1", spec)
    mcap_folder = write_drive(root / "drive_mcap", "mcap", spec)
    shutil.move(next(mcap_folder.glob("*.mcap")), root / "drive.mcap")
    shutil.rmtree(mcap_folder)
    write_drive(root / "drive_db3", "ros2", spec)
    (root / "recording").mkdir()
    shutil.copy(root / "drive.mcap", root / "recording" / "drive.mcap")
    (root / "recording" / "capture.yaml").write_text(
        "recording: drive.mcap\n"
        "name: night-drive-07\n"
        "metadata: {vehicle: car-3, run: 7}\n"
        f"lidar_topics: [{drive.OUSTER}]\n"
        "cameras:\n"
        f"  - {{image: {drive.FRONT}, info: {drive.FRONT_INFO}}}\n"
        "world_frame: odom\n"
        "time_source: log\n"
        f"intensity_max: {{{drive.OUSTER}: {drive.OUSTER_INTENSITY_MAX}}}\n")


CONFIG_TOML = """\
api_key_env = "FUZZ_SCALE_KEY"

[run]
format = "sfs"
out = "out"
store = "store"
prefix = "night/07"
expires = "7d"
min_lifetime = "1d"
upload_workers = 4
project = "lidar-fuzz"
batch = "night-07"
priority = 20
tag = ["night", "fuzz"]
max_points = 50000
voxel_size = 0.05

[run.metadata]
vehicle = "car-3"
run = 7

[geometry]
near_range_m = 40.0
max_time_skew_ms = 40.0
sample_frames = 8

[recording]
lidar_topics = ["/sensing/lidar/top/points"]
time_source = "log"
every = 1
intensity_max = {"/sensing/lidar/top/points" = 1000.0}
"""


def _config(path: Path) -> None:
    path.write_text(CONFIG_TOML)


def _run_journal(root: Path) -> None:
    """A finished dry run's out folder: its journal is what a resumed run trusts. The capture
    and the store are symlinks to folders kept in place (the journal records their paths)."""
    from capture.conftest import build_folder

    from sfs_kit.pipeline.run import run

    build_folder(root / "run_capture", frames=2, points=20)
    (root / "run_store").mkdir()
    (root / "run").mkdir()
    (root / "run" / "capture").symlink_to(root / "run_capture")
    (root / "run" / "store").symlink_to(root / "run_store")
    run(root / "run" / "capture", _run_config(root / "run"))


def _run_config(top: Path) -> RunConfig:
    from sfs_kit.pipeline import RunConfig

    return RunConfig(dry_run=True, out_dir=top / "out", store_dir=top / "store",
                     project="fuzz", batch="night")


def _batch(root: Path) -> None:
    """Capture lists in the three forms and a ledger of a batch over them (one capture done in a
    dry run, one failed); the captures themselves are empty folders kept in place."""
    from sfs_kit.batch import Ledger, capture_key
    from sfs_kit.batch.driver import settings_fingerprint
    from sfs_kit.pipeline import RunConfig

    for name in ("a", "b"):
        (root / "batch_caps" / name).mkdir(parents=True)
    top = root / "batch"
    top.mkdir()
    (top / "caps").symlink_to(root / "batch_caps")
    (top / "night.txt").write_text("# tonight's drives\n\ncaps/a\n  caps/b  \n")
    (top / "night.jsonl").write_text(
        '{"capture": "caps/a", "tags": ["x", "y"], "metadata": {"k": 1}, "priority": 30, '
        '"format": "split_base64", "unique_id": "u-1"}\n{"capture": "caps/b"}\n')
    (top / "night.csv").write_text('capture,tags,priority,metadata,unique_id\n'
                                   'caps/a,"x, y",20,"{""k"": 2}",u-1\ncaps/b,,,,\n')
    ledger = Ledger.open(top / "ledger")
    config = RunConfig(dry_run=True, store_dir=top / "store", project="fuzz", batch="night")
    ledger.record_settings(settings_fingerprint(config))
    a, b = (capture_key(top / "caps" / n) for n in ("a", "b"))
    ledger.record_many([(a, {"path": str(top / "caps" / "a"), "state": "pending"}),
                        (b, {"path": str(top / "caps" / "b"), "state": "pending"})])
    ledger.record(a, state="running", attempts=1, pid=4242)
    ledger.record(a, state="done", attempts=1, dry_run=True, unique_id="fuzz-night-0123",
                  content_sha256="ab" * 32, task_id=None, request_path="/tmp/x/task.json",
                  urls_expire_at="2026-12-10T00:00:00+00:00", bytes_uploaded=12345,
                  step_seconds={"convert": 0.5, "upload": 0.25}, warnings=1)
    ledger.record(b, state="failed", attempts=3, error_class="InputError",
                  error_message="caps/b: not a capture", transient=False)


# --- the public entry point of each kind ----------------------------------------------------


def entry(kind: Kind, path: Path, case_dir: Path) -> None:
    """Call the public entry point(s) that read ``kind`` at ``path``."""
    from sfs_kit.capture import convert_capture
    from sfs_kit.codecs.frame_json import read_frame
    from sfs_kit.codecs.scene_io import read_sfs
    from sfs_kit.codecs.sfs import read_sfs_dict
    from sfs_kit.readers import (
        describe_input,
        read_extrinsics,
        read_image,
        read_intrinsics,
        read_point_cloud,
        read_poses,
    )
    from sfs_kit.readers.scale_pose import read_scale_pose

    name = kind.name
    if name.startswith(("pcd", "kitti_bin", "nuscenes", "ply", "npy", "npz", "las", "laz")):
        try:
            read_point_cloud(path)
        finally:
            describe_input(path)
    elif name in ("jpeg", "png"):
        read_image(path)
    elif name.startswith("poses"):
        read_poses(path, time_unit="us")
    elif name.startswith("calib"):
        read_intrinsics(path)
    elif name == "extrinsics_json":
        read_extrinsics(path, direction="sensor_to_ego")
    elif name == "scale_pose":
        read_scale_pose(path)
    elif name == "frame_json":
        read_frame(path)
    elif name == "frames_folder":  # what `sfs-kit validate FRAMES_DIR` checks
        _frames_entry(case_dir / "frames")
    elif name == "sfs":
        try:
            read_sfs_dict(path)
        finally:
            read_sfs(path)
    elif name == "msgpack":
        convert_capture(path, case_dir / "out.sfs", format="sfs")
    elif name in ("ros1_bag", "mcap", "ros2_db3", "ros2_metadata", "recording_manifest"):
        from sfs_kit.capture import open_capture
        from sfs_kit.capture.recording.options import RecordingOptions

        target = path if kind.folder is None else case_dir / kind.folder
        options = RecordingOptions(intensity_max={"/sensing/lidar/top/points": 65535.0})
        convert_capture(open_capture(target, recording=options), case_dir / "out.sfs",
                        format="sfs")
    elif name.startswith("batch"):
        _batch_entry(kind, path, case_dir)
    elif name == "run_journal":
        from sfs_kit.pipeline.run import run

        top = case_dir / "run"
        run(top / "capture", _run_config(top)).model_dump_json()
    elif name == "config_toml":
        from sfs_kit.pipeline import load_config

        load_config(env={"FUZZ_SCALE_KEY": "fuzz-key"}, config_path=path).model_dump(mode="json")
    else:  # a file inside a capture folder: convert the whole capture
        assert kind.folder is not None
        top = case_dir / kind.folder
        if name.startswith("kitti"):
            top = top / "2011_09_26" / "2011_09_26_drive_0001_sync"
        from sfs_kit.capture.options import ConvertOptions

        rate = 10.0 if name.startswith("scale_folder") else None  # the folder names no times
        convert_capture(top, case_dir / "out.sfs", format="sfs",
                        options=ConvertOptions(frame_rate_hz=rate))


def _frames_entry(folder: Path) -> None:
    """``check_frames`` reports bad frames as issues rather than raising: an issue's message
    must be as bounded as an error's (else a ValueError, counted as a traceback), and the first
    error is raised as ours so the case counts as clean."""
    from sfs_kit.codecs.frame_check import check_frames
    from sfs_kit.errors import InputError

    issues = check_frames(folder).issues
    for issue in issues:
        if len(issue.message) > 1200 or "\n" in issue.message:
            raise ValueError(f"unbounded {issue.code} message of {len(issue.message)} chars")
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise InputError(f"{errors[0].code} at {errors[0].path}: {errors[0].message}")


def _batch_entry(kind: Kind, path: Path, case_dir: Path) -> None:
    """A capture list is read as ``sfs-kit batch LIST`` reads it; the ledger is resumed by a dry
    batch over the listed captures (the done and failed ones are skipped; any other state runs
    them, on one local worker), and its result printed as ``--json`` prints it."""
    from sfs_kit.batch import BatchOptions, read_captures, run_batch, run_dir_for
    from sfs_kit.pipeline import RunConfig

    top = case_dir / "batch"
    if kind.name != "batch_ledger":
        rows = read_captures([str(path)])
        json.dumps([(r.path, dict(r.overrides), r.line, str(run_dir_for(top / "ledger", r.path)))
                    for r in rows])
        return
    rows = read_captures([str(top / "night.txt")])
    config = RunConfig(dry_run=True, store_dir=top / "store", project="fuzz", batch="night")
    result = run_batch(rows, config, top / "ledger", BatchOptions(workers=1, retries=0))
    json.dumps(result.to_dict())
