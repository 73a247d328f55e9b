"""``inspect`` and ``validate`` of what the other commands make and read: our split_base64 frames
(a file and a folder), a capture folder and its capture.yaml; a non-.sfs file is named as one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sfs_kit.capture import convert_capture
from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("frames") / "frames"
    convert_capture(SAMPLE, out, format="split_base64")
    return out


def _copy(frames: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "frames"
    shutil.copytree(frames, copy)
    return copy


def test_validate_a_frames_folder_says_it_is_not_self_contained_once(
    frames: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(frames)]) == 0
    out = capsys.readouterr().out
    assert "0x00" not in out
    assert out.count("F-7") == 1  # one warning for the 10 relative image URLs, not ten
    assert "(10 places; the first is shown)" in out
    assert "`sfs-kit upload DIR`" in out
    assert out.rstrip().endswith("valid (split_base64 frames): 0 error(s), 1 warning(s)")


def test_validate_one_frame_file(frames: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", str(frames / "frame-00002.json")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["kind"], report["valid"], report["frames"]) == ("split_base64_frames", True, 1)
    assert report["points"] == 3000
    assert report["image_urls"] == {"relative": 2}


def test_validate_frames_finds_broken_ones(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _copy(frames, tmp_path)
    (bad / "frame-00001.json").write_text('{"device_position": {"x": 1}')  # truncated JSON
    third = json.loads((bad / "frame-00003.json").read_text())
    third["timestamp"] = 1  # before frame 2
    (bad / "frame-00003.json").write_text(json.dumps(third))
    image = third["images"][0]["image_url"]
    (bad / image).unlink()  # frame 3 references it (and frame 2 maybe too)
    (bad / "frame-00004.json").rename(bad / "frame-00007.json")
    assert main(["validate", "--json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {(i["code"], i["path"].split(":")[0]) for i in report["issues"]}
    assert ("F-1", "frame-00001.json") in found
    assert ("F-2", "frame-00003.json") in found
    assert ("F-6", "frame-00003.json") in found
    assert ("F-3", "frame-00007.json (expected frame-00004.json)") in found
    assert report["frames"] == 4  # the unreadable one is not counted


def test_inspect_frames_folder(frames: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(frames)]) == 0
    out = capsys.readouterr().out
    assert f"{frames}: split_base64 frames, 5 frame(s), 15,000 points" in out
    assert "1700000000000000000..1700000000400000000 ns (0.400 s)" in out
    assert "cameras per frame: 2; image URLs: 10 relative" in out
    assert main(["inspect", "--json", str(frames / "frame-00000.json")]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 1


@pytest.mark.parametrize("target", [SAMPLE, SAMPLE / "capture.yaml"], ids=["folder", "manifest"])
def test_inspect_a_capture_says_what_will_be_converted(
    target: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(target)]) == 0
    out = capsys.readouterr().out
    assert "sfs_kit capture, 1 lidar(s), 2 camera(s), 1700000000000000..1700000000420000 us " \
           "(0.420 s)" in out
    assert "lidar  lidar_top             5 frames, points in the sensor frame" in out
    assert "camera cam_front             5 images, 320x240, brown_conrady" in out
    assert "ego poses: 12 from" in out
    assert main(["inspect", "--json", str(target)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "capture"
    assert [c["id"] for c in summary["cameras"]] == ["cam_front", "cam_left"]
    assert summary["lidars"][0]["frames"] == 5


def test_validate_a_capture_converts_it_dry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(SAMPLE)]) == 0
    assert "valid (sfs_kit capture): 0 error(s)" in capsys.readouterr().out
    broken = tmp_path / "drive"
    shutil.copytree(SAMPLE, broken)
    third = sorted((broken / "lidar").glob("*.pcd"))[2]
    third.write_bytes(third.read_bytes()[:-100])  # truncated data: only converting finds it
    before = sorted(p.name for p in broken.rglob("*"))
    assert main(["validate", "--json", str(broken)]) == 1
    report = json.loads(capsys.readouterr().out)
    (error,) = [i for i in report["issues"] if i["severity"] == "error"]
    assert error["code"] == "C-1"
    assert third.name in error["message"]
    assert sorted(p.name for p in broken.rglob("*")) == before  # nothing written


def test_validate_of_a_file_that_is_not_sfs_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"\xff\xfe hello")
    assert main(["validate", str(notes)]) == 2
    err = capsys.readouterr().err
    assert f"{str(notes)!r} is not a .sfs file" in err
    assert "split_base64 frames" in err
    assert "Traceback" not in err
