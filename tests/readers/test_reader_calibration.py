"""Calibration reader: real OpenCV FileStorage files, JSON/YAML forms, extrinsics, every error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from reader_helpers import FIXTURES

from sfs_kit.errors import InputError
from sfs_kit.readers import describe_input, read_extrinsics, read_intrinsics
from sfs_kit.readers.calibration import load_calibration_document

OPENCV = FIXTURES / "opencv"


def test_safe_load_rejects_opencv_files_as_is() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load((OPENCV / "left_intrinsics.yml").read_text())


def test_opencv_left_intrinsics() -> None:
    cal = read_intrinsics(OPENCV / "left_intrinsics.yml")
    assert cal.fx == pytest.approx(535.915733961632)
    assert cal.fy == cal.fx
    assert (cal.cx, cal.cy) == pytest.approx((342.28315473308373, 235.57082909788173))
    assert (cal.width, cal.height) == (640, 480)
    assert cal.distortion_model == "brown_conrady"
    assert cal.distortion_params == pytest.approx(
        (-0.2663726090966068, -0.03858889892230465, 0.0017831947042852964,
         -0.0002812210044111547, 0.23839153080878486, 0, 0, 0, 0, 0))
    document = load_calibration_document(OPENCV / "left_intrinsics.yml")
    extrinsics = document["extrinsic_parameters"]
    assert isinstance(extrinsics, np.ndarray)
    assert extrinsics.shape == (13, 6)


def test_opencv_stereo_keys_selectable() -> None:
    cal = read_intrinsics(OPENCV / "intrinsics.yml", matrix_key="M1", distortion_key="D1",
                          width=640, height=480)
    assert cal.fx == pytest.approx(534.8032684505131)
    assert cal.distortion_params[:2] == pytest.approx((0.29589439552724328, -1.0354662043042675))


def test_json_fields_fisheye_and_sfs_form(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"cameras": {"front": {
        "fx": 100, "fy": 101, "cx": 50, "cy": 40, "skew": 0.5, "width": 100, "height": 80,
        "distortion_model": "equidistant", "D": [0.1, 0.2, 0.3, 0.4]}}}))
    cal = read_intrinsics(path, camera="front")
    assert (cal.fx, cal.skew, cal.distortion_model) == (100.0, 0.5, "fisheye")
    assert cal.distortion_params == (0.1, 0.2, 0.3, 0.4)
    path.write_text(json.dumps({"intrinsics": {
        "K": [[100, 0, 50], [0, 100, 40], [0, 0, 1]], "resolution": [100, 80],
        "distortion": {"model": "omnidirectional", "params": list(range(9))}}}))
    cal = read_intrinsics(path)
    assert (cal.distortion_model, len(cal.distortion_params)) == ("omnidirectional", 9)
    assert (cal.width, cal.height) == (100, 80)


def test_ros_camera_info_yaml_and_no_distortion(tmp_path: Path) -> None:
    path = tmp_path / "ost.yaml"
    path.write_text(
        "image_width: 64\nimage_height: 48\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
        "  data: [50, 0, 32, 0, 50, 24, 0, 0, 1]\ndistortion_model: plumb_bob\n"
        "distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0, 0, 0, 0, 0]\n")
    cal = read_intrinsics(path)
    assert cal.distortion_model == "brown_conrady"
    assert cal.distortion_params == (0.0,) * 10
    path.write_text("fx: 1\nfy: 1\ncx: 0\ncy: 0\nwidth: 2\nheight: 2\n")
    assert read_intrinsics(path).distortion_model == "none"
    path.write_text("fx: 1\nfy: 1\ncx: 0\ncy: 0\nwidth: 2\nheight: 2\nD: []\n")
    assert read_intrinsics(path).distortion_params == ()


def test_eight_and_fourteen_coefficients(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    base = "K: [1, 0, 0, 0, 1, 0, 0, 0, 1]\nwidth: 2\nheight: 2\n"
    path.write_text(base + "D: [1, 2, 3, 4, 5, 6, 7, 8]\n")
    assert read_intrinsics(path).distortion_params == (1, 2, 3, 4, 5, 6, 7, 8, 0, 0)
    path.write_text(base + f"D: {[1, 2, 3, 4, 5, 6, 7, 8] + [0] * 6}\n")
    assert read_intrinsics(path).distortion_params == (1, 2, 3, 4, 5, 6, 7, 8, 0, 0)


K = "K: [100, 0, 50, 0, 100, 40, 0, 0, 1]\n"
SIZE = "width: 100\nheight: 80\n"
M = "!!opencv-matrix"


@pytest.mark.parametrize(("text", "kwargs", "match"), [
    ("%YAML:1.0\nK: !!opencv-matrix [1, 2]\n", {},
     r"not valid YAML: an opencv-matrix must be a map"),
    (f"%YAML:1.0\nK: {M}\n  rows: 3\n  data: [1]\n", {},
     r"not valid YAML: an opencv-matrix needs integer rows, cols and a data list"),
    (f"%YAML:1.0\nK: {M}\n  rows: 3\n  cols: 3\n  dt: d\n  data: [1]\n", {},
     r"not valid YAML: an opencv-matrix of 3x3 has 1 data values"),
    (f"%YAML:1.0\nK: {M}\n  rows: 1\n  cols: 1\n  dt: d\n  data: [a]\n", {},
     r"not valid YAML: opencv-matrix data is not numeric"),
    ("a: [1\n", {}, r"Calibration file is not valid YAML: .*expected ',' or ']'"),
    ("a: \x07\n", {}, r"Calibration file is not valid YAML: unacceptable character"),
    ("- 1\n", {}, r"Calibration file must hold a map at the top, found list"),
    ("K:\n  rows: 3\n  cols: 3\n  data: [1]\n" + SIZE, {}, r"Matrix 'K' is malformed"),
    ("K: [[1, 2], [3]]\n" + SIZE, {}, r"'K' is not a numeric array"),
    ("fx: a\nfy: 1\ncx: 1\ncy: 1\n" + SIZE, {}, r"Calibration 'fx' must be a number, found 'a'"),
    (K + SIZE, {"camera": "left"}, r"Calibration file has no camera 'left'"),
    (K + SIZE, {"matrix_key": "M1"}, r"Calibration file has no key 'M1'"),
    ("K: [1, 2, 3, 4]\n" + SIZE, {}, r"Camera matrix 'K' must be 3x3 and finite"),
    ("K: [100, 0, 50, 0, 100, 40, 0, 0, 2]\n" + SIZE, {},
     r"Camera matrix 'K' is not of the form \[\[fx s cx\] \[0 fy cy\] \[0 0 1\]\]"),
    ("fy: 1\ncx: 1\ncy: 1\n" + SIZE, {}, r"Calibration has no camera matrix \(camera_matrix/K\) "
     r"and no 'fx'"),
    ("K: [-1, 0, 50, 0, 100, 40, 0, 0, 1]\n" + SIZE, {}, r"Intrinsic fx = -1.0 must be finite "
     r"and > 0"),
    (K + "width: -3\nheight: 80\n", {}, r"Image width 'width' = -3 must be an "
     r"integer 1..2147483647"),
    (K + SIZE, {"width": 640}, r"Image width 640 was given but the calibration says 100"),
    (K, {}, r"Calibration has no image width; pass width="),
    (K + SIZE, {"distortion_key": "D9"}, r"Calibration file has no key 'D9'"),
    (K + SIZE + "D: [.nan, 0, 0, 0]\n", {}, r"Distortion 'D' has a NaN or infinite value"),
    (K + SIZE + "distortion_model: fisheye\nD: [1, 2, 3, 4, 5]\n", {},
     r"Fisheye distortion 'D' needs 4 coefficients \(k1..k4\), found 5"),
    (K + SIZE + "D: [1, 2, 3]\n", {},
     r"OpenCV distortion 'D' has 3 coefficients; 4, 5, 8, 12 or 14 are supported"),
    (K + SIZE + "D: [1, 2, 3, 4, 5, 6, 7, 8, 0.1, 0, 0, 0]\n", {},
     r"OpenCV distortion 'D' has non-zero thin-prism/tilt terms \[\('s1', 0.1\)\]"),
    (K + SIZE + "D: [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0.2]\n", {},
     r"non-zero thin-prism/tilt terms \[\('ty', 0.2\)\]"),
    (K + SIZE + "distortion: {model: ftheta, params: [1, 2]}\n", {},
     r"Distortion model 'ftheta' takes exactly 5 params, found 2"),
    (K + SIZE + "distortion_model: mei\nD: [1, 2]\n", {},
     r"Distortion model 'mei' is not supported"),
])
def test_bad_intrinsics(tmp_path: Path, text: str, kwargs: dict[str, object], match: str
                        ) -> None:
    path = tmp_path / "cal.yml"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as caught:
        read_intrinsics(path, **kwargs)  # type: ignore[arg-type]
    assert caught.value.source == str(path)


def test_bad_json_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{")
    with pytest.raises(InputError, match=r"Calibration file is not valid JSON") as caught:
        read_intrinsics(path)
    assert caught.value.line == 1
    with pytest.raises(InputError, match=r"Cannot read calibration file '.*nope.json'"):
        read_intrinsics(tmp_path / "nope.json")


# --- extrinsics -------------------------------------------------------------------------------

ROT = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=float)  # 90 degrees about z


def test_extrinsics_direction_is_declared(tmp_path: Path) -> None:
    m = np.eye(4)
    m[:3, :3] = ROT
    m[:3, 3] = [1, 2, 3]
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"lidar": {"extrinsics": {"matrix": m.tolist()}}}))
    assert np.array_equal(read_extrinsics(path, direction="sensor_to_ego", camera="lidar"), m)
    inverse = read_extrinsics(path, direction="ego_to_sensor", camera="lidar")
    assert np.allclose(inverse @ m, np.eye(4))


def test_extrinsics_r_t_and_quaternions(tmp_path: Path) -> None:
    path = tmp_path / "e.yml"
    path.write_text(f"%YAML:1.0\nR: {M}\n  rows: 3\n  cols: 3\n  dt: d\n"
                    f"  data: {ROT.ravel().tolist()}\nT: {M}\n  rows: 3\n  cols: 1\n  dt: d\n"
                    "  data: [1, 2, 3]\n")
    got = read_extrinsics(path, direction="sensor_to_ego")
    assert np.array_equal(got[:3, :3], ROT)
    assert got[:3, 3].tolist() == [1, 2, 3]
    half = np.sqrt(0.5)
    path.write_text(f"rotation: [{half}, 0, 0, {half}]\ntranslation: [1, 2, 3]\n")
    got = read_extrinsics(path, direction="sensor_to_ego", quat_order="wxyz")
    assert np.allclose(got[:3, :3], ROT)
    path.write_text(f"rotation: {{w: {half}, x: 0, y: 0, z: {half}}}\ntranslation: [1, 2, 3]\n")
    assert np.allclose(read_extrinsics(path, direction="sensor_to_ego")[:3, :3], ROT)
    path.write_text("pose: [1, 0, 0, 5, 0, 1, 0, 6, 0, 0, 1, 7]\n")
    assert read_extrinsics(path, direction="sensor_to_ego", key="pose")[:3, 3].tolist() == \
        [5, 6, 7]


@pytest.mark.parametrize(("text", "kwargs", "match"), [
    ("matrix: [1, 0, 0]\n", {}, r"Extrinsics need a 4x4 'matrix'/'transform', or 'R'/'rotation'"),
    ("a: 1\n", {"camera": "cam"}, r"Calibration file has no sensor 'cam'"),
    ("a: 1\n", {"key": "T"}, r"Calibration file has no key 'T'"),
    ("R: [1, 0, 0, 0, 1, 0, 0, 0, 1]\nT: [1, 2]\n", {},
     r"Translation 'T' must have 3 values, found 2"),
    ("rotation: {a: 1}\nT: [1, 2, 3]\n", {}, r"Quaternion 'rotation' needs keys x, y, z, w"),
    ("rotation: [1, 0]\nT: [1, 2, 3]\n", {},
     r"Rotation 'rotation' must be 3x3 or a quaternion, found 2 values"),
    ("rotation: [1, 0, 0, 0]\nT: [1, 2, 3]\n", {},
     r"Quaternion 'rotation' is an unnamed 4-vector; pass quat_order"),
    ("quat_xyzw: [0, 0, 0, 2]\nT: [1, 2, 3]\n", {},
     r"Quaternion 'quat_xyzw' has norm 2; a unit quaternion is required"),
    ("matrix: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]\n", {},
     r"Transform 'extrinsics' last row is \[0.0, 0.0, 1.0, 1.0\], not \[0, 0, 0, 1\]"),
    ("matrix: [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n", {},
     r"Transform 'extrinsics' rotation is not orthonormal with determinant \+1"),
    ("matrix: [[-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n", {},
     r"rotation is not orthonormal with determinant \+1 .*det = -1"),
    ("matrix: [[.nan, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n", {},
     r"Transform 'extrinsics' has a NaN or infinite value"),
    ("m: [1, 2, 3]\n", {"key": "m"}, r"Transform 'm' must be 4x4 \(or 3x4\), found shape \(3,\)"),
    ("a: 1\n", {"direction": "up"}, r"direction must be 'sensor_to_ego' or 'ego_to_sensor'"),
])
def test_bad_extrinsics(tmp_path: Path, text: str, kwargs: dict[str, object], match: str
                        ) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(text)
    direction = kwargs.pop("direction", "sensor_to_ego")
    with pytest.raises(InputError, match=match):
        read_extrinsics(path, direction=direction, **kwargs)  # type: ignore[arg-type]


# --- describe_input -------------------------------------------------------------------------


def test_describe_inputs(tmp_path: Path) -> None:
    info = describe_input(FIXTURES / "laspy" / "simple.las")
    assert info["kind"] == "point_cloud"
    assert info["points"] == 1065
    bounds = info["bounds"]
    assert isinstance(bounds, dict)
    assert bounds["min"][0] == pytest.approx(635619.85, abs=0.01)
    json.dumps(info)
    assert describe_input(OPENCV / "left01.jpg")["width"] == 640
    cameras = describe_input(OPENCV / "left_intrinsics.yml")["cameras"]
    assert isinstance(cameras, dict)
    assert cameras["camera"]["fx"] == pytest.approx(535.9157)
    assert (cameras["camera"]["width"], cameras["camera"]["height"]) == (640, 480)
    poses = tmp_path / "p.csv"
    poses.write_text("t,x,y,z,qx,qy,qz,qw\n1,0,0,0,0,0,0,1\n3,0,0,0,0,0,0,1\n")
    assert describe_input(poses, time_unit="s")["span_us"] == 2_000_000
    js = tmp_path / "p.json"
    js.write_text('[{"t": 1, "position": [0,0,0], "quat_xyzw": [0,0,0,1]}]')
    assert describe_input(js, time_unit="ms")["first_timestamp_us"] == 1000
    json.dumps(describe_input(js, time_unit="s"))


def test_describe_refuses_unknown(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is not a known raw input"):
        describe_input(tmp_path / "a.doc")
    bad = tmp_path / "x.json"
    bad.write_text('{"nothing": 1}')
    with pytest.raises(InputError, match=r"File '.*x.json' is none of intrinsics, extrinsics, "
                                         r"poses \(quaternion\), poses \(matrix\) \(intrinsics: "
                                         r"Calibration has no camera matrix .*; extrinsics: "
                                         r"Extrinsics need a 4x4 .*; poses \(quaternion\): Pose "
                                         r"JSON must be a list .*; poses \(matrix\): Pose JSON "
                                         r"must be a list .*\)\.$"):
        describe_input(bad)


def test_describe_stereo_intrinsics_every_camera() -> None:
    info = describe_input(OPENCV / "intrinsics.yml")
    assert info["kind"] == "intrinsics"
    cameras = info["cameras"]
    assert isinstance(cameras, dict)
    assert sorted(cameras) == ["M1", "M2"]
    assert cameras["M1"]["fx"] == pytest.approx(534.8032684505131)
    assert cameras["M1"]["distortion_params"][:2] == pytest.approx([0.29589, -1.03547], abs=1e-5)
    assert cameras["M2"]["cx"] == pytest.approx(334.5574452791)
    assert cameras["M1"]["width"] is None  # the file has no image size
    only = describe_input(OPENCV / "intrinsics.yml", camera="M2")["cameras"]
    assert isinstance(only, dict)
    assert list(only) == ["M2"]


def test_describe_extrinsics_document() -> None:
    info = describe_input(FIXTURES / "sample_capture" / "calibration" / "lidar_top.json")
    assert info["kind"] == "extrinsics"
    assert info["translation_m"] == [0.0, 0.0, 1.8]
    assert info["quat_xyzw"] == [0.0, 0.0, 0.0, 1.0]


def test_describe_pose_json_matrices_and_unnamed_quaternions(tmp_path: Path) -> None:
    matrices = tmp_path / "m.json"
    eye = np.eye(4).tolist()
    matrices.write_text(json.dumps([{"timestamp_ms": 1, "matrix": eye},
                                    {"timestamp_ms": 3, "matrix": eye}]))
    info = describe_input(matrices)
    assert (info["kind"], info["layout"], info["span_us"]) == ("poses", "matrix", 2000)
    unnamed = tmp_path / "q.json"
    unnamed.write_text('[{"timestamp_us": 5, "position": [0, 0, 0], "rotation": [1, 0, 0, 0]}]')
    with pytest.raises(InputError, match=r"poses \(quaternion\): Quaternion 'poses\[0\]"
                                         r"\.rotation' is an unnamed 4-vector; pass quat_order"):
        describe_input(unnamed)
    info = describe_input(unnamed, quat_order="wxyz")
    assert (info["kind"], info["layout"], info["count"]) == ("poses", "quaternion", 1)
    with pytest.raises(InputError, match=r"is none of intrinsics, extrinsics, poses \(matrix\) "
                                         r"\(.*; poses \(matrix\): Pose file has no matrix"):
        describe_input(unnamed, quat_order="wxyz", layout="matrix")


def test_describe_npy_with_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.npy"
    np.save(path, np.arange(8, dtype=np.float32).reshape(2, 4))
    with pytest.raises(InputError, match=r"An \(N, 4\) array needs columns="):
        describe_input(path)
    info = describe_input(path, columns=["x", "y", "z", "intensity"])
    channels = info["channels"]
    assert isinstance(channels, dict)
    assert sorted(channels) == ["intensity", "positions"]
