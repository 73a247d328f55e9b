"""``sfs-kit inspect`` and ``sfs-kit validate`` through ``main([...])``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sfs_scene_factory import build_scene, png_bytes

from sfs_kit import Scene, write_sfs, write_sfs_dict
from sfs_kit.cli import main


@pytest.fixture
def scene_file(tmp_path: Path) -> Path:
    path = tmp_path / "scene.sfs"
    write_sfs(Scene.model_validate(build_scene(frames=4, points=25)), path)
    return path


def test_inspect_text(scene_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(scene_file)]) == 0
    out = capsys.readouterr().out
    assert "SFS 1.0" in out
    assert "lidar_top" in out
    assert "points          100" in out
    assert "span 0..300000 us" in out


def test_inspect_json(scene_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(scene_file), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    lidar, radar, camera = summary["sensors"]
    assert lidar == {
        "id": "lidar_top",
        "type": "lidar",
        "frames": 4,
        "points": 100,
        "time_span": [0, 300_000],
        "bytes": lidar["bytes"],
    }
    # positions 12 + colors 3 + intensities 1 + timestamps 4 bytes per point
    assert lidar["bytes"] == 100 * 20
    assert radar["points"] == 4
    assert camera["frames"] == 4
    assert camera["bytes"] == 4 * len(build_scene()["sensors"][2]["images"][0]["content"])
    assert summary["file_bytes"] == scene_file.stat().st_size


def test_inspect_raw_input_uses_describe_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "cam.png"
    image.write_bytes(png_bytes(32, 24))
    assert main(["inspect", str(image), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "image"
    assert info["width"] == 32
    assert info["height"] == 24


def test_inspect_missing_and_broken_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(tmp_path / "nope.sfs")]) == 2
    assert "cannot read" in capsys.readouterr().err.lower()
    (tmp_path / "bad.sfs").write_bytes(b"not json at all")
    assert main(["inspect", str(tmp_path / "bad.sfs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sfs-kit: error:")
    assert "Traceback" not in err


def test_validate_valid_file(scene_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(scene_file)]) == 0
    assert "valid (compat mode): 0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_validate_lists_every_issue_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = build_scene()
    tree["sensors"][0]["frames"][0]["timestamp"] = 0.5
    tree["sensors"][0]["frames"][1]["points"]["positions"] = np.zeros(7, np.float32)
    tree["sensors"][2]["intrinsics"]["fx"] = 0.0
    path = tmp_path / "bad.sfs"
    write_sfs_dict(tree, path)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error V-T5 at sensors[lidar_top].frames[0].timestamp" in out
    assert "error V-A8 at sensors[lidar_top].frames[1].points.positions" in out
    assert "error V-C2 at sensors[cam_front].intrinsics.fx" in out
    assert "INVALID (compat mode): 3 error(s)" in out
    assert main(["validate", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["errors"] == 3
    assert {i["code"] for i in report["issues"]} == {"V-T5", "V-A8", "V-C2"}


def test_validate_warnings_only_is_valid_and_spec_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = build_scene()
    tree["sensors"].append(
        {
            "type": "odometry",
            "id": "odo",
            "poses": {"timestamps": [0], "values": [[0, 0, 0, 0, 0, 0, 1.0]]},
        }
    )
    tree["sensors"][0]["frames"][0]["points"]["positions"][0, 0] = 2e5
    path = tmp_path / "w.sfs"
    write_sfs_dict(tree, path)
    assert main(["validate", str(path)]) == 1
    capsys.readouterr()
    assert main(["validate", str(path), "--mode", "spec"]) == 0
    out = capsys.readouterr().out
    assert "warning V-O1" in out
    assert "0 error(s), 1 warning(s)" in out


def test_validate_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.sfs")]) == 2
    assert "No such file" in capsys.readouterr().err
    (tmp_path / "trunc.sfs").write_bytes(b'{"version":"1.0"}')
    assert main(["validate", str(tmp_path / "trunc.sfs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sfs-kit: error:")
    assert "Traceback" not in err


def test_inspect_pose_file_unit_from_column_or_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture" / "poses.csv"
    assert main(["inspect", str(sample), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["first_timestamp_us"] == 1699999999950000
    assert main(["inspect", str(sample), "--time-unit", "s"]) == 2
    assert "says unit 'us' but the declared time unit is 's'" in capsys.readouterr().err
    poses = tmp_path / "p.csv"
    poses.write_text("t,x,y,z,qx,qy,qz,qw\n2,0,0,0,0,0,0,1\n")
    assert main(["inspect", str(poses), "--time-unit", "ms", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["first_timestamp_us"] == 2000


def test_inspect_truncated_jpeg_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = Path(__file__).resolve().parents[2] / "fixtures" / "opencv" / "left01.jpg"
    cut = tmp_path / "t.jpg"
    cut.write_bytes(sample.read_bytes()[:300])
    assert main(["inspect", str(cut)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "t.jpg' is incomplete: it does not end with the end-of-image marker" in captured.err


def test_inspect_raw_inputs_human_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    assert main(["inspect", str(fixtures / "sample_capture" / "lidar" / "000000.pcd")]) == 0
    out = capsys.readouterr().out
    assert "point cloud (pcd, DATA binary), 3,000 points" in out
    assert "stored fields: x <f4, y <f4, z <f4, intensity <f4, t <f8" in out
    assert "    time_s     <f8  (3000)  s\n" in out
    assert "{" not in out
    assert main(["inspect", str(fixtures / "opencv" / "intrinsics.yml")]) == 0
    out = capsys.readouterr().out
    assert "camera intrinsics (2 camera(s))" in out
    assert "  M1: fx 534.803 fy 534.803 cx 335.686 cy 240.662 skew 0, size not in the file" in out
    assert "{" not in out
    assert main(["inspect", str(fixtures / "opencv" / "intrinsics.yml"), "--camera", "M2"]) == 0
    assert "(1 camera(s))" in capsys.readouterr().out
    assert main(["inspect", str(fixtures / "sample_capture" / "calibration" / "lidar_top.json")]) \
        == 0
    assert "translation_m [0, 0, 1.8]  quat_xyzw [0, 0, 0, 1]" in capsys.readouterr().out


def test_inspect_columns_and_layout_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    cloud = tmp_path / "p.npy"
    np.save(cloud, np.arange(8, dtype=np.float32).reshape(2, 4))
    assert main(["inspect", str(cloud)]) == 2
    assert "needs columns=" in capsys.readouterr().err
    assert main(["inspect", str(cloud), "--columns", "x,y,z,intensity", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)["channels"]) == ["intensity", "positions"]
    assert main(["inspect", str(cloud), "--columns", "x,,z"]) == 2
    assert "expected comma-separated names" in capsys.readouterr().err
    poses = tmp_path / "m.csv"
    eye = ",".join(["1", "0", "0", "0", "0", "1", "0", "0", "0", "0", "1", "0"])
    poses.write_text("t_ms," + ",".join(f"m{i}" for i in range(12)) + f"\n1,{eye}\n2,{eye}\n")
    assert main(["inspect", str(poses), "--layout", "matrix"]) == 0
    assert "2 poses (matrix rows), 1000..2000 us" in capsys.readouterr().out
