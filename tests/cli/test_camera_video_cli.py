"""``sfs-kit convert --camera-video`` and ``sfs-kit inspect`` of a scene with camera videos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.fixture(scope="module")
def video_sfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_video") / "v.sfs"
    assert main(["convert", str(SAMPLE), "--format", "sfs", "-o", str(out), "--camera-video"]) == 0
    return out


def test_convert_camera_video_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.sfs"
    code = main(["convert", str(SAMPLE), "--format", "sfs", "-o", str(out), "--camera-video"])
    assert code == 0
    text = capsys.readouterr().out
    assert "images 0, camera videos 2" in text
    assert "validation: 0 error(s), 0 warning(s)" in text


def test_camera_video_with_split_base64_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frames"
    argv = ["convert", str(SAMPLE), "--format", "split_base64", "-o", str(out), "--camera-video"]
    assert main(argv) == 2
    assert "camera_video (--camera-video) needs format sfs" in capsys.readouterr().err
    assert not out.exists()


def test_inspect_shows_codec_size_frames_and_bit_rate(
    video_sfs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(video_sfs)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("video")]
    assert len(lines) == 2
    assert all(" h264 320x240 yuv420p, 5 frames, 0.500 s, " in ln for ln in lines)
    assert all(ln.endswith("Mbit/s") for ln in lines)
    assert main(["inspect", str(video_sfs), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    videos = [s["video"] for s in summary["sensors"] if s["type"] == "camera"]
    assert [(v["container"], v["codec"], v["frame_count"]) for v in videos] == [
        ("mp4", "h264", 5)
    ] * 2
    assert all(v["bit_rate"] > 0 for v in videos)


def test_validate_checks_the_videos(video_sfs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(video_sfs)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_the_readme_video_commands_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (SAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Cameras as video", 1)[1]
    block = section.split("```shell\n", 1)[1].split("```", 1)[0]
    commands = [ln.split("#", 1)[0].split() for ln in block.splitlines() if ln.strip()]
    assert [c[1] for c in commands] == ["convert", "inspect", "validate"]
    for argv in commands:
        args = [a.replace("/tmp/", f"{tmp_path}/") for a in argv[1:]]
        args = [str(SAMPLE.parents[1] / a) if a.startswith("fixtures/") else a for a in args]
        assert main(args) == 0, argv
    assert "video h264 320x240" in capsys.readouterr().out


def test_camera_video_from_config_file_and_environment(tmp_path: Path) -> None:
    from sfs_kit.pipeline.config import load_config, load_convert_settings

    toml = tmp_path / "sfs-kit.toml"
    toml.write_text("camera_video = true\n", encoding="utf-8")
    assert load_config(env={}, config_path=toml).convert.camera_video is True
    assert load_convert_settings(env={}, config_path=toml)[1].camera_video is True
    env = {"SFS_KIT_CAMERA_VIDEO": "1"}
    assert load_config(env=env, cwd=tmp_path / "none").convert.camera_video is True
    assert load_config(env={}, cwd=tmp_path / "none").convert.camera_video is False


def test_camera_video_with_split_base64_in_run_config_is_refused(tmp_path: Path) -> None:
    from sfs_kit.errors import InputError
    from sfs_kit.pipeline.config import load_config

    with pytest.raises(InputError, match="camera_video needs format sfs"):
        load_config({"format": "split_base64"}, env={"SFS_KIT_CAMERA_VIDEO": "true"}, cwd=tmp_path)


def test_run_with_camera_video_uploads_a_scene_with_videos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sfs_kit.codecs.sfs import read_sfs_dict

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCALE_API_KEY", raising=False)
    assert main(["run", str(SAMPLE), "--camera-video", "--out", str(tmp_path / "out")]) == 0
    (scene,) = (tmp_path / "out" / "store").rglob("scene.sfs")
    cams = [s for s in read_sfs_dict(scene)["sensors"] if s["type"] == "camera"]
    assert [("video" in c, "images" in c) for c in cams] == [(True, False)] * 2
