# ruff: noqa: E501  (scene dicts and messages read best on one line)
"""Scene -> frames (D21-D23): world points, poses, time, cameras, radar, atomic folder writes."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from frame_json_oracles import debug_read
from PIL import Image

from sfs_kit.codecs.frame_json import FrameFieldDroppedWarning, frames_equal, read_frame
from sfs_kit.codecs.frames_from_scene import FrameTimingWarning, scene_to_frames, write_frames
from sfs_kit.errors import InputError, SceneValidationError
from sfs_kit.models import Scene

OFFSET_US = 1_700_000_000_000_000
S = math.sqrt(0.5)
ROT_Z_90 = [0.0, 0.0, S, S]  # xyzw: +90 degrees about z


def jpeg() -> np.ndarray[Any, np.dtype[np.uint8]]:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buf, format="JPEG")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def lidar(coordinates: str = "world", *, colors: bool = False, stamps: bool = True) -> dict[str, Any]:
    frames = []
    for i, t in enumerate((0, 100_000, 200_000)):
        points: dict[str, Any] = {
            "positions": np.array([[1.0, 0.0, 0.0], [0.5, -2.0, 3.25]], np.float32) + i,
            "intensities": np.array([0, 255], np.uint8),
        }
        if stamps:
            points["timestamps"] = np.array([t, t + 10], np.uint32)
        if colors:
            points["colors"] = np.zeros((2, 3), np.uint8)
        frames.append({"timestamp": t, "points": points})
    return {
        "type": "lidar",
        "id": "lidar_top",
        "coordinates": coordinates,
        "poses": {
            "timestamps": [0, 200_000],
            "values": [[10.0, 0.0, 0.0, *ROT_Z_90], [20.0, 4.0, 0.0, *ROT_Z_90]],
        },
        "frames": frames,
    }


def camera(model: str = "fisheye", params: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "camera",
        "id": "cam_front",
        "poses": {"timestamps": [0, 200_000], "values": [[0.0, 0.0, 1.0, 0, 0, 0, 1], [2.0, 0.0, 1.0, 0, 0, 0, 1]]},
        "intrinsics": {
            "fx": 20.0, "fy": 21.0, "cx": 16.0, "cy": 12.0, "width": 32, "height": 24,
            "distortion": {"model": model, "params": params if params is not None else [0.1, 0.2, 0.3, 0.4]},
        },
        "images": [{"timestamp": t, "content": jpeg()} for t in (0, 90_000, 230_000)],
    } | extra  # fmt: skip


def radar(coordinates: str = "world") -> dict[str, Any]:
    return {
        "type": "radar",
        "id": "radar_front",
        "coordinates": coordinates,
        "poses": {"timestamps": [0], "values": [[5.0, 0.0, 0.0, *ROT_Z_90]]},
        "frames": [
            {
                "timestamp": t,
                "points": {
                    "positions": np.array([[1.0, 0.0, 0.0]], np.float32) * (1 + t / 100_000),
                    "directions": np.array([[1.0, 0.0, 0.0]], np.float32),
                    "lengths": np.array([2.5], np.float32),
                },
            }
            for t in (0, 150_000)
        ],
    }


def scene(*sensors: dict[str, Any]) -> Scene:
    return Scene.model_validate(
        {"version": "1.0", "sensors": list(sensors), "time_offset": OFFSET_US}
    )


def urls(camera_id: str, index: int) -> str:
    return f"https://bucket.invalid/{camera_id}/{index}.jpg"


def test_world_points_pose_and_time() -> None:
    frames = list(scene_to_frames(scene(lidar()), image_url_for=urls, include_point_timestamps=True))
    assert len(frames) == 3
    for i, frame in enumerate(frames):
        expected = np.array([[1.0, 0.0, 0.0], [0.5, -2.0, 3.25]], np.float32) + i
        assert frame.points_world.tobytes() == expected.tobytes()
        assert frame.timestamp_ns == (OFFSET_US + 100_000 * i) * 1000
        assert frame.device_position_m == pytest.approx((10.0 + 5 * i, 2.0 * i, 0.0), abs=1e-12)
        assert frame.device_heading_quat_xyzw == pytest.approx(tuple(ROT_Z_90), abs=1e-12)
        assert frame.intensities is not None
        assert frame.intensities.tolist() == [0.0, 1.0]
        assert frame.point_timestamps_ns is not None
        t_ns = (OFFSET_US + 100_000 * i) * 1000
        assert frame.point_timestamps_ns.tolist() == [t_ns, t_ns + 10_000]
        assert frame.images == ()
        assert frame.radar is None


def test_intensity_is_v_over_255_in_float32() -> None:
    sensor = lidar()
    sensor["frames"][0]["points"]["intensities"] = np.array([1, 128], np.uint8)
    frame = next(scene_to_frames(scene(sensor), image_url_for=urls))
    assert frame.intensities is not None
    assert frame.intensities.tolist() == [np.float32(1) / np.float32(255), np.float32(128) / np.float32(255)]


def test_ego_points_are_moved_to_world_in_float64() -> None:
    frame = list(scene_to_frames(scene(lidar("ego")), image_url_for=urls))[1]
    # pose at t=100000: translation (15, 2, 0), +90 degrees about z: (x, y) -> (-y, x)
    ego = np.array([[1.0, 0.0, 0.0], [0.5, -2.0, 3.25]]) + 1
    expected = np.column_stack([15.0 - ego[:, 1], 2.0 + ego[:, 0], ego[:, 2]]).astype(np.float32)
    np.testing.assert_allclose(frame.points_world, expected, atol=1e-5)
    assert frame.points_world.dtype == np.float32


def test_nearest_image_params_by_name_and_camera_pose() -> None:
    calls: list[tuple[str, int]] = []

    def record(camera_id: str, index: int) -> str:
        calls.append((camera_id, index))
        return urls(camera_id, index)

    frames = list(scene_to_frames(scene(lidar(), camera()), image_url_for=record))
    assert calls == [("cam_front", 0), ("cam_front", 1), ("cam_front", 2)]
    (image,) = frames[1].images
    assert image.image_url == "https://bucket.invalid/cam_front/1.jpg"
    assert image.timestamp_ns == (OFFSET_US + 90_000) * 1000
    assert image.position_m == pytest.approx((0.9, 0.0, 1.0), abs=1e-12)  # pose at the image time
    assert image.heading_quat_xyzw == (0.0, 0.0, 0.0, 1.0)
    assert image.camera_model == "fisheye"
    assert (image.k1, image.k2, image.k3, image.k4) == (0.1, 0.2, 0.3, 0.4)
    assert (image.p1, image.p2, image.xi, image.lx, image.skew, image.scale_factor) == (0, 0, 0, 0, 0, 1)
    assert (image.fx, image.fy, image.cx, image.cy) == (20.0, 21.0, 16.0, 12.0)


def test_omnidirectional_params_by_name() -> None:
    cam = camera("omnidirectional", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    (image,) = next(scene_to_frames(scene(lidar(), cam), image_url_for=urls)).images
    got = (image.k1, image.k2, image.k3, image.k4, image.p1, image.p2, image.xi, image.lx, image.ly)
    assert got == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)


def test_camera_gap_over_50_ms_warns_once() -> None:
    cam = camera()
    cam["images"] = [{"timestamp": 0, "content": jpeg()}]
    with pytest.warns(FrameTimingWarning, match=r"'cam_front'.* lidar frame 1 is 100\.0 ms away") as record:
        list(scene_to_frames(scene(lidar(), cam), image_url_for=urls))
    assert len(record) == 1


def test_colours_are_dropped_with_one_warning() -> None:
    with pytest.warns(FrameFieldDroppedWarning, match=r"point colours in 3 frame\(s\)") as record:
        list(scene_to_frames(scene(lidar(colors=True)), image_url_for=urls))
    assert len(record) == 1


@pytest.mark.parametrize("coordinates", ["world", "ego"])
def test_radar_nearest_frame_positions_and_rotated_directions(coordinates: str) -> None:
    frames = list(scene_to_frames(scene(lidar(), radar(coordinates)), image_url_for=urls))
    # lidar frames at 0, 100000, 200000; radar sweeps at 0 and 150000: the second sweep is as near
    # to frames 1 and 2 and goes into the earlier one only
    first, last, none = frames[0].radar, frames[1].radar, frames[2].radar
    assert first is not None
    assert last is not None
    assert none is None
    assert first.sizes is not None
    assert first.sizes.tolist() == [2.5]
    assert first.directions is not None
    if coordinates == "world":
        assert first.positions.tolist() == [[1.0, 0.0, 0.0]]
        assert last.positions.tolist() == [[2.5, 0.0, 0.0]]  # the frame at 150000 is nearest
        assert first.directions.tolist() == [[1.0, 0.0, 0.0]]
    else:
        np.testing.assert_allclose(first.positions, [[5.0, 1.0, 0.0]], atol=1e-6)
        np.testing.assert_allclose(last.positions, [[5.0, 2.5, 0.0]], atol=1e-6)
        np.testing.assert_allclose(first.directions, [[0.0, 1.0, 0.0]], atol=1e-6)  # no translation


def test_a_radar_sweep_goes_into_its_nearest_frame_only() -> None:
    lone = radar()
    lone["frames"] = [lone["frames"][1] | {"timestamp": 190_000}]  # one sweep, near frame 2
    frames = list(scene_to_frames(scene(lidar(), lone), image_url_for=urls))
    assert [f.radar is not None for f in frames] == [False, False, True]
    fast = radar()  # sweeps at 0, 40000, 80000, ...: each lidar frame takes its nearest one
    fast["frames"] = [{"timestamp": t, "points": {"positions": np.full((1, 3), t, np.float32)}}
                      for t in range(0, 240_000, 40_000)]
    frames = list(scene_to_frames(scene(lidar(), fast), image_url_for=urls))
    got = [None if f.radar is None else float(f.radar.positions[0, 0]) for f in frames]
    assert got == [0.0, 80_000.0, 200_000.0]


def test_is_a_lazy_generator() -> None:
    calls: list[int] = []

    def record(camera_id: str, index: int) -> str:
        calls.append(index)
        return urls(camera_id, index)

    frames = scene_to_frames(scene(lidar(), camera()), image_url_for=record)
    next(frames)
    assert calls == [0]


# --- scenes the export cannot represent ----------------------------------------------------------


def test_needs_exactly_one_lidar() -> None:
    two = lidar() | {"id": "lidar_2"}
    with pytest.raises(SceneValidationError, match=r"exactly one lidar sensor, found 2 \('lidar_top', 'lidar_2'\)"):
        next(scene_to_frames(scene(lidar(), two), image_url_for=urls))
    with pytest.raises(SceneValidationError, match=r"exactly one lidar sensor, found 0 \(none\)"):
        next(scene_to_frames(scene(camera()), image_url_for=urls))


def test_unsupported_distortion_model() -> None:
    cam = camera("ftheta", [0.0] * 5)
    with pytest.raises(SceneValidationError, match=r"Camera 'cam_front' uses distortion model 'ftheta'"):
        next(scene_to_frames(scene(lidar(), cam), image_url_for=urls))


def test_video_camera() -> None:
    video = {"timestamps": [0], "content": np.frombuffer(b"\0\0\0\x18ftypmp42", np.uint8), "fps": 10.0}
    cam = camera(images=None, video=video)
    with pytest.raises(SceneValidationError, match=r"Camera 'cam_front' holds a video; frame export needs images"):
        next(scene_to_frames(scene(lidar(), cam), image_url_for=urls))


def test_camera_without_images() -> None:
    with pytest.raises(SceneValidationError, match=r"Camera 'cam_front' has no images"):
        next(scene_to_frames(scene(lidar(), camera(images=[])), image_url_for=urls))


def test_point_timestamps_requested_but_missing() -> None:
    with pytest.raises(SceneValidationError, match=r"frame 0 has no point timestamps"):
        next(scene_to_frames(scene(lidar(stamps=False)), image_url_for=urls, include_point_timestamps=True))


def test_point_timestamps_overflow() -> None:
    sensor = lidar()
    sensor["frames"][0]["points"]["timestamps"] = np.array([0, 2**63], np.uint64)
    with pytest.raises(SceneValidationError, match=r"frame 0: point timestamps overflow uint64"):
        next(scene_to_frames(scene(sensor), image_url_for=urls, include_point_timestamps=True))


def test_radars_disagreeing_on_directions() -> None:
    other = radar() | {"id": "radar_rear"}
    for frame in other["frames"]:
        del frame["points"]["directions"]
    with pytest.raises(SceneValidationError, match=r"disagree on 'directions'"):
        next(scene_to_frames(scene(lidar(), radar(), other), image_url_for=urls))


# --- write_frames --------------------------------------------------------------------------------


def test_write_frames_writes_every_frame(tmp_path: Path) -> None:
    sc = scene(lidar(), camera(), radar())
    paths = write_frames(sc, tmp_path / "out", image_url_for=urls, include_point_timestamps=True)
    assert [p.name for p in paths] == ["frame-00000.json", "frame-00001.json", "frame-00002.json"]
    assert sorted(os.listdir(tmp_path / "out")) == [p.name for p in paths]
    expected = scene_to_frames(sc, image_url_for=urls, include_point_timestamps=True)
    for path, frame in zip(paths, expected, strict=True):
        assert frames_equal(read_frame(path), frame)


def test_write_frames_failure_midway_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")

    def bad_on_second(camera_id: str, index: int) -> str:
        return urls(camera_id, index) if index == 0 else "ftp://not-fetchable/x.jpg"

    with pytest.raises(InputError, match=r"image_url must be an http\(s\) URL") as info:
        write_frames(scene(lidar(), camera()), out, image_url_for=bad_on_second)
    assert info.value.source == str(out / "frame-00001.json")
    assert os.listdir(out) == ["keep.txt"]


def test_write_frames_with_relative_image_urls(tmp_path: Path) -> None:
    def relative(camera_id: str, index: int) -> str:
        return f"images/{camera_id}/{index:05d}.jpg"

    sc = scene(lidar(), camera())
    with pytest.raises(InputError, match=r"image_url must be an http\(s\) URL, not 'images/"):
        write_frames(sc, tmp_path / "strict", image_url_for=relative)
    paths = write_frames(
        sc, tmp_path / "out", image_url_for=relative, allow_relative_image_urls=True
    )
    assert [read_frame(p).images[0].image_url for p in paths] == [
        "images/cam_front/00000.jpg",
        "images/cam_front/00001.jpg",
        "images/cam_front/00002.jpg",
    ]


def test_frames_from_a_scene_read_back_by_scales_debug_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = scene(lidar("ego"), camera())
    paths = write_frames(sc, tmp_path / "out", image_url_for=urls)
    work = tmp_path / "work"
    work.mkdir()
    _, decoded = debug_read([p.read_bytes() for p in paths], work, monkeypatch)
    for got, frame in zip(decoded, scene_to_frames(sc, image_url_for=urls), strict=True):
        assert frame.intensities is not None
        expected = np.hstack([frame.points_world, frame.intensities.reshape(-1, 1)])
        assert got.tobytes() == expected.tobytes()
