"""convert_capture / read_capture_scene: coordinates, time, recentring, validation, atomicity."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sfs_kit.capture import convert_capture, open_capture, read_capture_scene
from sfs_kit.codecs.frame_json import read_frame
from sfs_kit.codecs.sfs import index_sfs, read_sfs_dict
from sfs_kit.errors import InputError, OutputError, SceneValidationError
from sfs_kit.models import CameraSensor, LidarSensor, Scene
from sfs_kit.models.compare import assert_models_equal
from sfs_kit.models.validate import validate

from .conftest import SAMPLE, START_US, jpeg


def _lidar(scene: Scene) -> LidarSensor:
    sensor = scene.sensors[0]
    assert isinstance(sensor, LidarSensor)
    return sensor


def test_sample_sfs_streamed_equals_in_memory_scene(tmp_path: Path) -> None:
    out = tmp_path / "sample.sfs"
    result = convert_capture(SAMPLE, out, format="sfs")
    assert result.paths == (out,)
    assert (result.frame_count, result.point_count, result.image_count) == (5, 15000, 10)
    streamed = Scene.model_validate(read_sfs_dict(out))
    assert_models_equal(streamed, read_capture_scene(SAMPLE))
    assert [i for i in validate(streamed) if i.severity == "error"] == []
    assert not list(tmp_path.glob(".*"))  # no spool or temp file left behind


def test_sample_sfs_with_a_too_small_header_estimate_falls_back_to_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sfs_kit.capture.convert import to_sfs

    out = tmp_path / "sample.sfs"
    convert_capture(SAMPLE, out, format="sfs")
    monkeypatch.setattr(to_sfs, "_header_reserve", lambda cap, plan: 64)
    copied = tmp_path / "copied.sfs"
    convert_capture(SAMPLE, copied, format="sfs")
    data, fallback = out.read_bytes(), copied.read_bytes()
    h_in_place, h_copied = index_sfs(out).header_length, index_sfs(copied).header_length
    assert h_copied < h_in_place
    assert data[:h_in_place].rstrip(b" ") == fallback[:h_copied].rstrip(b" ")
    assert data[h_in_place:] == fallback[h_copied:]
    assert_models_equal(
        Scene.model_validate(read_sfs_dict(copied)), Scene.model_validate(read_sfs_dict(out))
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copied.sfs", "sample.sfs"]


def test_sample_sfs_passes_scale_validator(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene
    out = tmp_path / "sample.sfs"
    convert_capture(SAMPLE, out, format="sfs")
    header = out.read_bytes()[: index_sfs(out).header_length]
    assert len(header) - len(header.rstrip(b" ")) > 64  # written in place: a long space padding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = parse_and_validate_scene(read_file(str(out)))
    assert result.success is True, result


def test_time_is_normalised_to_the_first_timestamp(folder: Path) -> None:
    scene = read_capture_scene(folder)
    assert scene.time_offset == START_US
    lidar = _lidar(scene)
    assert [f.timestamp for f in lidar.frames] == [0, 100_000, 200_000]
    assert lidar.poses.timestamps.tolist() == [0, 100_000, 200_000]
    stamps = lidar.frames[1].points.timestamps
    assert stamps is not None
    assert stamps.dtype == np.uint32
    assert (int(stamps[0]), int(stamps[-1])) == (100_000, 190_000)
    camera = scene.sensors[1]
    assert [im.timestamp for im in camera.images or ()] == [10_000, 110_000, 210_000]  # type: ignore[union-attr]


def test_sensor_points_are_mapped_to_world_with_pose_and_extrinsics(folder: Path) -> None:
    scene = read_capture_scene(folder)
    lidar = _lidar(scene)
    # point 0 is at the sensor origin; the lidar is 2 m above the ego, the ego at x = 1 m * k
    for k, frame in enumerate(lidar.frames):
        np.testing.assert_allclose(frame.points.positions[0], [float(k), 0.0, 2.0], atol=1e-6)
        np.testing.assert_allclose(lidar.poses.values[k], [k, 0, 2, 0, 0, 0, 1], atol=1e-12)
    pcd = open_capture(folder).lidars[0].frames[2].load()
    np.testing.assert_allclose(
        lidar.frames[2].points.positions[5],
        np.asarray(pcd.positions_m[5], dtype=np.float64) + np.array([2.0, 0, 2.0]),
        atol=1e-5,
    )


def test_camera_pose_is_interpolated_at_the_image_time(folder: Path) -> None:
    scene = read_capture_scene(folder)
    cam = scene.sensors[1]
    assert isinstance(cam, CameraSensor)
    # image at +10 ms: ego x = 0.1 m; the camera sits 1 m ahead and 1.5 m up
    np.testing.assert_allclose(cam.poses.values[0, :3], [1.1, 0.0, 1.5], atol=1e-9)


def test_intensity_scaled_by_declared_max(folder: Path) -> None:
    intens = _lidar(read_capture_scene(folder)).frames[0].points.intensities
    assert intens is not None
    assert intens.dtype == np.uint8
    assert (int(intens[0]), int(intens[-1])) == (0, 255)


def test_auto_recentre_records_origin_and_keeps_precision(make_folder: Callable[..., Path]) -> None:
    folder = make_folder(pose_offset_m=(500_000.25, 4_000_000.0, 30.0))
    scene = read_capture_scene(folder)
    assert scene.metadata is not None
    assert scene.metadata["sfs_kit"]["origin_offset"] == [500_000.0, 4_000_000.0, 32.0]
    lidar = _lidar(scene)
    np.testing.assert_allclose(lidar.frames[1].points.positions[0], [1.25, 0.0, 0.0], atol=1e-6)
    plain = read_capture_scene(folder, recentre=False)
    assert plain.metadata is not None
    assert "origin_offset" not in plain.metadata["sfs_kit"]
    assert any(i.code == "V-O1" for i in validate(plain))


def test_no_recentre_below_threshold(folder: Path) -> None:
    assert convert_capture(folder, folder.parent / "o.sfs", format="sfs").origin_offset_m is None
    forced = convert_capture(folder, folder.parent / "f.sfs", format="sfs", recentre=True)
    assert forced.origin_offset_m == (0.0, 0.0, 2.0)


def test_downsample_and_budget(make_folder: Callable[..., Path]) -> None:
    folder = make_folder(points=400, camera=False)
    full = read_capture_scene(folder)
    small = read_capture_scene(folder, max_points_per_frame=100)
    voxel = read_capture_scene(folder, voxel_size_m=5.0)
    assert len(_lidar(full).frames[0].points.positions) == 400
    assert len(_lidar(small).frames[0].points.positions) == 100
    n_voxel = len(_lidar(voxel).frames[0].points.positions)
    assert 10 < n_voxel < 400
    pts = _lidar(small).frames[0].points
    assert pts.intensities is not None
    assert len(pts.intensities) == 100


def test_split_base64_frames_match_the_sfs_scene(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    result = convert_capture(folder, out, format="split_base64")
    scene = read_capture_scene(folder)
    lidar = _lidar(scene)
    assert result.frame_count == 3
    assert result.image_count == 3
    for k in range(3):
        frame = read_frame(out / f"frame-{k:05d}.json")
        np.testing.assert_array_equal(frame.points_world, lidar.frames[k].points.positions)
        assert frame.timestamp_ns == (START_US + 100_000 * k) * 1000
        raw = json.loads((out / f"frame-{k:05d}.json").read_text())
        url = raw["images"][0]["image_url"]
        assert url == f"images/cam/{k:05d}.jpg"
        assert (out / url).read_bytes() == (
            folder / "cam" / f"{START_US + 100_000 * k + 10_000}.jpg"
        ).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cap", "frames"])


def test_split_base64_refuses_a_non_empty_folder(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(OutputError, match=r"Output folder '.*busy' exists and is not empty; "
                                          r"choose a new one\."):
        convert_capture(folder, out, format="split_base64")


def test_image_size_disagreeing_with_intrinsics_writes_nothing(
    folder: Path, tmp_path: Path
) -> None:
    bad = sorted((folder / "cam").glob("*.jpg"))[1]
    bad.write_bytes(jpeg(40, 24))
    out = tmp_path / "o.sfs"
    with pytest.raises(
        InputError, match=r"is 40x24 but camera 'cam' intrinsics .* say 32x24 \(width differs\)"
    ) as info:
        convert_capture(folder, out, format="sfs")
    assert info.value.field == "width"
    assert info.value.source == str(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap"]  # no output, no spool
    with pytest.raises(InputError, match="width differs"):
        convert_capture(folder, tmp_path / "frames", format="split_base64")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap"]


def test_frame_outside_the_pose_span_is_an_error_naming_it(folder: Path, tmp_path: Path) -> None:
    lines = (folder / "poses.csv").read_text().splitlines()
    (folder / "poses.csv").write_text("\n".join(lines[:-3]) + "\n")  # poses end at +150 ms
    with pytest.raises(
        InputError, match=r"lidar 'lidar' frame 2 \(.*002\.pcd\) at 1700000000200000 us has no pose"
    ):
        convert_capture(folder, tmp_path / "o.sfs", format="sfs")
    assert not (tmp_path / "o.sfs").exists()


def test_pose_tolerance_uses_the_end_pose(make_folder: Callable[..., Path]) -> None:
    folder = make_folder(manifest_extra="")
    lines = (folder / "poses.csv").read_text().splitlines()
    (folder / "poses.csv").write_text("\n".join(lines[:-3]) + "\n")  # last pose at +150 ms
    text = (
        (folder / "capture.yaml")
        .read_text()
        .replace(
            "poses: {file: poses.csv, time_unit: us}",
            "poses: {file: poses.csv, time_unit: us, tolerance_us: 60000}",
        )
    )
    (folder / "capture.yaml").write_text(text)
    scene = read_capture_scene(folder)
    np.testing.assert_allclose(_lidar(scene).poses.values[2, :3], [1.5, 0, 2], atol=1e-12)


def test_skew_cannot_be_written_to_sfs(folder: Path, tmp_path: Path) -> None:
    (folder / "cam_intr.json").write_text(
        json.dumps(
            {
                "camera_matrix": [[30.0, 0.5, 16.0], [0.0, 30.0, 12.0], [0.0, 0.0, 1.0]],
                "width": 32,
                "height": 24,
            }
        )
    )
    with pytest.raises(InputError, match=r"has skew 0\.5; SFS 1\.0 cannot express skew"):
        convert_capture(folder, tmp_path / "o.sfs", format="sfs")


def test_invalid_scene_raises_with_issues_and_writes_nothing(
    make_folder: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_folder(camera=False)
    # frames 1 ms apart: 1000 fps breaks V-T4 (rate above 100 fps)
    (folder / "lidar" / "ts.txt").write_text("".join(f"{START_US + k * 1000}\n" for k in range(3)))
    with pytest.raises(
        SceneValidationError, match=r"invalid \(1 error\(s\), first: .*V-T4"
    ) as info:
        convert_capture(folder, tmp_path / "o.sfs", format="sfs")
    assert [i.code for i in info.value.issues] == ["V-T4"]  # type: ignore[attr-defined]
    assert not (tmp_path / "o.sfs").exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_point_times_before_the_scene_start_are_an_error(
    make_folder: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_folder(camera=False)
    text = (folder / "capture.yaml").read_text()
    (folder / "capture.yaml").write_text(text.replace("reference: frame", "reference: absolute"))
    with pytest.raises(
        InputError,
        match=r"per-point times span \[-1700000000000000, .* must lie in \[0, 4294967295\]",
    ):
        convert_capture(folder, tmp_path / "o.sfs", format="sfs")


def test_per_point_time_before_frame_time_is_reported(
    make_folder: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_folder(camera=False)
    text = (folder / "capture.yaml").read_text()
    (folder / "capture.yaml").write_text(text.replace("{unit: s, ref", "{unit: ms, ref"))
    # times 0..0.09 read as ms: inside the frame, valid; now shift the frames 1 ms later
    stamps = [START_US + 1000 + k * 100_000 for k in range(3)]
    (folder / "lidar" / "ts.txt").write_text("".join(f"{t}\n" for t in stamps))
    scene = read_capture_scene(folder)
    stamps_0 = _lidar(scene).frames[0].points.timestamps
    assert stamps_0 is not None
    assert int(stamps_0.min()) == 0


def test_memory_grows_with_one_frame_not_the_capture(
    make_folder: Callable[..., Path], tmp_path: Path
) -> None:
    peaks = []
    for frames in (4, 16):
        folder = make_folder(frames=frames, points=20_000, camera=False, point_time=False)
        tracemalloc.start()
        convert_capture(folder, tmp_path / f"{frames}.sfs", format="sfs")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.3 * peaks[0], peaks


def test_unknown_format_is_refused(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="format must be 'sfs' or 'split_base64', got 'las'"):
        convert_capture(folder, tmp_path / "x", format="las")  # type: ignore[arg-type]


def test_output_paths_are_checked_before_reading_the_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sfs_kit.capture import convert as convert_module

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the capture was read before the output path was checked")

    monkeypatch.setattr(convert_module, "_as_capture", no_reading)
    missing = tmp_path / "nowhere"
    with pytest.raises(OutputError, match=r"Output file '.*x.sfs' cannot be written: its folder "
                                          r"'.*nowhere' does not exist"):
        convert_capture(SAMPLE, missing / "x.sfs", format="sfs")
    with pytest.raises(OutputError, match=r"Output file '.*' is an existing folder"):
        convert_capture(SAMPLE, tmp_path, format="sfs")
    with pytest.raises(OutputError, match=r"Output folder '.*frames' cannot be written: its "
                                          r"folder '.*nowhere' does not exist"):
        convert_capture(SAMPLE, missing / "frames", format="split_base64")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"Output folder '.*file' is an existing file"):
        convert_capture(SAMPLE, tmp_path / "file", format="split_base64")
    assert not missing.exists()


def test_frames_into_an_empty_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    out.mkdir()
    result = convert_capture(SAMPLE, out, format="split_base64")
    assert result.frame_count == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def _nan_rows(folder: Path) -> None:
    """Frame 1 of the folder's lidar gets 3 NaN rows and 1 inf row (an organised cloud)."""
    from sfs_kit.readers import read_point_cloud, write_pcd

    path = folder / "lidar" / "001.pcd"
    cloud = read_point_cloud(path)
    positions = cloud.positions.copy()
    positions[[2, 5, 7]] = np.nan
    positions[9, 1] = np.inf
    write_pcd(path, dataclasses.replace(cloud, positions=positions))


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_nonfinite_points_are_dropped_with_a_note(
    make_folder: Callable[..., Path], tmp_path: Path, fmt: str
) -> None:
    folder = make_folder(camera=False)
    clean = convert_capture(folder, tmp_path / f"clean.{fmt}", format=fmt)  # type: ignore[arg-type]
    _nan_rows(folder)
    result = convert_capture(folder, tmp_path / f"o.{fmt}", format=fmt)  # type: ignore[arg-type]
    assert result.point_count == clean.point_count - 4
    assert list(result.notes) == [
        "lidar 'lidar': dropped 4 point(s) with NaN/inf positions in 1 frame(s) (frame 1: 4); "
        "keep_nonfinite=True (--keep-nonfinite) refuses such frames instead."
    ]
    assert [i for i in result.issues if i.severity == "error"] == []
    if fmt == "sfs":
        scene = Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))
        frame = _lidar(scene).frames[1]
        assert np.isfinite(frame.points.positions).all()
        stamps = frame.points.timestamps
        intensities = frame.points.intensities
        assert stamps is not None
        assert intensities is not None
        assert stamps.shape == intensities.shape == (frame.points.positions.shape[0],)


def test_keep_nonfinite_refuses_the_frame(
    make_folder: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_folder(camera=False)
    _nan_rows(folder)
    with pytest.raises(SceneValidationError, match=r"V-A7") as caught:
        convert_capture(folder, tmp_path / "o.sfs", format="sfs", keep_nonfinite=True)
    assert any(i.code == "V-A7" for i in caught.value.issues)  # type: ignore[attr-defined]
    assert not (tmp_path / "o.sfs").exists()
    scene = read_capture_scene(folder)  # the in-memory path drops them too
    assert np.isfinite(_lidar(scene).frames[1].points.positions).all()


def test_pcd_viewpoint_is_not_applied_but_noted(
    make_folder: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_folder(camera=False)
    clean = Scene.model_validate(read_capture_scene(folder).to_sfs_dict())
    for name in ("001.pcd", "002.pcd"):
        path = folder / "lidar" / name
        data = path.read_bytes()
        assert b"VIEWPOINT 0 0 0 1 0 0 0\n" in data
        path.write_bytes(data.replace(b"VIEWPOINT 0 0 0 1 0 0 0\n", b"VIEWPOINT 5 0 0 0 0 0 1\n"))
    result = convert_capture(folder, tmp_path / "o.sfs", format="sfs")
    assert list(result.notes) == [
        "lidar 'lidar': 2 frame(s) have a non-identity PCD VIEWPOINT (frame 1: [5.0, 0.0, 0.0, "
        "0.0, 0.0, 1.0, 0.0] as [tx, ty, tz, qx, qy, qz, qw]); it is not applied (PCL keeps it as "
        "metadata beside the points): check the manifest's frame and extrinsics for this lidar."
    ]
    scene = Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))
    for k in range(3):  # the points are exactly where they were without the viewpoint
        assert np.array_equal(_lidar(scene).frames[k].points.positions,
                              _lidar(clean).frames[k].points.positions)
