"""A recorded drive (ROS 1, ROS 2 sqlite3, MCAP) converted to .sfs, checked value by value."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import CameraTopics, RecordingOptions
from sfs_kit.codecs.frame_json import read_frame
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.models import CameraSensor, LidarSensor, Scene
from sfs_kit.models.validate import validate

from . import drive as d
from .conftest import CONTAINERS

OPTIONS = RecordingOptions(intensity_max={d.OUSTER: d.OUSTER_INTENSITY_MAX})


def _scene(path: Path) -> Scene:
    return Scene.model_validate(read_sfs_dict(path))


def _expected_points(frame: str, t_ns: int, xyz: np.ndarray) -> np.ndarray:
    m = d.world_from_ego(t_ns) @ d.ego_from(frame)
    return np.asarray(xyz, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]


def _pose_row(m: np.ndarray) -> np.ndarray:
    q = d.matrix_quat(m[:3, :3])
    return np.array([*m[:3, 3], *q])


def _same_pose(found: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(found[:3], want[:3], atol=1e-9)
    sign = 1.0 if float(np.dot(found[3:], want[3:])) >= 0 else -1.0
    np.testing.assert_allclose(found[3:], sign * want[3:], atol=1e-9)


@pytest.fixture(scope="module")
def converted(recordings: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
              ) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("converted")
    paths = {}
    for name in CONTAINERS:
        paths[name] = out / f"{name}.sfs"
        convert_capture(open_capture(recordings[name], recording=OPTIONS), paths[name],
                        format="sfs")
    return paths


@pytest.mark.parametrize("container", CONTAINERS)
def test_lidar_points_are_posed_into_the_world(converted: dict[str, Path], container: str) -> None:
    scene = _scene(converted[container])
    t0_us = d.stamp(d.OUSTER, 0) // 1000
    assert scene.time_offset == t0_us
    ouster, velodyne = scene.sensors[0], scene.sensors[1]
    assert isinstance(ouster, LidarSensor)
    assert isinstance(velodyne, LidarSensor)
    assert (ouster.id, velodyne.id) == ("sensing_lidar_top", "velodyne_points")
    for k in range(d.SWEEPS):
        t_ns = d.stamp(d.OUSTER, k)
        frame = ouster.frames[k]
        assert frame.timestamp == t_ns // 1000 - t0_us
        pts = d.ouster_points(k)
        keep = np.isfinite(pts["x"])  # the two NaN returns are dropped
        xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=1)[keep]
        want = _expected_points("os_sensor", t_ns, xyz).astype(np.float32)
        np.testing.assert_allclose(frame.points.positions, want, rtol=2e-7, atol=2e-5)
        intensity = np.rint(pts["intensity"][keep] * 255.0 / d.OUSTER_INTENSITY_MAX)
        assert frame.points.intensities is not None
        assert frame.points.intensities.tolist() == intensity.astype(np.uint8).tolist()
        assert frame.points.timestamps is not None  # Ouster t: uint32 ns from the sweep start
        want_t = t_ns // 1000 + pts["t"][keep].astype(np.int64) // 1000 - t0_us
        assert frame.points.timestamps.tolist() == want_t.tolist()
        _same_pose(ouster.poses.values[k],
                   _pose_row(d.world_from_ego(t_ns) @ d.ego_from("os_sensor")))
        tv = d.stamp(d.VELODYNE, k)
        vpts = d.velodyne_points(k)
        vframe = velodyne.frames[k]
        assert vframe.timestamp == tv // 1000 - t0_us
        vxyz = np.stack([vpts["x"], vpts["y"], vpts["z"]], axis=1)
        np.testing.assert_allclose(vframe.points.positions,
                                   _expected_points("velodyne", tv, vxyz).astype(np.float32),
                                   rtol=2e-7, atol=2e-5)
        assert vframe.points.intensities is not None  # float 0..255 (velodyne_pointcloud)
        assert vframe.points.intensities.tolist() == np.rint(vpts["intensity"]).astype(int).tolist()
        assert vframe.points.timestamps is not None  # Velodyne time: float32 s after the stamp
        vt = tv // 1000 + np.floor(np.arange(10) * 1e6 / 128).astype(np.int64) - t0_us
        assert vframe.points.timestamps.tolist() == vt.tolist()


@pytest.mark.parametrize("container", CONTAINERS)
def test_cameras_intrinsics_distortion_images_and_poses(converted: dict[str, Path],
                                                        container: str) -> None:
    scene = _scene(converted[container])
    t0_us = d.stamp(d.OUSTER, 0) // 1000
    front, left = scene.sensors[2], scene.sensors[3]
    assert isinstance(front, CameraSensor)
    assert isinstance(left, CameraSensor)
    assert (front.id, left.id) == ("cam_front", "cam_left")
    fi = front.intrinsics
    assert (fi.fx, fi.fy, fi.cx, fi.cy, fi.width, fi.height) == (500.0, 510.0, 32.0, 24.0, 64, 48)
    assert fi.distortion is not None
    assert fi.distortion.model == "brown_conrady"
    # plumb_bob [k1, k2, p1, p2, k3] -> brown_conrady k1, k2, p1, p2, k3, k4..k6, lx, ly
    assert list(fi.distortion.params) == [*d.PLUMB_BOB_D, 0.0, 0.0, 0.0, 0.0, 0.0]
    li = left.intrinsics
    assert (li.fx, li.fy, li.cx, li.cy, li.width, li.height) == (300.0, 305.0, 16.0, 12.0, 32, 24)
    assert li.distortion is not None
    assert li.distortion.model == "brown_conrady"
    assert list(li.distortion.params) == [*d.RATIONAL_D, 0.0, 0.0]
    assert front.images is not None
    assert left.images is not None
    for k in range(d.SWEEPS):
        tf_ns, tl_ns = d.stamp(d.FRONT, k), d.stamp(d.LEFT, k)
        assert front.images[k].timestamp == tf_ns // 1000 - t0_us
        assert front.images[k].content.tobytes() == d.front_jpeg(k)  # passed through unchanged
        _same_pose(front.poses.values[k], _pose_row(
            d.world_from_ego(tf_ns) @ d.ego_from("cam_front_optical_frame")))
        assert left.images[k].timestamp == tl_ns // 1000 - t0_us
        decoded = np.asarray(Image.open(io.BytesIO(left.images[k].content.tobytes())))
        assert decoded.shape == (24, 32, 3)  # rgb8 encoded once to JPEG
        assert float(np.abs(decoded.astype(int) - d.left_pixels(k)).mean()) < 4.0
        # a body-frame camera (x forward) gets the fixed rotation to the optical frame
        body = d.world_from_ego(tl_ns) @ d.ego_from("cam_left")
        optical = body.copy()
        optical[:3, :3] = body[:3, :3] @ d.BODY_FROM_OPTICAL
        _same_pose(left.poses.values[k], _pose_row(optical))


@pytest.mark.parametrize("container", CONTAINERS)
def test_converted_recording_passes_our_and_scales_validators(converted: dict[str, Path],
                                                              container: str) -> None:
    scene = _scene(converted[container])
    assert [i for i in validate(scene) if i.severity == "error"] == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene

        result = parse_and_validate_scene(read_file(str(converted[container])))
    assert result.success is True, result


def test_topics_and_frames_are_kept_in_the_metadata(converted: dict[str, Path]) -> None:
    meta = _scene(converted["ros1"]).metadata
    assert meta is not None
    assert meta["topic.sensing_lidar_top"] == d.OUSTER
    assert meta["camera_info.cam_front"] == d.FRONT_INFO
    assert meta["frame_id.cam_left"] == "cam_left"
    assert (meta["world_frame"], meta["ego_frame"], meta["time_source"]) == (
        "map", "base_link", "header.stamp")


def test_notes_say_which_camera_got_the_body_frame_rotation(recordings: dict[str, Path]) -> None:
    cap = open_capture(recordings["ros2"], recording=OPTIONS)
    assert any("cam_left" in n and "not an optical frame" in n for n in cap.notes)


def test_split_base64_frames_of_one_lidar(recordings: dict[str, Path], tmp_path: Path) -> None:
    options = RecordingOptions(lidar_topics=(d.OUSTER,),
                               intensity_max={d.OUSTER: d.OUSTER_INTENSITY_MAX})
    out = tmp_path / "frames"
    result = convert_capture(open_capture(recordings["mcap"], recording=options), out,
                             format="split_base64")
    assert result.frame_count == d.SWEEPS
    frame = read_frame(out / "frame-00002.json")  # naming by the project's frame_file_name
    assert len(frame.images) == 2
    t_ns = d.stamp(d.OUSTER, 2)
    pts = d.ouster_points(2)
    keep = np.isfinite(pts["x"])
    xyz = np.stack([pts["x"], pts["y"], pts["z"]], axis=1)[keep]
    np.testing.assert_allclose(frame.points_world, _expected_points("os_sensor", t_ns, xyz),
                               rtol=2e-7, atol=2e-5)


def test_every_and_window_select_sweeps(recordings: dict[str, Path]) -> None:
    start = (d.stamp(d.OUSTER, 1) - (d.T0_NS - 1_000_000_000)) / 1e9  # tf_static opens the bag
    options = OPTIONS.model_copy(update={"start_s": start - 1e-3, "every": 2})
    cap = open_capture(recordings["ros1"], recording=options)
    assert [f.timestamp_us for f in cap.lidars[0].frames] == [
        d.stamp(d.OUSTER, 1) // 1000, d.stamp(d.OUSTER, 3) // 1000]
    assert [im.timestamp_us for im in cap.cameras[0].images] == [
        d.stamp(d.FRONT, 1) // 1000, d.stamp(d.FRONT, 3) // 1000]
    # the second lidar keeps the sweeps nearest the kept frames, and the note says what it left
    assert [f.timestamp_us for f in cap.lidars[1].frames] == [
        d.stamp(d.VELODYNE, 1) // 1000, d.stamp(d.VELODYNE, 3) // 1000]
    assert any("'velodyne_points'" in n and "2 of its 3 sweeps" in n for n in cap.notes), cap.notes


def test_log_time_source(recordings: dict[str, Path], tmp_path: Path) -> None:
    options = OPTIONS.model_copy(update={"time_source": "log"})
    cap = open_capture(recordings["ros2"], recording=options)
    assert cap.lidars[0].frames[0].timestamp_us == (d.stamp(d.OUSTER, 0) + d.LATENCY_NS) // 1000
    assert cap.metadata["time_source"] == "log_time"
    # per-point times count from the frame's log time too: one clock for the whole scene (from
    # header.stamp, the first sweep's points would precede the scene's start)
    convert_capture(cap, tmp_path / "log.sfs", format="sfs")
    scene = _scene(tmp_path / "log.sfs")
    t0_us = scene.time_offset
    assert t0_us == (d.stamp(d.OUSTER, 0) + d.LATENCY_NS) // 1000
    frame = scene.sensors[0].frames[1]  # type: ignore[union-attr]
    log_us = (d.stamp(d.OUSTER, 1) + d.LATENCY_NS) // 1000
    finite = np.isfinite(d.ouster_points(1)["x"])
    want_t = log_us - t0_us + d.ouster_points(1)["t"][finite].astype(np.int64) // 1000
    assert frame.points.timestamps is not None
    assert frame.points.timestamps.tolist() == want_t.tolist()


def test_explicit_cameras_and_world_frame(recordings: dict[str, Path]) -> None:
    options = RecordingOptions(
        lidar_topics=(d.VELODYNE,), cameras=(CameraTopics(image=d.FRONT, info=d.FRONT_INFO),),
        world_frame="odom")
    cap = open_capture(recordings["mcap_folder"], recording=options)
    assert [lidar.sensor_id for lidar in cap.lidars] == ["velodyne_points"]
    assert [c.sensor_id for c in cap.cameras] == ["cam_front"]
    poses = cap.ego_poses
    assert poses is not None
    t = d.stamp(d.VELODYNE, 0)
    want = d.odom_from_base(t)  # odom is the world now: no map -> odom shift
    i = int(np.flatnonzero(poses.timestamps_us == t // 1000)[0])
    np.testing.assert_allclose(poses.positions_m[i], want[:3, 3], atol=1e-9)


@pytest.mark.parametrize(
    ("container", "compression"),
    [("ros1", "lz4"), ("ros1", "bz2"), ("ros2", "message"), ("mcap", "storage")],
)
def test_compressed_recordings_convert_to_the_same_scene(
    recordings: dict[str, Path], converted: dict[str, Path], tmp_path: Path, container: str,
    compression: str
) -> None:
    """Compressed chunks/messages take rosbags' reads; uncompressed ones are read in place."""
    from sfs_kit.capture.recording.bag import Bag
    from sfs_kit.models.compare import assert_models_equal

    name = "drive.bag" if container == "ros1" else "drive"
    rec = d.write_drive(tmp_path / name, container,  # type: ignore[arg-type]
                        d.DriveSpec(compression=compression))  # type: ignore[arg-type]
    with Bag(rec) as bag:
        direct = bag.direct()
        assert direct is None or direct.refs(d.OUSTER) is None  # no in-place reads
    key = "mcap_folder" if container == "mcap" else container
    with Bag(recordings[key]) as bag:
        plain = bag.direct()
        assert plain is not None
        assert len(plain.refs(d.OUSTER) or []) == d.SWEEPS
    out = tmp_path / "out.sfs"
    convert_capture(open_capture(rec, recording=OPTIONS), out, format="sfs")
    found, want = _scene(out), _scene(converted[key])
    assert found.metadata is not None
    assert want.metadata is not None
    found = found.model_copy(update={"metadata": {**found.metadata, "recording": None}})
    want = want.model_copy(update={"metadata": {**want.metadata, "recording": None}})
    assert_models_equal(found, want)


def test_end_stamped_velodyne_sweeps(tmp_path: Path) -> None:
    """ROS 1 velodyne_driver stamps a sweep by its last packet while ``time`` counts from the
    first point: with sweep_stamp end the points end at the stamp and the frame starts one sweep
    period before it, so a scene starting at the first frame holds every point."""
    bag = d.write_drive(tmp_path / "drive.bag", "ros1", d.DriveSpec(velodyne_end_stamped=True))
    options = RecordingOptions(lidar_topics=(d.VELODYNE,), sweep_stamp={d.VELODYNE: "end"},
                               image_tolerance_ms=80.0)  # the cameras follow the sweep ends
    out = tmp_path / "velodyne.sfs"
    convert_capture(open_capture(bag, recording=options), out, format="sfs")
    scene = _scene(out)
    lidar = scene.sensors[0]
    assert isinstance(lidar, LidarSensor)
    t0_us = scene.time_offset
    assert t0_us == (d.stamp(d.VELODYNE, 0) + d.VELODYNE_LAST_NS - d.PERIOD_NS) // 1000
    for k, frame in enumerate(lidar.frames):
        end_ns = d.stamp(d.VELODYNE, k) + d.VELODYNE_LAST_NS
        assert frame.timestamp + t0_us == (end_ns - d.PERIOD_NS) // 1000
        rel_us = np.floor(np.arange(10) * 1e6 / 128).astype(np.int64)
        want = end_ns // 1000 + rel_us - rel_us[-1] - t0_us
        assert frame.points.timestamps is not None
        assert frame.points.timestamps.tolist() == want.tolist()
    # taken as start-stamped, the same sweeps' points would all be 70 ms late
    late = open_capture(bag, recording=options.model_copy(update={"sweep_stamp": {}}))
    assert late.lidars[0].frames[0].timestamp_us == (d.stamp(d.VELODYNE, 0)
                                                     + d.VELODYNE_LAST_NS) // 1000
