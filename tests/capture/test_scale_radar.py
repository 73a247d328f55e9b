"""scale-lidar-toolkit radar files (``radar_points/N.txt``) as the SFS radar sensor.

The toolkit's own radar files and poses (``fixtures/scale_lidar_toolkit``, Apache-2.0) are put
in its folder layout beside small generated clouds; scale-lidar-io then builds the frames the way
the toolkit's ``scale_format/scale-example.py`` does (points in device coordinates,
``add_radar_points`` with the rows its ``load_radar_points`` makes, the frame pose applied), and
our .sfs radar sensor and split_base64 ``radar_points`` must hold what its ``to_json`` writes.
"""

from __future__ import annotations

import json
import os
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
from sfs_kit.codecs.frame_json import read_frame
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.errors import InputError
from sfs_kit.models import LidarSensor, RadarSensor, Scene
from sfs_kit.models.validate import validate
from sfs_kit.readers.scale_radar import MAX_RADAR_FILE_BYTES, read_scale_radar

from .conftest import ROOT

TOOLKIT = ROOT / "fixtures" / "scale_lidar_toolkit"
NAMES = ("1", "2", "3", "4", "5")
TEN_HZ = ConvertOptions(frame_rate_hz=10.0)


def toolkit_folder(root: Path, *, radar_names: tuple[str, ...] = NAMES) -> Path:
    """The toolkit's layout: its real poses and radar files, a small generated cloud a frame."""
    rng = np.random.default_rng(5)
    for sub in ("pointcloud", "poses", "radar_points"):
        (root / sub).mkdir(parents=True)
    for name in NAMES:
        vertex = np.zeros(25, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
        for axis in "xyz":
            vertex[axis] = rng.uniform(-15, 15, 25)
        PlyData([PlyElement.describe(vertex, "vertex")]).write(
            str(root / "pointcloud" / f"{name}.ply"))
        (root / "poses" / f"{name}.json").write_bytes((TOOLKIT / "poses" / f"{name}.json")
                                                      .read_bytes())
    for name in radar_names:
        (root / "radar_points" / f"{name}.txt").write_bytes(
            (TOOLKIT / "radar_points" / f"{name}.txt").read_bytes())
    return root


def _toolkit_rows(path: Path) -> list[list[list[float]]]:
    """Rows as the toolkit's example hands them to ``add_radar_points``: [[p], [d], [size]]."""
    rows = []
    for line in path.read_text().splitlines():
        values = [float(v) for v in line.split(",")]
        rows.append([values[0:3], values[3:6], [values[6]]])
    return rows


def scale_lidar_io_frames(root: Path, monkeypatch: pytest.MonkeyPatch,
                          names: tuple[str, ...] = NAMES) -> dict[str, dict[str, object]]:
    """Each frame's JSON as scale-lidar-io's ``to_json`` writes it, built as the toolkit does."""
    oracles = str(ROOT / "tests" / "codecs")
    if oracles not in sys.path:
        monkeypatch.syspath_prepend(oracles)
    from frame_json_oracles import import_oracles, numpy1_shim

    lidar_io, _ = import_oracles()
    numpy1_shim(monkeypatch)
    scene = lidar_io.LidarScene()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            ply = PlyData.read(str(root / "pointcloud" / f"{name}.ply"))["vertex"]
            pose = json.loads((root / "poses" / f"{name}.json").read_text())
            frame = scene.get_frame(name)
            frame.points = np.zeros((0, 6))  # 1.2.5 starts with 5 columns; add_points makes 6
            frame.add_points(np.c_[ply["x"], ply["y"], ply["z"]].astype(np.float64))
            radar_file = root / "radar_points" / f"{name}.txt"
            if radar_file.exists():
                frame.add_radar_points(np.array(_toolkit_rows(radar_file), dtype=object))
            frame.apply_transform(lidar_io.Transform.from_Rt(
                R=Quaternion(np.array(pose["heading"])), t=pose["position"]))
            out[name] = json.loads(frame.to_json(base_url="https://bucket.invalid/scene"))
    return out


def _their_radar(frame: dict[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    points = frame["radar_points"]
    assert isinstance(points, list)
    return (np.array([[p["position"][k] for k in "xyz"] for p in points]),
            np.array([[p["direction"][k] for k in "xyz"] for p in points]),
            np.array([p["size"] for p in points]))


def _scale_validates(path: Path) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene

        return bool(parse_and_validate_scene(read_file(str(path))).success)


def _sensors(path: Path) -> tuple[LidarSensor, RadarSensor]:
    scene = Scene.model_validate(read_sfs_dict(path))
    lidar = next(s for s in scene.sensors if isinstance(s, LidarSensor))
    radar = next(s for s in scene.sensors if isinstance(s, RadarSensor))
    return lidar, radar


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scale-lidar-io under NumPy 2
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_toolkit_radar_converts_like_scale_lidar_io_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = toolkit_folder(tmp_path / "scale_format")
    result = convert_capture(root, tmp_path / "o.sfs", format="sfs", options=TEN_HZ)
    assert any("5 radar file(s) for 5 frame(s) became radar 'radar'" in n
               and "taken as world coordinates, as scale-lidar-io writes them" in n
               and "--radar-frame ego" in n for n in result.notes)
    frames = convert_capture(root, tmp_path / "frames", format="split_base64", options=TEN_HZ)
    theirs = scale_lidar_io_frames(root, monkeypatch)
    lidar, radar = _sensors(tmp_path / "o.sfs")
    assert radar.coordinates == "world"
    assert [f.timestamp for f in radar.frames] == [f.timestamp for f in lidar.frames]
    assert np.array_equal(radar.poses.values, lidar.poses.values)  # at the device origin
    for k, name in enumerate(NAMES):
        positions, directions, sizes = _their_radar(theirs[name])
        assert positions.shape == (6, 3)
        points = radar.frames[k].points
        assert points.directions is not None
        assert points.lengths is not None
        np.testing.assert_allclose(points.positions, positions, rtol=1e-7)
        np.testing.assert_allclose(points.directions, directions, rtol=1e-7)
        np.testing.assert_allclose(points.lengths, sizes, rtol=1e-7)
        written = read_frame(tmp_path / "frames" / f"frame-{k:05d}.json")
        assert written.radar is not None
        assert written.radar.directions is not None
        assert written.radar.sizes is not None
        assert written.radar.positions.tobytes() == points.positions.tobytes()
        assert written.radar.directions.tobytes() == points.directions.tobytes()
        assert written.radar.sizes.tobytes() == points.lengths.tobytes()
        their_points = theirs[name]["points"]
        assert isinstance(their_points, list)
        np.testing.assert_allclose(  # the lidar points are posed, by both of us (4 decimals)
            lidar.frames[k].points.positions,
            [[p[a] for a in "xyz"] for p in their_points], atol=1.5e-4)
    assert frames.frame_count == 5
    assert [i for i in validate(read_sfs_dict(tmp_path / "o.sfs")) if i.severity == "error"] == []
    assert _scale_validates(tmp_path / "o.sfs")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_frames_without_a_radar_file_have_no_radar_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The toolkit's first example data had radar_points/2.txt only."""
    root = toolkit_folder(tmp_path / "s", radar_names=("2",))
    convert_capture(root, tmp_path / "o.sfs", format="sfs", options=TEN_HZ)
    convert_capture(root, tmp_path / "frames", format="split_base64", options=TEN_HZ)
    theirs = scale_lidar_io_frames(root, monkeypatch)
    _, radar = _sensors(tmp_path / "o.sfs")
    assert [f.timestamp for f in radar.frames] == [100_000]
    for k, name in enumerate(NAMES):
        text = json.loads((tmp_path / "frames" / f"frame-{k:05d}.json").read_text())
        assert ("radar_points" in text) == ("radar_points" in theirs[name]) == (name == "2")
    np.testing.assert_allclose(radar.frames[0].points.positions,
                               _their_radar(theirs["2"])[0], rtol=1e-7)
    assert _scale_validates(tmp_path / "o.sfs")


def test_radar_frame_ego_poses_the_points_with_each_frame_pose(tmp_path: Path) -> None:
    root = toolkit_folder(tmp_path / "s")
    options = ConvertOptions(frame_rate_hz=10.0, radar_frame="ego", recentre=True)
    result = convert_capture(root, tmp_path / "o.sfs", format="sfs", options=options)
    assert any("in the device frame (radar_frame ego, as declared) and are posed" in n
               for n in result.notes)
    _, radar = _sensors(tmp_path / "o.sfs")
    origin = np.asarray(read_sfs_dict(tmp_path / "o.sfs")["metadata"]["sfs_kit"]
                        ["origin_offset"])
    given = read_scale_radar(TOOLKIT / "radar_points" / "1.txt")
    assert given.directions is not None
    for k, name in enumerate(NAMES):
        pose = json.loads((TOOLKIT / "poses" / f"{name}.json").read_text())
        heading = Quaternion(pose["heading"])
        want = np.array([heading.rotate(p) for p in given.positions]) + pose["position"] - origin
        want_dirs = np.array([heading.rotate(d) for d in given.directions])
        points = radar.frames[k].points
        assert points.directions is not None
        np.testing.assert_allclose(points.positions, want, atol=2e-6)
        np.testing.assert_allclose(points.directions, want_dirs, atol=2e-6)
    assert _scale_validates(tmp_path / "o.sfs")


def test_the_radar_frame_is_an_option_of_the_cli_config_and_environment(tmp_path: Path) -> None:
    root = toolkit_folder(tmp_path / "s")
    assert ConvertOptions.from_settings({"radar_frame": "EGO"}).radar_frame == "ego"
    with pytest.raises(InputError, match=r"Conversion option 'radar_frame' cannot be read from "
                                         r"'device' \(expected world or ego\)"):
        ConvertOptions.from_settings({"radar_frame": "device"})
    with pytest.raises(InputError, match="radar_frame must be world or ego, got 'sensor'"):
        ConvertOptions(radar_frame="sensor")  # type: ignore[arg-type]
    runs = {}
    for label, flags, env in (("flag", ["--radar-frame", "ego"], {}),
                              ("env", [], {"SFS_KIT_RADAR_FRAME": "ego"}),
                              ("default", [], {})):
        out = tmp_path / f"{label}.sfs"
        done = subprocess.run(
            [sys.executable, "-m", "sfs_kit", "convert", str(root), "-o", str(out),
             "--frame-rate", "10", *flags, "--json"], capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, **env}, check=False)
        assert done.returncode == 0, done.stderr
        runs[label] = _sensors(out)[1].frames[3].points.positions
    assert np.array_equal(runs["flag"], runs["env"])
    raw = read_scale_radar(TOOLKIT / "radar_points" / "4.txt").positions
    np.testing.assert_allclose(runs["default"], raw, rtol=1e-7)
    assert not np.allclose(runs["flag"], raw, atol=0.1)


def test_the_reader_matches_numpy_on_the_toolkits_file() -> None:
    path = TOOLKIT / "radar_points" / "2.txt"
    got = read_scale_radar(path)
    table = np.loadtxt(path, delimiter=",")
    assert got.directions is not None
    assert got.sizes is not None
    assert np.array_equal(got.positions, table[:, 0:3])
    assert np.array_equal(got.directions, table[:, 3:6])
    assert np.array_equal(got.sizes, table[:, 6])


@pytest.mark.parametrize(("text", "directions", "sizes"), [
    (b"1, 2, 3\n4, 5, 6\n", False, False),
    (b"1,2,3,0,0,1\r\n\r\n4,5,6,1,0,0\r\n", True, False),
    (b"\xef\xbb\xbf1,2,3,0,0,1,0.5\n  \n4,5,6,1,0,0,2e-1", True, True),
])
def test_three_six_or_seven_columns(tmp_path: Path, text: bytes, directions: bool,
                                    sizes: bool) -> None:
    path = tmp_path / "1.txt"
    path.write_bytes(text)
    got = read_scale_radar(path)
    assert got.positions.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert (got.directions is not None, got.sizes is not None) == (directions, sizes)


def test_an_empty_radar_file_is_a_frame_without_points(tmp_path: Path) -> None:
    root = toolkit_folder(tmp_path / "s")
    (root / "radar_points" / "3.txt").write_bytes(b"\n")
    convert_capture(root, tmp_path / "o.sfs", format="sfs", options=TEN_HZ)
    convert_capture(root, tmp_path / "frames", format="split_base64", options=TEN_HZ)
    _, radar = _sensors(tmp_path / "o.sfs")
    assert radar.frames[2].points.positions.shape == (0, 3)
    assert "radar_points" not in json.loads((tmp_path / "frames" / "frame-00002.json")
                                            .read_text())
    assert _scale_validates(tmp_path / "o.sfs")


HOSTILE = [
    ("ragged", b"1,2,3,0,0,1,1\n1,2,3\n", 2,
     r"3 values, but the file's first point has 7; every line holds the same columns"),
    ("too many columns", b"1,2,3,0,0,1,1,9\n", 1,
     r"8 comma-separated values; a radar point has 7 \(position x, y, z, direction x, y, z, "
     r"size\), or 3 \(position\) or 6"),
    ("four", b"1,2,3,4\n", 1, r"4 comma-separated values"),
    ("nan", b"1,2,3,0,0,1,1\n1,2,nan,0,0,1,1\n", 2,
     r"position_z = 'nan' is not a finite decimal number"),
    ("inf", b"inf,2,3\n", 1, r"position_x = 'inf' is not a finite decimal number"),
    ("float32 overflow", b"1,2,3,0,1e39,1,1\n", 1, r"direction_y = '1e39' does not fit float32"),
    ("empty cell", b"1,,3\n", 1, r"position_y = '' is not a finite decimal"),
    ("underscore", b"1_0,2,3\n", 1, r"position_x = '1_0' is not a finite decimal"),
    ("negative size", b"1,2,3,0,0,1,-0.5\n", 1, r"size = '-0.5' is negative"),
    ("not utf-8", b"1,2,3\n4,\xff,6\n", 2, r"not UTF-8 text \(byte 0xff at offset 8\)"),
    ("nul", b"1,2,3\x00\n", 1, r"position_z = '3\\x00' is not a finite decimal"),
    ("spaces only", b"1 2 3\n", 1, r"1 comma-separated values"),
]


@pytest.mark.parametrize(("label", "content", "line", "match"), HOSTILE,
                         ids=[h[0] for h in HOSTILE])
def test_hostile_radar_files_name_the_file_and_line(tmp_path: Path, label: str, content: bytes,
                                                    line: int, match: str) -> None:
    root = toolkit_folder(tmp_path / "s")
    bad = root / "radar_points" / "4.txt"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=match) as caught:
        read_scale_radar(bad)
    assert (caught.value.source, caught.value.line) == (str(bad), line)
    assert str(caught.value).startswith(f"{bad}, line {line}: ")
    for fmt, out in (("sfs", tmp_path / "o.sfs"), ("split_base64", tmp_path / "frames")):
        with pytest.raises(InputError, match=match) as caught:
            convert_capture(root, out, format=fmt, options=TEN_HZ)  # type: ignore[arg-type]
        assert caught.value.source == str(bad)
        assert not out.exists()


def test_a_huge_radar_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "1.txt"
    with path.open("wb") as f:
        f.truncate(MAX_RADAR_FILE_BYTES + 1)  # sparse: no disk, and we read at most the limit
    with pytest.raises(InputError, match=r"the radar file is larger than 8388608 bytes") \
            as caught:
        read_scale_radar(path)
    assert caught.value.source == str(path)


def test_a_radar_file_without_its_frame_is_named(tmp_path: Path) -> None:
    root = toolkit_folder(tmp_path / "s")
    stray = root / "radar_points" / "9.txt"
    stray.write_text("1,2,3\n")
    with pytest.raises(InputError, match=r"9\.txt: no point cloud pointcloud/9\.\* for this "
                                         r"radar file") as caught:
        open_capture(root, frame_rate_hz=10)
    assert caught.value.source == str(stray)


def test_a_fifo_radar_file_is_refused_without_hanging(tmp_path: Path) -> None:
    root = toolkit_folder(tmp_path / "s")
    fifo = root / "radar_points" / "2.txt"
    fifo.unlink()
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"radar file .*2\.txt.*only regular files"):
        convert_capture(root, tmp_path / "o.sfs", format="sfs", options=TEN_HZ)


def test_mutated_radar_files_end_in_our_error_or_read(tmp_path: Path) -> None:
    """Random byte edits of the toolkit's file: every outcome is a reading or an InputError."""
    rng = np.random.default_rng(2026)
    original = bytearray((TOOLKIT / "radar_points" / "1.txt").read_bytes())
    alphabet = np.frombuffer(b"0123456789.,-+eE \n\r\t\x00\xff\xc3naif_", dtype=np.uint8)
    path = tmp_path / "1.txt"
    errors: list[InputError] = []
    reads = 0
    for _ in range(400):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 6))):
            at = int(rng.integers(0, len(data)))
            action = int(rng.integers(0, 3))
            if action == 0:
                data[at] = int(rng.choice(alphabet))
            elif action == 1:
                del data[at]
            else:
                data.insert(at, int(rng.choice(alphabet)))
        path.write_bytes(bytes(data))
        try:
            got = read_scale_radar(path)
        except InputError as err:  # any other exception fails the test
            errors.append(err)
            continue
        assert np.isfinite(got.positions).all()
        assert np.all(np.abs(got.positions) <= np.finfo(np.float32).max)
        reads += 1
    assert reads > 0
    assert errors
    assert all(e.source == str(path) and e.line is not None for e in errors)


def test_inspect_lists_the_radar_and_validate_finds_a_bad_radar_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sfs_kit.cli import main

    root = toolkit_folder(tmp_path / "s")
    monkeypatch.setenv("SFS_KIT_FRAME_RATE", "10")
    monkeypatch.setenv("SFS_KIT_RADAR_FRAME", "ego")
    assert main(["inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "1 lidar(s), 0 camera(s), 1 radar(s), 0..400000 us" in out
    assert "radar  radar                 5 frames, points in the ego frame" in out
    assert main(["inspect", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["radars"] == [{"id": "radar", "frames": 5, "points_frame": "ego",
                                  "time_span_us": [0, 400_000]}]
    (root / "radar_points" / "3.txt").write_bytes(b"1,2,3\n1,2,nan\n")
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{root / 'radar_points' / '3.txt'}, line 2: position_z = 'nan' is not" in out
