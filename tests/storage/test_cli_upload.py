"""``sfs-kit upload``: through ``main([...])`` against SeaweedFS and a local store."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main
from sfs_kit.pipeline.config import parse_duration_s

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    root = tmp_path / "scene 1"
    (root / "frames").mkdir(parents=True)
    (root / "scene.sfs").write_bytes(b"{" + bytes(1000))
    (root / "frames" / "0001.json").write_bytes(b'{"points": []}')
    (root / "cam.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    return root


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_server: SeaweedServer) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)


@pytest.mark.usefixtures("aws_env")
def test_upload_directory_to_s3_json(
    s3_server: SeaweedServer, s3_bucket: str, scene_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["upload", str(scene_dir), "--bucket", s3_bucket, "--prefix", "runs/r1",
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rows] == ["runs/r1/cam.jpg", "runs/r1/frames/0001.json",
                                        "runs/r1/scene.sfs"]
    assert all(r["uploaded"] and r["verified"] for r in rows)
    for row in rows:
        with urllib.request.urlopen(row["url"], timeout=10) as response:
            assert response.read() == (scene_dir / row["key"].removeprefix("runs/r1/")).read_bytes()
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert not any(r["uploaded"] for r in again)


@pytest.mark.usefixtures("aws_env")
def test_upload_file_to_s3_lines(
    s3_server: SeaweedServer, s3_bucket: str, scene_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["upload", str(scene_dir / "cam.jpg"), "--bucket", s3_bucket, "--expires", "36h",
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1"]
    assert main(argv) == 0
    key, size, sha256, state, url = capsys.readouterr().out.strip().split("\t")
    assert (key, size, state) == ("cam.jpg", "104", "uploaded")
    assert len(sha256) == 64
    assert "X-Amz-Expires=129600" in url
    assert "X-Amz-Signature=" in url
    assert "REDACTED" not in url


def test_upload_without_credentials_is_an_auth_error(
    s3_server: SeaweedServer, s3_bucket: str, scene_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["upload", str(scene_dir), "--bucket", s3_bucket,
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1"]
    assert main(argv) == 3
    assert "no AWS credentials were found" in capsys.readouterr().err


def test_upload_to_local_store(
    tmp_path: Path, scene_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["upload", str(scene_dir), "--store", str(tmp_path / "out"), "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in rows} == {"cam.jpg", "frames/0001.json", "scene.sfs"}
    assert all(r["url"].startswith("file://") for r in rows)
    assert (tmp_path / "out" / "frames" / "0001.json").read_bytes() == b'{"points": []}'


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ([], 2, r"Give --bucket BUCKET for S3 or --store DIR for a local store\."),
        (["--bucket", "b", "--store", "d"], 2, r"Give either --bucket \(S3\) or --store DIR"),
    ],
)
def test_store_choice_errors(
    scene_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], code: int, message: str
) -> None:
    assert main(["upload", str(scene_dir), *extra]) == code
    assert re.search(message, capsys.readouterr().err)


def test_missing_path_and_empty_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", str(tmp_path / "nope"), "--store", str(tmp_path / "s")]) == 2
    assert "Cannot upload" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["upload", str(tmp_path / "empty"), "--store", str(tmp_path / "s")]) == 2
    assert "No files to upload in" in capsys.readouterr().err


def test_verification_failure_exits_with_storage_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"not json")
    assert main(["upload", str(bad), "--store", str(tmp_path / "s")]) == 6
    assert "starts with b'n', expected b'{'" in capsys.readouterr().err
    assert main(["upload", str(bad), "--store", str(tmp_path / "s"), "--no-verify"]) == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604_800), ("36h", 129_600), ("90m", 5400), ("3600", 3600), ("45s", 45),
     ("2D", 172_800), ("1w", 604_800), ("1.5h", 5400)],
)
def test_upload_and_run_share_one_duration_parser(text: str, seconds: int) -> None:
    assert parse_duration_s(text, name="--expires") == seconds


@pytest.mark.parametrize("text", ["", "-1h", "h", "7 days", "abc"])
def test_bad_expires_is_refused_before_uploading(
    tmp_path: Path, scene_dir: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    store = tmp_path / "s"
    assert main(["upload", str(scene_dir), "--store", str(store), f"--expires={text}"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"Setting '--expires' must be a duration like '7d', '12h', '90m', '1.5h' or "
                     r"'3600' \(units s, m, h, d, w\), got ", err), err
    assert not store.exists() or not any(store.rglob("*.sfs"))


@pytest.mark.parametrize(("text", "pattern"), [
    ("8d", r"Setting '--expires' of 691200 s exceeds the SigV4 maximum of 604800 s \(7 days\)"),
    ("0", r"Setting '--expires' must be a positive whole number of seconds, not 0"),
])
def test_expires_out_of_range_is_refused_before_uploading(
    tmp_path: Path, scene_dir: Path, capsys: pytest.CaptureFixture[str], text: str, pattern: str
) -> None:
    store = tmp_path / "s"
    assert main(["upload", str(scene_dir), "--store", str(store), "--expires", text]) == 2
    assert re.search(pattern, capsys.readouterr().err)
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))


@pytest.mark.usefixtures("aws_env")
def test_expires_8d_uploads_nothing_to_s3(
    scene_dir: Path, s3_server: SeaweedServer, s3_bucket: str, s3_client: S3Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["upload", str(scene_dir), "--bucket", s3_bucket, "--prefix", "eightdays",
            "--endpoint-url", s3_server.endpoint_url, "--region", s3_server.region,
            "--expires", "8d"]
    assert main(argv) == 2
    assert "exceeds the SigV4 maximum of 604800 s (7 days)" in capsys.readouterr().err
    listed = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="eightdays/")
    assert listed.get("KeyCount", 0) == 0
