"""``sfs-kit convert``: exit codes, summary, --json, the validation report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def test_convert_to_sfs_prints_summary_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.sfs"
    assert main(["convert", str(SAMPLE), "--format", "sfs", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out} (sfs, 1 file)" in text
    assert "frames 5, points 15000, images 10" in text
    assert "validation: 0 error(s), 0 warning(s)" in text
    assert out.stat().st_size > 100_000


def test_convert_to_frames_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "frames"
    code = main(
        [
            "convert",
            str(SAMPLE),
            "--format",
            "split_base64",
            "-o",
            str(out),
            "--json",
            "--max-points",
            "1000",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] is True
    assert (summary["frame_count"], summary["point_count"], summary["image_count"]) == (5, 5000, 10)
    assert sorted(p.name for p in out.iterdir()) == [
        *(f"frame-{k:05d}.json" for k in range(5)),
        "images",
    ]


def test_invalid_scene_exits_1_with_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = tmp_path / "cap"
    shutil.copytree(SAMPLE, cap)
    stamps = (cap / "lidar" / "timestamps.txt").read_text().split()
    start = int(stamps[0])
    (cap / "lidar" / "timestamps.txt").write_text(
        "".join(f"{start + k * 1000}\n" for k in range(5))
    )
    out = tmp_path / "bad.sfs"
    assert main(["convert", str(cap), "--format", "sfs", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "validation: 1 error(s)" in err
    assert "V-T4" in err
    assert not out.exists()
    assert main(["convert", str(cap), "--format", "sfs", "-o", str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert [i["code"] for i in report["issues"]] == ["V-T4"]


def test_unreadable_capture_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["convert", str(tmp_path / "none"), "--format", "sfs", "-o", str(tmp_path / "o.sfs")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_nonfinite_points_dropped_or_refused_with_keep_nonfinite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    import numpy as np

    from sfs_kit.readers import read_point_cloud, write_pcd

    capture = tmp_path / "cap"
    shutil.copytree(SAMPLE, capture)
    pcd = sorted((capture / "lidar").glob("*.pcd"))[2]
    cloud = read_point_cloud(pcd)
    positions = cloud.positions.copy()
    positions[:5] = np.nan
    write_pcd(pcd, dataclasses.replace(cloud, positions=positions))
    out = tmp_path / "o.sfs"
    assert main(["convert", str(capture), "--format", "sfs", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["point_count"] == 15000 - 5
    assert report["notes"][-1].startswith("lidar 'lidar_top': dropped 5 point(s) with NaN/inf "
                                          "positions in 1 frame(s) (frame 2: 5)")
    out.unlink()
    args = ["convert", str(capture), "--format", "sfs", "-o", str(out), "--keep-nonfinite"]
    assert main(args) == 1
    assert "V-A7" in capsys.readouterr().err
    assert not out.exists()
