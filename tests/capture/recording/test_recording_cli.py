"""inspect / convert / run of a recording from the command line, and capture.yaml mappings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import RecordingOptions
from sfs_kit.cli import main
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.models import LidarSensor, Scene

from . import drive as d

SCALE = ["--intensity-max", f"{d.OUSTER}={d.OUSTER_INTENSITY_MAX}"]


def test_inspect_json_lists_topics_tf_and_the_default_mapping(
    recordings: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(recordings["mcap"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    topics = {t["topic"]: t for t in report["topics"]}
    assert topics[d.OUSTER]["type"] == "sensor_msgs/msg/PointCloud2"
    assert topics[d.OUSTER]["count"] == d.SWEEPS
    assert topics[d.OUSTER]["rate_hz"] == pytest.approx(10.0)
    assert topics[d.OUSTER]["frame_id"] == "os_sensor"
    frames = {f["frame"]: f for f in report["tf"]["frames"]}
    assert frames["base_link"]["parent"] == "odom"
    assert frames["base_link"]["static"] is False
    assert frames["os_sensor"]["static"] is True
    assert report["tf"]["roots"] == ["map"]
    mapping = report["mapping"]
    assert [lidar["topic"] for lidar in mapping["lidars"]] == [d.OUSTER, d.VELODYNE]
    assert [(c["topic"], c["camera_info"]) for c in mapping["cameras"]] == [
        (d.FRONT, d.FRONT_INFO), (d.LEFT, d.LEFT_INFO)]
    assert mapping["poses"]["source"] == "tf map -> base_link"
    assert mapping["skipped"]["/diagnostics"].startswith("std_msgs/msg/String")


def test_inspect_text(recordings: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(recordings["ros1"])]) == 0
    out = capsys.readouterr().out
    assert "ROS recording (ros1)" in out
    assert "odom -> base_link  dynamic" in out
    assert f"camera cam_front: {d.FRONT} + {d.FRONT_INFO}" in out


def test_convert_with_flags_and_a_bad_flag(
    recordings: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "drive.sfs"
    code = main(["convert", str(recordings["ros2"]), "-o", str(out), "--lidar-topic", d.OUSTER,
                 "--camera-topic", f"{d.FRONT}={d.FRONT_INFO}", "--every", "2", *SCALE])
    assert code == 0
    scene = Scene.model_validate(read_sfs_dict(out))
    assert [s.id for s in scene.sensors] == ["sensing_lidar_top", "cam_front"]
    assert len(scene.sensors[0].frames) == 3  # type: ignore[union-attr]
    bad = tmp_path / "bad.sfs"
    code = main(["convert", str(recordings["ros2"]), "-o", str(bad), "--lidar-topic", "/nope"])
    assert code == 2
    assert "has no topic '/nope'" in capsys.readouterr().err
    assert not bad.exists()


def test_capture_yaml_points_at_a_recording(recordings: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "drive.bag").write_bytes(recordings["ros1"].read_bytes())
    (folder / "capture.yaml").write_text(
        "recording: drive.bag\n"
        "name: night-drive-07\n"
        "metadata: {vehicle: car-3, run: 7}\n"
        f"lidar_topics: [{d.OUSTER}]\n"
        "cameras:\n"
        f"  - {{image: {d.LEFT}, info: {d.LEFT_INFO}}}\n"
        "world_frame: odom\n"
        "time_source: log\n"
        f"intensity_max: {{{d.OUSTER}: {d.OUSTER_INTENSITY_MAX}}}\n"
    )
    cap = open_capture(folder)
    assert [lidar.sensor_id for lidar in cap.lidars] == ["sensing_lidar_top"]
    assert [c.sensor_id for c in cap.cameras] == ["cam_left"]
    assert cap.metadata["world_frame"] == "odom"
    assert cap.lidars[0].frames[0].timestamp_us == (d.stamp(d.OUSTER, 0) + d.LATENCY_NS) // 1000
    # the manifest's name and metadata reach the scene, beside what the recording says
    convert_capture(cap, tmp_path / "named.sfs", format="sfs")
    meta = read_sfs_dict(tmp_path / "named.sfs")["metadata"]
    assert (meta["capture_name"], meta["vehicle"], meta["run"]) == ("night-drive-07", "car-3", 7)
    assert meta["recording"] == "drive.bag"
    assert meta[f"topic.{cap.lidars[0].sensor_id}"] == d.OUSTER
    # flags override the manifest's keys
    cap = open_capture(folder / "capture.yaml", recording=RecordingOptions(time_source="header"))
    assert cap.lidars[0].frames[0].timestamp_us == d.stamp(d.OUSTER, 0) // 1000
    (folder / "capture.yaml").write_text("recording: ../elsewhere.bag\n")
    with pytest.raises(Exception, match="outside the manifest's folder"):
        open_capture(folder)
    (folder / "capture.yaml").write_text("recording: drive.bag\nlidar_topic: /x\n")
    with pytest.raises(Exception, match="lidar_topic"):
        open_capture(folder)


def test_run_of_a_recording_with_a_pose_topic(
    recordings: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rosbags.typesys import Stores, get_typestore

    def odometry(writer: object, store: object, write: object) -> None:
        t = get_typestore(Stores.ROS2_HUMBLE).types
        for j in range(-2, 2 * d.SWEEPS + 4):
            t_ns = d.T0_NS + j * 50_000_000
            m = d.world_from_ego(t_ns)
            q = d.matrix_quat(m[:3, :3])
            stamp = t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
            cov = np.zeros(36)
            msg = t["nav_msgs/msg/Odometry"](
                header=t["std_msgs/msg/Header"](stamp=stamp, frame_id="map"),
                child_frame_id="base_link",
                pose=t["geometry_msgs/msg/PoseWithCovariance"](
                    pose=t["geometry_msgs/msg/Pose"](
                        position=t["geometry_msgs/msg/Point"](x=m[0, 3], y=m[1, 3], z=m[2, 3]),
                        orientation=t["geometry_msgs/msg/Quaternion"](
                            x=q[0], y=q[1], z=q[2], w=q[3])),
                    covariance=cov),
                twist=t["geometry_msgs/msg/TwistWithCovariance"](
                    twist=t["geometry_msgs/msg/Twist"](
                        linear=t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
                        angular=t["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)),
                    covariance=cov))
            write("/localization/odom", "nav_msgs/msg/Odometry", t_ns, msg)  # type: ignore[operator]

    rec = d.write_drive(tmp_path / "odom_drive", "mcap",
                        d.DriveSpec(skip_topics=("/tf",), extra=odometry))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCALE_API_KEY", raising=False)
    code = main(["run", str(rec), "--out", str(tmp_path / "run"), "--pose-topic",
                 "/localization/odom", "--lidar-topic", d.OUSTER, *SCALE, "--json"])
    assert code == 0
    scene = Scene.model_validate(read_sfs_dict(next((tmp_path / "run").rglob("scene.sfs"))))
    lidar = scene.sensors[0]
    assert isinstance(lidar, LidarSensor)
    t_ns = d.stamp(d.OUSTER, 1)
    want = d.world_from_ego(t_ns) @ d.ego_from("os_sensor")
    np.testing.assert_allclose(np.asarray(lidar.poses.values[1][:3], dtype=np.float64),
                               want[:3, 3], atol=1e-9)


def test_the_readme_manifest_and_config_examples_load(tmp_path: Path) -> None:
    import re

    import yaml

    from sfs_kit import load_config
    from sfs_kit.capture.recording import RecordingManifest

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
                if b.startswith("recording:")]
    manifest = RecordingManifest.model_validate(yaml.safe_load(block))
    assert manifest.cameras[0].info == "/cam/front/camera_info"
    assert manifest.point_time["/my/lidar"].unit == "ns"
    toml = tmp_path / "sfs-kit.toml"
    toml.write_text('[recording]\nlidar_topics = ["/points"]\nevery = 2\n', encoding="utf-8")
    config = load_config(env={}, config_path=toml)
    assert config.recording == RecordingOptions(lidar_topics=("/points",), every=2)


def test_recording_settings_from_the_config_file_and_environment(
    recordings: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sfs-kit.toml's [recording] < SFS_KIT_* < flags, merged key by key, for convert and run."""
    from sfs_kit.errors import InputError
    from sfs_kit.pipeline.config import load_config, load_recording_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sfs-kit.toml").write_text(
        "[recording]\n"
        f"lidar_topics = ['{d.VELODYNE}']\n"
        "every = 2\n"
        f"intensity_max = {{'{d.OUSTER}' = {d.OUSTER_INTENSITY_MAX}}}\n"
    )
    monkeypatch.setenv("SFS_KIT_CAMERA_TOPICS", f"{d.FRONT}={d.FRONT_INFO}")
    out = tmp_path / "out.sfs"
    assert main(["convert", str(recordings["mcap"]), "-o", str(out), "--every", "1"]) == 0
    scene = Scene.model_validate(read_sfs_dict(out))
    assert [s.id for s in scene.sensors] == ["velodyne_points", "cam_front"]
    assert len(scene.sensors[0].frames) == d.SWEEPS  # type: ignore[union-attr]  # --every 1 wins
    monkeypatch.setenv("SFS_KIT_LIDAR_TOPICS", f"{d.OUSTER}, {d.VELODYNE}")
    monkeypatch.setenv("SFS_KIT_SWEEP_STAMP", f"{d.VELODYNE}=end")
    options = load_recording_settings()
    assert options is not None
    assert options.sweep_stamp == {d.VELODYNE: "end"}
    assert options.lidar_topics == (d.OUSTER, d.VELODYNE)  # the environment over the file
    assert (options.every, options.intensity_max) == (2, {d.OUSTER: d.OUSTER_INTENSITY_MAX})
    assert [(c.image, c.info) for c in options.cameras] == [(d.FRONT, d.FRONT_INFO)]
    config = load_config({"recording": RecordingOptions(every=3)})
    assert config.recording is not None
    assert (config.recording.every, config.recording.lidar_topics) == (3, options.lidar_topics)
    monkeypatch.setenv("SFS_KIT_EVERY", "zero")
    with pytest.raises(InputError, match="SFS_KIT_EVERY"):
        load_recording_settings()
    monkeypatch.setenv("SFS_KIT_EVERY", "")
    monkeypatch.setenv("SFS_KIT_INTENSITY_MAX", f"{d.OUSTER}:1000")
    with pytest.raises(InputError, match="SFS_KIT_INTENSITY_MAX"):
        load_recording_settings()
