"""scale-lidar-toolkit's recommended folder as a capture, checked against scale-lidar-io.

The folder is built here in the toolkit's documented form (``scale_format/README.md``: 1.ply,
poses/1.json {heading [w,x,y,z], position}, cameras/<cam>/{1.jpg, intrinsics.json,
extrinsics.json}); scale-lidar-io's own ``LidarScene`` then builds the same scene the way the
toolkit's example does (points in device coordinates, frame pose applied, camera ``pose`` on the
rig), and our converted world points and camera poses must match it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from plyfile import PlyData, PlyElement  # type: ignore[import-untyped]
from pyquaternion import Quaternion  # type: ignore[import-untyped]

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.options import ConvertOptions
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.errors import InputError
from sfs_kit.models import CameraSensor, LidarSensor, RadarSensor, Scene

from .conftest import ROOT, jpeg

HEADINGS = [[0.9223154, 0.0101722, 0.0203772, -0.3857663], [0.9, 0.1, 0.0, 0.4243],
            [1.0, 0.0, 0.0, 0.0]]
CAMERA_HEADING = [0.7075208842461583, -0.7066467485074057, -0.007058393650468786,
                  -0.0038406065302718445]
CAMERA_POSITION = [0.0087, 0.4675, 1.8139]


def _unit(q: list[float]) -> list[float]:
    return list(np.asarray(q) / np.linalg.norm(q))


def build_scale_folder(root: Path, *, names: tuple[str, ...] = ("1", "2", "3")) -> Path:
    rng = np.random.default_rng(11)
    for sub in ("pointcloud", "poses", "cameras/front_camera", "radar_points"):
        (root / sub).mkdir(parents=True)
    for k, name in enumerate(names):
        vertex = np.zeros(30, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"),
                                     ("green", "u1"), ("blue", "u1")])
        for axis in "xyz":
            vertex[axis] = rng.uniform(-20, 20, 30)
        for channel in ("red", "green", "blue"):
            vertex[channel] = rng.integers(0, 256, 30)
        PlyData([PlyElement.describe(vertex, "vertex")]).write(str(root / "pointcloud" /
                                                                   f"{name}.ply"))
        heading = _unit(HEADINGS[k])
        position = [0.5 + 2.0 * k, 0.55, 0.0088]
        document: dict[str, object] = {"heading": heading, "position": position}
        if k == 2:  # the object form the issue names: {w,x,y,z} and {x,y,z}
            document = {"heading": dict(zip("wxyz", heading, strict=True)),
                        "position": dict(zip("xyz", position, strict=True))}
        (root / "poses" / f"{name}.json").write_text(json.dumps(document))
        (root / "cameras" / "front_camera" / f"{name}.jpg").write_bytes(jpeg(32, 24, 40 + k))
        (root / "radar_points" / f"{name}.txt").write_text("1.0, 2.0, 0.5, 0.1, 0.0, 0.0, 1\n")
    cam = root / "cameras" / "front_camera"
    (cam / "intrinsics.json").write_text(json.dumps({"fx": 30.5, "fy": 30.4, "cx": 16.2,
                                                      "cy": 12.1}))
    (cam / "extrinsics.json").write_text(json.dumps({"heading": CAMERA_HEADING,
                                                      "position": CAMERA_POSITION}))
    return root


def _scale_lidar_io_scene(root: Path, names: tuple[str, ...],
                          monkeypatch: pytest.MonkeyPatch) -> object:
    """The toolkit example's own steps (scale_format/scale-example.py), run by scale-lidar-io."""
    oracles = str(ROOT / "tests" / "codecs")  # the stand-ins that let scale-lidar-io import
    if oracles not in sys.path:
        monkeypatch.syspath_prepend(oracles)
    from frame_json_oracles import import_oracles, numpy1_shim

    lidar_io, _ = import_oracles()
    numpy1_shim(monkeypatch)  # Transform.from_Rt calls np.mat, gone in NumPy 2
    scene = lidar_io.LidarScene()
    transform = lidar_io.Transform
    cam = root / "cameras" / "front_camera"
    extr = json.loads((cam / "extrinsics.json").read_text())
    intr = json.loads((cam / "intrinsics.json").read_text())
    scene.get_camera("front_camera").calibrate(
        pose=transform.from_Rt(R=Quaternion(np.array(extr["heading"])),
                               t=np.array(extr["position"])),
        K=np.array([[intr["fx"], 0, intr["cx"]], [0, intr["fy"], intr["cy"]], [0, 0, 1]]))
    for name in names:
        ply = PlyData.read(str(root / "pointcloud" / f"{name}.ply"))["vertex"]
        pose = json.loads((root / "poses" / f"{name}.json").read_text())
        heading, position = pose["heading"], pose["position"]
        if isinstance(heading, dict):
            heading = [heading[k] for k in "wxyz"]
            position = [position[k] for k in "xyz"]
        frame = scene.get_frame(name)
        # scale-lidar-io 1.2.5 starts a frame with 5 point columns but add_points makes 6
        frame.points = np.zeros((0, 6))
        frame.add_points(np.c_[ply["x"], ply["y"], ply["z"]].astype(np.float64))
        scene.get_frame(name).apply_transform(
            transform.from_Rt(R=Quaternion(np.array(heading)), t=position))
    return scene


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scale-lidar-io under NumPy 2
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_scale_folder_converts_like_scale_lidar_io_builds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ("1", "2", "3")
    root = build_scale_folder(tmp_path / "scale_format", names=names)
    result = convert_capture(root, tmp_path / "o.sfs", format="sfs",
                             options=ConvertOptions(frame_rate_hz=10.0))
    assert f"{root}: 3 frames in name order, 100 ms apart (declared frame rate 10 Hz)." \
        in result.notes
    assert any("3 radar file(s) for 3 frame(s) became radar 'radar'" in n  # test_scale_radar.py
               for n in result.notes)
    assert any("give no image size; 32x24 was taken from its first image" in n
               for n in result.notes)
    ours = Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))
    lidar, camera, radar = ours.sensors
    assert isinstance(lidar, LidarSensor)
    assert isinstance(camera, CameraSensor)
    assert isinstance(radar, RadarSensor)
    assert [f.timestamp for f in lidar.frames] == [0, 100_000, 200_000]
    theirs = _scale_lidar_io_scene(root, names, monkeypatch)
    for k, name in enumerate(names):
        frame = theirs.get_frame(name)  # type: ignore[attr-defined]
        np.testing.assert_allclose(lidar.frames[k].points.positions,
                                   frame.get_world_points()[:, :3], atol=2e-5)
        ply = PlyData.read(str(root / "pointcloud" / f"{name}.ply"))["vertex"]
        colours = lidar.frames[k].points.colors
        assert colours is not None
        assert np.array_equal(colours, np.c_[ply["red"], ply["green"], ply["blue"]])
        world_camera = frame.transform @ theirs.get_camera("front_camera").pose  # type: ignore[attr-defined]
        ours_pose = np.asarray(camera.poses.values[k])
        np.testing.assert_allclose(ours_pose[:3], np.asarray(world_camera)[:3, 3], atol=1e-9)
        q = Quaternion(matrix=np.asarray(world_camera)[:3, :3], atol=1e-6)
        theirs_xyzw = np.array([q.x, q.y, q.z, q.w]) * np.sign(q.w)
        np.testing.assert_allclose(ours_pose[3:] * np.sign(ours_pose[6]), theirs_xyzw, atol=1e-6)
    assert (camera.intrinsics.width, camera.intrinsics.height) == (32, 24)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene

        assert parse_and_validate_scene(read_file(str(tmp_path / "o.sfs"))).success is True


def test_frame_numbers_need_a_declared_rate(tmp_path: Path) -> None:
    root = build_scale_folder(tmp_path / "s")
    with pytest.raises(InputError, match=r"frame names such as '1\.ply' are frame numbers, not "
                                         r"time stamps; declare the frame rate \(--frame-rate") \
            as caught:
        open_capture(root)
    assert caught.value.field == "frame_rate_hz"


def test_epoch_time_stamp_names_give_the_times(tmp_path: Path) -> None:
    names = ("1700000000100000", "1700000000200000", "1700000000300000")
    capture = open_capture(build_scale_folder(tmp_path / "s", names=names))
    assert capture.layout == "scale_toolkit"
    assert [f.timestamp_us for f in capture.lidars[0].frames] == [int(n) for n in names]
    assert [im.timestamp_us for im in capture.cameras[0].images] == [int(n) for n in names]
    seconds = open_capture(build_scale_folder(tmp_path / "t", names=("1700000000.5",
                                                                      "1700000001", "1700000002")))
    assert [f.timestamp_us for f in seconds.lidars[0].frames] == [
        1_700_000_000_500_000, 1_700_000_001_000_000, 1_700_000_002_000_000]


def test_a_frame_without_its_pose_is_named(tmp_path: Path) -> None:
    root = build_scale_folder(tmp_path / "s")
    (root / "poses" / "2.json").unlink()
    with pytest.raises(InputError, match=r"2\.json: missing; poses/ holds one heading/position "
                                         r"JSON \(or YAML\) per frame and frame 2\.ply has none"):
        open_capture(root, frame_rate_hz=10)


@pytest.mark.parametrize(("document", "match"), [
    ({"heading": [1, 0, 0], "position": [0, 0, 0]}, r"'heading' must be a list of 4 numbers"),
    ({"heading": [2, 0, 0, 0], "position": [0, 0, 0]}, r"has norm 2, not a unit quaternion"),
    ({"heading": {"w": 1, "x": 0, "y": 0}, "position": [0, 0, 0]}, r"'heading' has no 'z'"),
    ({"position": [0, 0, 0]}, r"the pose has no 'heading'"),
    ({"heading": [1, 0, 0, 0], "position": [0, "a", 0]}, r"position\.y = 'a' is not a finite"),
])
def test_bad_pose_documents_name_the_key(tmp_path: Path, document: dict[str, object],
                                         match: str) -> None:
    root = build_scale_folder(tmp_path / "s")
    (root / "cameras" / "front_camera" / "extrinsics.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match=match) as caught:
        open_capture(root, frame_rate_hz=10)
    assert caught.value.source == str(root / "cameras" / "front_camera" / "extrinsics.json")


def test_image_without_its_frame_is_named(tmp_path: Path) -> None:
    root = build_scale_folder(tmp_path / "s")
    (root / "cameras" / "front_camera" / "9.jpg").write_bytes(jpeg(32, 24))
    with pytest.raises(InputError, match=r"9\.jpg: no point cloud pointcloud/9\.\* for this "
                                         r"image"):
        open_capture(root, frame_rate_hz=10)


def test_cli_convert_takes_the_frame_rate(tmp_path: Path) -> None:
    root = build_scale_folder(tmp_path / "s")
    out = tmp_path / "o.sfs"
    done = subprocess.run(
        [sys.executable, "-m", "sfs_kit", "convert", str(root), "-o", str(out), "--frame-rate", "5",
         "--json"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["frame_count"] == 3
    lidar = Scene.model_validate(read_sfs_dict(out)).sensors[0]
    assert isinstance(lidar, LidarSensor)
    assert [f.timestamp for f in lidar.frames] == [0, 200_000, 400_000]


def _as_yaml_twin(root: Path) -> None:
    """The toolkit's older example data: poses/N.yaml, extrinsics.yaml, intrinsics.yaml with
    one-element lists (``fx: [1970.0131]``, as its example reads ``intrinsic['fx'][0]``)."""
    import yaml

    for path in [*(root / "poses").glob("*.json"), root / "cameras/front_camera/extrinsics.json"]:
        path.with_suffix(".yaml").write_text(yaml.safe_dump(json.loads(path.read_text())))
        path.unlink()
    intrinsics = root / "cameras" / "front_camera" / "intrinsics.json"
    listed = {k: [v] for k, v in json.loads(intrinsics.read_text()).items()}
    intrinsics.with_suffix(".yaml").write_text(yaml.safe_dump(listed))
    intrinsics.unlink()


def test_the_toolkits_yaml_twins_convert_like_the_json_files(tmp_path: Path) -> None:
    json_root = build_scale_folder(tmp_path / "json")
    yaml_root = build_scale_folder(tmp_path / "yaml")
    _as_yaml_twin(yaml_root)
    assert not list(yaml_root.rglob("*.json"))
    options = ConvertOptions(frame_rate_hz=10.0)
    convert_capture(json_root, tmp_path / "j.sfs", format="sfs", options=options)
    convert_capture(yaml_root, tmp_path / "y.sfs", format="sfs", options=options)
    from_json = Scene.model_validate(read_sfs_dict(tmp_path / "j.sfs"))
    from_yaml = Scene.model_validate(read_sfs_dict(tmp_path / "y.sfs"))
    for a, b in zip(from_json.sensors, from_yaml.sensors, strict=True):
        assert isinstance(a, LidarSensor | CameraSensor | RadarSensor)
        assert isinstance(b, LidarSensor | CameraSensor | RadarSensor)
        assert np.array_equal(np.asarray(a.poses.values), np.asarray(b.poses.values))
    lidar_j, camera_j, _ = from_json.sensors
    lidar_y, camera_y, _ = from_yaml.sensors
    assert isinstance(camera_j, CameraSensor)
    assert isinstance(camera_y, CameraSensor)
    assert camera_y.intrinsics == camera_j.intrinsics
    assert isinstance(lidar_j, LidarSensor)
    assert isinstance(lidar_y, LidarSensor)
    assert np.array_equal(lidar_y.frames[1].points.positions, lidar_j.frames[1].points.positions)


def test_a_bad_yaml_pose_names_its_line(tmp_path: Path) -> None:
    root = build_scale_folder(tmp_path / "s")
    _as_yaml_twin(root)
    (root / "poses" / "2.yaml").write_text("heading: [1, 0, 0, 0]\nposition: [0, 0\n")
    with pytest.raises(InputError, match=r"2\.yaml.*not valid YAML") as caught:
        open_capture(root, frame_rate_hz=10)
    assert caught.value.line is not None


def test_files_outside_the_folder_are_refused_unless_allowed(tmp_path: Path) -> None:
    root = build_scale_folder(tmp_path / "s")
    elsewhere = tmp_path / "elsewhere.ply"
    (root / "pointcloud" / "2.ply").rename(elsewhere)
    (root / "pointcloud" / "2.ply").symlink_to(elsewhere)
    with pytest.raises(InputError, match=r"2\.ply: resolves to .*elsewhere\.ply, outside the "
                                         r"capture folder .*--allow-outside-capture") as caught:
        open_capture(root, frame_rate_hz=10)
    assert caught.value.field == "allow_outside_capture"
    shared = tmp_path / "shared_intrinsics.json"
    (root / "cameras" / "front_camera" / "intrinsics.json").rename(shared)
    (root / "cameras" / "front_camera" / "intrinsics.json").symlink_to(shared)
    result = convert_capture(root, tmp_path / "o.sfs", format="sfs",
                             options=ConvertOptions(frame_rate_hz=10.0, allow_outside_capture=True))
    assert any("2 file(s) read from outside the capture folder (allow_outside_capture)" in note
               and str(elsewhere) in note for note in result.notes)
