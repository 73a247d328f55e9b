"""End to end with the real converter on fixtures/sample_capture: SeaweedFS + the Scale stand-in.

Also crash injection with the real converter (an exception after each step, and a killed
``sfs-kit run`` subprocess via the ``SFS_KIT_TEST_CRASH_AFTER`` test hook), and the CLI's embedded
default with no AWS or Scale credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
import urllib3
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main
from sfs_kit.codecs.frame_json import decode_frame
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.models.validate import validate_tree
from sfs_kit.pipeline import run as run_module
from sfs_kit.pipeline import steps
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.run import CRASH_ENV, CRASH_EXIT_CODE, REQUEST_NAME, default_out_dir, run

from .conftest import Counts, list_objects

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"
Fmt = Literal["sfs", "split_base64"]
STEPS: dict[str, tuple[str, ...]] = {
    "sfs": ("convert", "geometry", "upload", "presign", "verify", "submit_intent", "submit"),
    "split_base64": ("convert", "geometry", "upload_images", "presign_images", "write_frames",
                     "upload", "presign", "verify", "submit_intent", "submit"),
}


class CrashError(Exception):
    """Stands in for the process dying right after a step's record was written."""


@pytest.fixture
def real_convert(monkeypatch: pytest.MonkeyPatch, counts: Counts) -> Counts:
    """The real converter, counted."""
    real = steps.convert

    def convert(*args: Any, **kwargs: Any) -> steps.Converted:
        counts.convert += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "convert", convert)
    return counts


def _config(server: SeaweedServer, bucket: str, standin: ScaleStandin, out: Path,
            fmt: Fmt) -> RunConfig:
    return RunConfig(format=fmt, out_dir=out, bucket=bucket, prefix="e2e",
                     endpoint_url=server.endpoint_url, region=server.region, project="proj",
                     tags=("e2e",), api_key=API_KEY, api_base_url=standin.base_url)


def _get(url: str) -> bytes:
    response = urllib3.request("GET", url, timeout=10, retries=False)
    assert response.status == 200, (response.status, url)
    return response.data


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_sample_capture_end_to_end(
    tmp_path: Path, real_convert: Counts, s3_env: SeaweedServer, s3_bucket: str,
    s3_client: S3Client, scale_standin: ScaleStandin, fmt: Fmt,
) -> None:
    result = run(SAMPLE, _config(s3_env, s3_bucket, scale_standin, tmp_path / "out", fmt))
    assert len(scale_standin.tasks) == 1
    task = scale_standin.tasks[0]
    assert result.task_id == task["task_id"]
    assert task["params"]["attachments"] == result.attachments if "params" in task else True
    body = scale_standin.posts()[0].body
    assert body["attachments"] == result.attachments
    assert body["unique_id"] == result.unique_id
    assert body["scene_format"] == ("sensor_fusion" if fmt == "sfs" else "split_base64")
    by_url = {o.url: o for o in result.objects}
    for url in result.attachments:
        data = _get(url)  # a plain GET, no credentials: the URL authorizes itself
        obj = by_url[url]
        assert hashlib.sha256(data).hexdigest() == obj.sha256
        assert data == (tmp_path / "out" / obj.name).read_bytes()
        if fmt == "sfs":
            downloaded = tmp_path / "downloaded.sfs"
            downloaded.write_bytes(data)
            issues = validate_tree(read_sfs_dict(downloaded))
            assert not [i for i in issues if i.severity == "error"], issues
        else:
            frame = decode_frame(data, source=url)
            assert frame.images
            for image in frame.images:
                image_obj = by_url[image.image_url]
                assert image_obj.role == "image"
                image_bytes = _get(image.image_url)
                assert hashlib.sha256(image_bytes).hexdigest() == image_obj.sha256
                assert image_bytes.startswith(b"\xff\xd8\xff")
    assert sorted(list_objects(s3_client, s3_bucket)) == sorted(o.key for o in result.objects)
    assert real_convert.puts == len(result.objects)


@pytest.mark.parametrize(("fmt", "crash_after"),
                         [(fmt, step) for fmt, names in STEPS.items() for step in names])
def test_real_convert_crash_after_each_step(
    tmp_path: Path, real_convert: Counts, s3_env: SeaweedServer, s3_bucket: str,
    s3_client: S3Client, scale_standin: ScaleStandin, monkeypatch: pytest.MonkeyPatch,
    fmt: Fmt, crash_after: str,
) -> None:
    config = _config(s3_env, s3_bucket, scale_standin, tmp_path / "out", fmt)

    def crash(step: str) -> None:
        if step == crash_after:
            raise CrashError(step)

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "_crash_point", crash)
        with pytest.raises(CrashError):
            run(SAMPLE, config)
    result = run(SAMPLE, config)
    assert real_convert.convert == 1
    assert len(scale_standin.tasks) == 1
    assert len(scale_standin.posts()) == 1
    assert real_convert.puts == len(result.objects)
    for obj in result.objects:
        data = s3_client.get_object(Bucket=s3_bucket, Key=obj.key)["Body"].read()
        assert hashlib.sha256(data).hexdigest() == obj.sha256
    finished = set(STEPS[fmt][: STEPS[fmt].index(crash_after) + 1]) - {"submit_intent"}
    if crash_after != "submit":
        finished.discard("verify")  # a live submission verifies the URLs it sends in its own run
    assert {t.step for t in result.steps if t.resumed} == finished


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfs_kit", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("fmt", "crash_after"),
                         [("sfs", "upload"), ("sfs", "submit_intent"),
                          ("split_base64", "write_frames")])
def test_killed_subprocess_then_rerun(
    tmp_path: Path, s3_env: SeaweedServer, s3_bucket: str, s3_client: S3Client,
    scale_standin: ScaleStandin, fmt: Fmt, crash_after: str,
) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFS_KIT_")}
    env.update({"SCALE_API_KEY": API_KEY, "SCALE_API_BASE_URL": scale_standin.base_url})
    args = ["run", str(SAMPLE), "--format", fmt, "--out", str(out), "--bucket", s3_bucket,
            "--endpoint-url", s3_env.endpoint_url, "--project", "proj", "--json"]
    first = _cli(args, {**env, CRASH_ENV: crash_after}, tmp_path)
    assert first.returncode == CRASH_EXIT_CODE, first.stderr
    objects_after_crash = list_objects(s3_client, s3_bucket)
    second = _cli(args, env, tmp_path)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert len(scale_standin.tasks) == 1
    assert len(scale_standin.posts()) == 1
    assert result["task_id"] == scale_standin.tasks[0]["task_id"]
    stored = list_objects(s3_client, s3_bucket)
    assert sorted(stored) == sorted(o["key"] for o in result["objects"])
    for key, (size, modified) in objects_after_crash.items():  # nothing sent twice
        assert stored[key] == (size, modified), key
    steps_by_name = {s["step"]: s["resumed"] for s in result["steps"]}
    assert steps_by_name["convert"] is True
    for obj in result["objects"]:
        data = s3_client.get_object(Bucket=s3_bucket, Key=obj["key"])["Body"].read()
        assert hashlib.sha256(data).hexdigest() == obj["sha256"]


def test_cli_embedded_default_without_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SAMPLE)]) == 0
    out_dir = default_out_dir(SAMPLE)
    assert out_dir.parent == tmp_path / "sfs-kit-out"
    assert out_dir.name.startswith("sample_capture-")
    printed = capsys.readouterr().out
    assert "DRY RUN" in printed
    assert str(out_dir / REQUEST_NAME) in printed
    assert "unique_id   sfs-kit-" in printed
    request = json.loads((out_dir / REQUEST_NAME).read_text())
    url = request["body"]["attachments"][0]
    assert url.startswith("file://")
    issues = validate_tree(read_sfs_dict(url[len("file://"):]))
    assert not [i for i in issues if i.severity == "error"]
    assert main(["run", str(SAMPLE), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["bytes_uploaded"] == 0
    assert all(step["resumed"] for step in again["steps"])
    assert again["unique_id"] == request["body"]["unique_id"]


def test_cli_config_file_and_bad_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sfs-kit.toml").write_text('project = "from-file"\nformat = "split_base64"\n')
    assert main(["run", str(SAMPLE), "--out", "o", "--tag", "a", "--metadata", '{"k": 1}']) == 0
    body = json.loads((tmp_path / "o" / REQUEST_NAME).read_text())["body"]
    assert (body["project"], body["scene_format"], body["tags"], body["metadata"]) == (
        "from-file", "split_base64", ["a"], {"k": 1})
    capsys.readouterr()
    assert main(["run", str(SAMPLE), "--out", "o2", "--metadata", "[1]"]) == 2
    assert "--metadata must be a JSON object, got a list." in capsys.readouterr().err
    assert main(["run", str(SAMPLE), "--out", "o2", "--metadata", "{"]) == 2
    assert "--metadata is not valid JSON" in capsys.readouterr().err
    assert main(["run", str(SAMPLE), "--out", "o2", "--instruction", "@missing.md"]) == 2
    assert "--instruction file 'missing.md' cannot be read" in capsys.readouterr().err
