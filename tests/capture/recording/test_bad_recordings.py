"""Bad recordings: each is one clear error naming the recording, topic and time; nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys import get_types_from_msg

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import CameraTopics, RecordingOptions
from sfs_kit.errors import InputError

from . import drive as d

OPTIONS = RecordingOptions(intensity_max={d.OUSTER: d.OUSTER_INTENSITY_MAX})


def _convert_fails(recording: Path, tmp_path: Path, options: RecordingOptions = OPTIONS) -> str:
    out = tmp_path / "out.sfs"
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError) as info:
        convert_capture(open_capture(recording, recording=options), out, format="sfs")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temp file left behind
    return str(info.value)


@pytest.mark.parametrize("container", ["ros1", "ros2", "mcap"])
def test_truncated_recording(tmp_path: Path, container: str) -> None:
    written = d.write_drive(tmp_path / ("drive.bag" if container == "ros1" else "drive"),
                            container)  # type: ignore[arg-type]
    data_file = written if written.is_file() else next(
        p for p in written.iterdir() if p.suffix in (".db3", ".mcap"))
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) // 2])
    message = _convert_fails(written, tmp_path)
    assert str(written) in message
    assert "truncated" in message
    tool = {"ros1": "rosbag reindex", "ros2": ".recover", "mcap": "mcap recover"}[container]
    assert tool in message  # how to rebuild the lost index


def test_topic_that_does_not_exist(recordings: dict[str, Path], tmp_path: Path) -> None:
    options = OPTIONS.model_copy(update={"lidar_topics": ("/lidar/nope",)})
    with pytest.raises(InputError, match=r"has no topic '/lidar/nope' \(asked for as lidar\)"):
        open_capture(recordings["ros1"], recording=options)
    options = OPTIONS.model_copy(update={"pose_topic": "/odom/nope"})
    with pytest.raises(InputError, match="/odom/nope"):
        open_capture(recordings["mcap"], recording=options)


def test_unknown_message_type(tmp_path: Path) -> None:
    def blob(writer: object, store: object, write: object) -> None:
        store.register(get_types_from_msg("uint8[] payload", "acme_msgs/msg/Blob"))  # type: ignore[attr-defined]
        msg = store.types["acme_msgs/msg/Blob"](payload=np.zeros(4, np.uint8))  # type: ignore[attr-defined]
        write("/acme/blob", "acme_msgs/msg/Blob", d.T0_NS, msg)  # type: ignore[operator]

    bag = d.write_drive(tmp_path / "drive.bag", "ros1", d.DriveSpec(extra=blob))
    options = OPTIONS.model_copy(update={"lidar_topics": ("/acme/blob",)})
    with pytest.raises(InputError) as info:
        open_capture(bag, recording=options)
    message = str(info.value)
    assert str(bag) in message
    assert "/acme/blob" in message
    assert "acme_msgs/msg/Blob" in message
    assert "sensor_msgs/msg/PointCloud2" in message
    # left alone by the automatic mapping, and said so
    cap = open_capture(bag, recording=OPTIONS)
    assert [lidar.sensor_id for lidar in cap.lidars] == ["sensing_lidar_top", "velodyne_points"]


def test_tf_tree_without_a_path_to_the_ego_frame(tmp_path: Path) -> None:
    spec = d.DriveSpec(static_override={"velodyne": ("vehicle", (1.0, 0.0, 0.0),
                                                     (0.0, 0.0, 0.0, 1.0))})
    bag = d.write_drive(tmp_path / "drive_db3", "ros2", spec)
    with pytest.raises(InputError) as info:
        open_capture(bag, recording=OPTIONS)
    message = str(info.value)
    assert "no TF path from frame 'velodyne' to frame 'base_link'" in message
    assert f"at {d.stamp(d.VELODYNE, 0)} ns" in message
    assert str(bag) in message


def test_ego_pose_outside_the_tf_span_names_the_time(tmp_path: Path) -> None:
    odom = d.DriveSpec(skip_topics=("/tf",))
    bag = d.write_drive(tmp_path / "drive.mcap_dir", "mcap", odom)
    with pytest.raises(InputError, match="no TF path from frame 'base_link' to frame 'map'"):
        open_capture(bag, recording=OPTIONS)


def test_camera_without_camera_info(tmp_path: Path) -> None:
    bag = d.write_drive(tmp_path / "drive.bag", "ros1", d.DriveSpec(skip_topics=(d.LEFT_INFO,)))
    options = OPTIONS.model_copy(update={"cameras": (CameraTopics(image=d.LEFT),)})
    with pytest.raises(InputError) as info:
        open_capture(bag, recording=options)
    message = str(info.value)
    assert str(bag) in message
    assert d.LEFT in message
    assert "CameraInfo" in message
    # the automatic mapping leaves it out and says why
    from sfs_kit.capture.recording.inspect import inspect_recording

    report = inspect_recording(bag, OPTIONS)
    assert report["mapping"]["skipped"][d.LEFT] == "no CameraInfo topic in namespace /cam/left"


def test_images_too_far_from_every_sweep(tmp_path: Path) -> None:
    spec = d.DriveSpec(camera_offset_ns={d.FRONT: 60_000_000})  # 70 ms after each sweep
    bag = d.write_drive(tmp_path / "drive", "mcap", spec)
    with pytest.raises(InputError) as info:
        open_capture(bag, recording=OPTIONS)
    message = str(info.value)
    assert d.FRONT in message
    assert str(bag) in message
    assert f"frame 0 of {d.OUSTER} at {d.stamp(d.OUSTER, 0)} ns" in message
    assert "within 50.0 ms" in message
    # a wider tolerance pairs them, explicitly: frame 0 with image 0 (70 ms), frame k with image
    # k - 1 (30 ms), so image 4 is paired with no frame and left out
    wide = OPTIONS.model_copy(update={"image_tolerance_ms": 80.0})
    images = open_capture(bag, recording=wide).cameras[0].images
    assert [im.timestamp_us for im in images] == [
        (d.stamp(d.FRONT, k) + 60_000_000) // 1000 for k in range(4)]


def test_float_intensity_without_a_scale_names_topic_and_time(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    message = _convert_fails(recordings["ros2"], tmp_path, RecordingOptions())
    assert f"{d.OUSTER} at {d.stamp(d.OUSTER, 0)} ns" in message
    assert "intensity_max" in message


def test_missing_rosbags_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                         recordings: dict[str, Path]) -> None:
    import builtins

    from sfs_kit.errors import MissingDependencyError

    real_import = builtins.__import__

    def no_rosbags(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("rosbags"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_rosbags)
    import importlib

    real_module = importlib.import_module

    def no_module(name: str, package: str | None = None) -> object:
        if name.startswith("rosbags"):
            raise ImportError(name)
        return real_module(name, package)

    monkeypatch.setattr(importlib, "import_module", no_module)
    with pytest.raises(MissingDependencyError, match=r"sfs_kit\[ros\]"):
        open_capture(recordings["ros1"])


def test_camera_recalibrated_mid_drive(tmp_path: Path) -> None:
    """A CameraInfo whose K changes among the chosen images is refused, naming the change; a
    window after the change uses the new calibration, one before it the old."""
    new_k = [520.0, 0.0, 31.0, 0.0, 515.0, 23.5, 0.0, 0.0, 1.0]
    bag = d.write_drive(tmp_path / "drive.bag", "ros1", d.DriveSpec(front_k_from=(3, new_k)))
    with pytest.raises(InputError) as info:
        open_capture(bag, recording=OPTIONS)
    message = str(info.value)
    assert d.FRONT_INFO in message
    assert "(K, P)" in message  # the drive derives P from K
    assert f"at {d.stamp(d.FRONT, 3) + d.LATENCY_NS} ns" in message
    assert str(bag) in message
    bag_start_ns = d.T0_NS - 1_000_000_000  # /tf_static opens the recording
    after = (d.stamp(d.OUSTER, 3) - bag_start_ns) / 1e9 - 1e-3
    cap = open_capture(bag, recording=OPTIONS.model_copy(update={"start_s": after}))
    front = next(c for c in cap.cameras if c.sensor_id == "cam_front")
    assert (front.intrinsics.fx, front.intrinsics.fy, front.intrinsics.cx) == (520.0, 515.0, 31.0)
    before = (d.stamp(d.OUSTER, 2) - bag_start_ns) / 1e9 + 1e-3
    cap = open_capture(bag, recording=OPTIONS.model_copy(update={"end_s": before}))
    front = next(c for c in cap.cameras if c.sensor_id == "cam_front")
    assert (front.intrinsics.fx, front.intrinsics.fy, front.intrinsics.cx) == (500.0, 510.0, 32.0)
