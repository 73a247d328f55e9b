"""Manifest options for layouts users have: matrix pose files, intrinsics without an image size,
float colours on a 0..255 scale."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sfs_kit.capture import open_capture, read_capture_scene
from sfs_kit.errors import InputError
from sfs_kit.models import CameraSensor, LidarSensor

from .conftest import START_US, build_folder, jpeg


def test_matrix_pose_files_are_declared_in_the_manifest(tmp_path: Path) -> None:
    quaternion = build_folder(tmp_path / "q", camera=False)
    matrices = build_folder(tmp_path / "m", camera=False)
    lines = ["t m00 m01 m02 m03 m10 m11 m12 m13 m20 m21 m22 m23 m30 m31 m32 m33"]
    for row in (matrices / "poses.csv").read_text().splitlines()[1:]:
        t, x, y, z = row.split(",")[:4]
        lines.append(f"{t} 1 0 0 {x} 0 1 0 {y} 0 0 1 {z} 0 0 0 1")
    (matrices / "poses.txt").write_text("\n".join(lines) + "\n")
    manifest = (matrices / "capture.yaml").read_text()
    (matrices / "capture.yaml").write_text(manifest.replace(
        "poses: {file: poses.csv, time_unit: us}",
        "poses: {file: poses.txt, time_unit: us, layout: matrix}"))
    ours, theirs = read_capture_scene(matrices), read_capture_scene(quaternion)
    a, b = ours.sensors[0], theirs.sensors[0]
    assert isinstance(a, LidarSensor)
    assert isinstance(b, LidarSensor)
    assert np.array_equal(a.poses.values, b.poses.values)
    assert np.array_equal(a.frames[2].points.positions, b.frames[2].points.positions)


def test_matrix_layout_on_a_quaternion_file_names_the_problem(
    make_folder: Callable[..., Path],
) -> None:
    folder = make_folder(camera=False)
    manifest = (folder / "capture.yaml").read_text()
    (folder / "capture.yaml").write_text(manifest.replace(
        "time_unit: us}", "time_unit: us, layout: matrix}", 1))
    with pytest.raises(InputError, match=r"12 or 16"):
        open_capture(folder)


def test_intrinsics_without_image_size_take_it_from_the_images(
    make_folder: Callable[..., Path],
) -> None:
    folder = make_folder()
    (folder / "cam_intr.json").write_text(json.dumps({"fx": 30.0, "fy": 30.0, "cx": 16.0,
                                                       "cy": 12.0}))
    capture = open_capture(folder)
    assert (capture.cameras[0].intrinsics.width, capture.cameras[0].intrinsics.height) == (32, 24)
    first = sorted((folder / "cam").iterdir())[0]
    assert capture.notes == (
        f"camera 'cam': the intrinsics ({folder / 'cam_intr.json'}) give no image size; 32x24 "
        f"was taken from its first image ({first}).",)
    scene = read_capture_scene(folder)
    camera = scene.sensors[1]
    assert isinstance(camera, CameraSensor)
    assert (camera.intrinsics.width, camera.intrinsics.height) == (32, 24)


def test_images_of_another_size_still_fail_naming_the_image(
    make_folder: Callable[..., Path],
) -> None:
    folder = make_folder()
    (folder / "cam_intr.json").write_text(json.dumps({"fx": 30.0, "fy": 30.0, "cx": 16.0,
                                                       "cy": 12.0}))
    last = sorted((folder / "cam").iterdir())[-1]
    last.write_bytes(jpeg(40, 24))
    with pytest.raises(InputError, match=r"is 40x24 but camera 'cam' intrinsics") as caught:
        read_capture_scene(folder)
    assert caught.value.source == str(last)


def test_float_xyzrgb_on_a_255_scale_is_declared_with_color_max(tmp_path: Path) -> None:
    root = tmp_path / "scannet"
    root.mkdir()
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, (64, 3)).astype(np.float32)
    for k in range(2):
        xyz = rng.uniform(-3, 3, (64, 3)).astype(np.float32)
        np.c_[xyz, colours].astype("<f4").tofile(root / f"{START_US + k * 100_000}.bin")
    manifest = ("version: 1\nlidars:\n  - id: rgbd\n    files: '*.bin'\n"
                "    timestamps: {from_filename: true, unit: us}\n"
                "    columns: [x, y, z, r, g, b]\n")
    (root / "capture.yaml").write_text(manifest)
    with pytest.raises(InputError, match=r"declare color_max, e\.g\. 255"):
        read_capture_scene(root)
    (root / "capture.yaml").write_text(manifest + "    color_max: 255\n")
    lidar = read_capture_scene(root).sensors[0]
    assert isinstance(lidar, LidarSensor)
    assert lidar.frames[1].points.colors is not None
    assert np.array_equal(lidar.frames[1].points.colors, colours.astype(np.uint8))
