"""Frame JSON against Scale's own code: the debug reader reads ours; we read legacy ``to_json``."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from frame_json_oracles import debug_read, import_oracles, numpy1_shim
from test_frame_json import make_frame, make_image

from sfs_kit.codecs.frame_json import FrameImage, LidarFrameData, decode_frame, encode_frame

pytestmark = pytest.mark.filterwarnings(
    # scale-lidar-io's Transform predates NumPy 2's __array__(copy=...) protocol.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def quat_to_matrix(q_xyzw: tuple[float, float, float, float]) -> np.ndarray:
    x, y, z, w = q_xyzw
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def camera_frames() -> list[LidarFrameData]:
    angle = 0.3
    heading = (0.0, 0.0, math.sin(angle / 2), math.cos(angle / 2))
    cams = (
        make_image(image_url="https://img.invalid/cam0.jpg"),
        make_image(
            image_url="https://img.invalid/cam1.jpg",
            camera_model="fisheye",
            position_m=(-3.0, 0.5, 2.0),
            heading_quat_xyzw=(0.5, -0.5, 0.5, -0.5),
            k4=0.25,
            scale_factor=2.0,
            skew=0.125,
        ),
    )
    return [
        make_frame(n=50, images=cams),
        make_frame(n=7, device_heading_quat_xyzw=heading, images=cams, intensities=None),
    ]


def test_debug_reader_decodes_our_frames_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = camera_frames()
    encoded = [encode_frame(f) for f in frames]
    images = {im.image_url: b"\xff\xd8\xff\xe0 not really a jpeg" for im in frames[0].images}
    scene, decoded = debug_read(encoded, tmp_path, monkeypatch, images=images)
    for index, frame in enumerate(frames):
        n = len(frame.points_world)
        intensities = np.zeros(n, np.float32) if frame.intensities is None else frame.intensities
        expected = np.hstack([frame.points_world, intensities.reshape(-1, 1)])
        assert decoded[index].dtype == np.float32
        assert decoded[index].tobytes() == expected.astype(np.float32).tobytes()

        theirs = scene.get_frame(index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            transform = np.array(theirs.transform.matrix, dtype=np.float64)
            world = np.asarray(theirs.get_world_points())[:, :3]
        assert tuple(transform[:3, 3]) == frame.device_position_m  # read by key order, exact
        np.testing.assert_allclose(
            transform[:3, :3], quat_to_matrix(frame.device_heading_quat_xyzw), atol=1e-12
        )
        np.testing.assert_allclose(world, frame.points_world, atol=1e-3)


def test_debug_reader_calibrates_cameras_from_our_image_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = camera_frames()[:1]
    images = {im.image_url: b"\xff\xd8\xff" for im in frames[0].images}
    scene, _ = debug_read([encode_frame(f) for f in frames], tmp_path, monkeypatch, images=images)
    device = np.array(scene.get_frame(0).transform.matrix, dtype=np.float64)
    for index, ours in enumerate(frames[0].images):
        camera = scene.get_camera(index)
        assert camera.model == ours.camera_model
        assert (camera.fx, camera.fy, camera.cx, camera.cy) == (ours.fx, ours.fy, ours.cx, ours.cy)
        assert list(camera.D) == [ours.k1, ours.k2, ours.p1, ours.p2, ours.k3, ours.k4]
        assert (camera.skew, camera.scale_factor) == (ours.skew, ours.scale_factor)
        world = device @ np.array(camera.pose.matrix, dtype=np.float64)
        np.testing.assert_allclose(world[:3, 3], ours.position_m, atol=1e-9)
        np.testing.assert_allclose(world[:3, :3], quat_to_matrix(ours.heading_quat_xyzw), atol=1e-9)
        written = tmp_path / ".cache" / "task" / f"camera-{index}-0.jpg"
        assert written.read_bytes() == b"\xff\xd8\xff"


def legacy_scene_frame(monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, np.ndarray]]:
    """One frame written by scale-lidar-io 1.2.5's ``LidarFrame.to_json``, with its inputs."""
    lidar_io, _ = import_oracles()
    numpy1_shim(monkeypatch)
    rng = np.random.default_rng(7)
    n = 40
    xyz = rng.normal(0.0, 20.0, (n, 3))
    intensity = rng.random(n)
    stamps = rng.integers(0, 10**9, n).astype(np.float64)
    rotation = quat_to_matrix((0.0, 0.0, math.sin(0.2), math.cos(0.2)))
    translation = np.array([12.5, -3.25, 1.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scene = lidar_io.LidarScene()
        camera = scene.get_camera("front")
        camera.calibrate(
            K=np.array([[1200.5, 0.0, 640.25], [0.0, 1201.0, 360.0], [0.0, 0.0, 1.0]]),
            D=[0.1, -0.05, 0.001, 0.002, 0.01, 0.02, 0.0, 0.0],
            model="fisheye",
        )
        frame = scene.get_frame(0)
        frame.apply_transform(lidar_io.Transform.from_Rt(rotation, translation))
        frame.points = np.zeros((0, 6))  # add_points makes 6 columns; the default is (0, 5)
        frame.add_points(np.column_stack([xyz, intensity, np.zeros(n), stamps]))
        colors = rng.integers(0, 256, (n, 3))
        frame.add_colors(colors)
        frame.get_image("front").load_file("front.jpg")
        frame.add_radar_points(
            np.array([[[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [1.5]]] * 2, dtype=object)
        )
        text = frame.to_json(base_url="https://bucket.invalid/scene")
        world = np.asarray(frame.get_world_points(), dtype=np.float64)
        cam_world = frame.transform @ camera.pose
        cam_position = np.asarray(cam_world.position, dtype=np.float64)
        cam_rotation = np.asarray(cam_world.rotation, dtype=np.float64)
    return text, {
        "world": world,
        "colors": colors,
        "rotation": rotation,
        "translation": translation,
        "cam_position": cam_position,
        "cam_rotation": cam_rotation,
    }


def test_we_read_legacy_to_json_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    text, oracle = legacy_scene_frame(monkeypatch)
    frame = decode_frame(text, source="legacy")
    world = oracle["world"]
    # to_json rounds points to 4 decimals (pandas double_precision=4); we keep what it wrote.
    np.testing.assert_allclose(frame.points_world, world[:, :3], atol=1.5e-4)
    written = json.loads(text)["points"]
    as_written = np.array([[p["x"], p["y"], p["z"]] for p in written], dtype=np.float32)
    assert frame.points_world.tobytes() == as_written.tobytes()
    assert frame.intensities is not None
    np.testing.assert_allclose(frame.intensities, world[:, 3], atol=1e-4)
    assert frame.point_timestamps_ns is not None
    assert frame.point_timestamps_ns.tolist() == world[:, 5].astype(np.uint64).tolist()
    assert frame.point_colors_rgb is not None
    assert frame.point_colors_rgb.tolist() == oracle["colors"].tolist()
    np.testing.assert_allclose(frame.device_position_m, oracle["translation"], atol=1e-9)
    np.testing.assert_allclose(
        quat_to_matrix(frame.device_heading_quat_xyzw), oracle["rotation"], atol=1e-9
    )
    (camera,) = frame.images
    assert isinstance(camera, FrameImage)
    assert camera.image_url == "https://bucket.invalid/scene/image-front-0.jpg"
    assert camera.camera_model == "fisheye"
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (1200.5, 1201.0, 640.25, 360.0)
    assert (camera.k1, camera.k2, camera.p1, camera.p2, camera.k3, camera.k4) == pytest.approx(
        (0.1, -0.05, 0.001, 0.002, 0.01, 0.02)
    )
    np.testing.assert_allclose(camera.position_m, oracle["cam_position"], atol=1e-6)
    np.testing.assert_allclose(
        quat_to_matrix(camera.heading_quat_xyzw), oracle["cam_rotation"], atol=1e-6
    )
    assert frame.radar is not None
    assert frame.radar.positions.tolist() == [[1.0, 2.0, 3.0]] * 2
    assert frame.radar.directions is not None
    assert frame.radar.directions.tolist() == [[0.0, 1.0, 0.0]] * 2
    assert frame.radar.sizes is not None
    assert frame.radar.sizes.tolist() == [1.5, 1.5]
    assert frame.timestamp_ns is None  # to_json writes no frame timestamp


def test_legacy_frame_re_encodes_as_split_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    text, _ = legacy_scene_frame(monkeypatch)
    legacy = decode_frame(text)
    ours = dataclasses.replace(legacy, timestamp_ns=1_000, point_colors_rgb=None)
    back = decode_frame(encode_frame(ours, include_point_timestamps=True))
    assert back.points_world.tobytes() == legacy.points_world.tobytes()
    assert back.images == legacy.images
