"""The manual path: convert --format split_base64 -> upload DIR -> submit. upload sends the
images first and the frames with their images' presigned URLs; submit refuses frames that still
point at relative image paths."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    out = tmp_path / "frames"
    assert main(["convert", str(SAMPLE), "--format", "split_base64", "-o", str(out)]) == 0
    return out


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_server: SeaweedServer) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)


@pytest.mark.usefixtures("aws_env")
def test_upload_of_a_frames_folder_makes_self_contained_frames(
    frames: Path, s3_server: SeaweedServer, s3_bucket: str, capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    argv = ["upload", str(frames), "--bucket", s3_bucket, "--prefix", "manual",
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    frame_rows = [r for r in rows if r["key"].rsplit("/", 1)[-1].startswith("frame-")]
    assert [r["key"] for r in rows[: len(frame_rows)]] == [r["key"] for r in frame_rows]
    assert len(frame_rows) == 5
    with urllib.request.urlopen(frame_rows[0]["url"], timeout=10) as response:
        uploaded = json.loads(response.read())
    image_url = uploaded["images"][0]["image_url"]
    assert image_url.startswith(s3_server.endpoint_url)
    assert "X-Amz-Signature=" in image_url
    with urllib.request.urlopen(image_url, timeout=10) as response:
        assert response.read() == (frames / "images" / "cam_front" / "00000.jpg").read_bytes()
    local = json.loads((frames / "frame-00000.json").read_text())
    assert local["images"][0]["image_url"] == "images/cam_front/00000.jpg"  # left as it was
    attachments = [a for r in frame_rows for a in ("--attachment", r["url"])]
    assert main(["submit", "--project", "p", "--scene-format", "split_base64", *attachments,
                 "--dry-run"]) == 0


@pytest.mark.usefixtures("aws_env")
def test_submit_refuses_frames_with_relative_image_urls(
    frames: Path, s3_server: SeaweedServer, s3_bucket: str, s3_client: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # frames uploaded as plain files (the mistake): their image_url stays relative
    argv = ["upload", str(frames / "frame-00000.json"), "--bucket", s3_bucket, "--prefix", "raw",
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1", "--json"]
    assert main(argv) == 0
    (row,) = json.loads(capsys.readouterr().out)
    code = main(["submit", "--project", "p", "--scene-format", "split_base64",
                 "--attachment", row["url"], "--dry-run"])
    err = capsys.readouterr().err
    assert code == 1
    assert "images[].image_url 'images/cam_front/00000.jpg' is relative" in err
    assert "sfs-kit upload FOLDER --bucket B" in err
    assert "X-Amz-Signature=REDACTED" in err
    local = f"file://{frames / 'frame-00000.json'}"
    assert main(["submit", "--project", "p", "--scene-format", "split_base64",
                 "--attachment", local, "--dry-run"]) == 1
    assert "is relative" in capsys.readouterr().err


def test_a_frames_folder_is_uploaded_on_its_own(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    other = tmp_path / "a.json"
    other.write_text("{}")
    assert main(["upload", str(frames), str(other), "--store", str(tmp_path / "s")]) == 2
    assert "upload it on its own" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.usefixtures("aws_env")
def test_submit_checks_every_frame_and_s3_uris_too(
    frames: Path, s3_server: SeaweedServer, s3_bucket: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["upload", str(frames), "--bucket", s3_bucket, "--prefix", "good",
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1", "--json"]
    assert main(argv) == 0
    good = [r["url"] for r in json.loads(capsys.readouterr().out)
            if r["key"].rsplit("/", 1)[-1].startswith("frame-")]
    argv = ["upload", str(frames / "frame-00004.json"), "--bucket", s3_bucket, "--prefix", "raw",
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1", "--json"]
    assert main(argv) == 0
    (raw,) = json.loads(capsys.readouterr().out)
    attachments = [a for url in [*good[:4], raw["url"]] for a in ("--attachment", url)]
    assert main(["submit", "--project", "p", "--scene-format", "split_base64", *attachments,
                 "--dry-run"]) == 1  # the fifth frame, past any sample of the first few
    assert "Attachment 4 " in capsys.readouterr().err
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    uri = f"s3://{s3_bucket}/{raw['key']}"
    assert main(["submit", "--project", "p", "--scene-format", "split_base64",
                 "--attachment", uri, "--dry-run"]) == 1
    assert "is relative" in capsys.readouterr().err
    missing = f"s3://{s3_bucket}/nowhere/frame-00000.json"
    assert main(["submit", "--project", "p", "--scene-format", "split_base64",
                 "--attachment", missing, "--dry-run"]) == 0  # unreadable: left to Scale
