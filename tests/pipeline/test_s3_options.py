"""S3 options from the CLI, the environment and sfs-kit.toml: s3:// attachments, SSE, addressing.

SeaweedFS for the real uploads; the SSE headers are checked on the wire with a botocore
``before-call`` hook (which answers PutObject itself, as SeaweedFS has no KMS).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main
from sfs_kit.errors import InputError
from sfs_kit.pipeline import run as run_module
from sfs_kit.pipeline.config import RunConfig, load_config
from sfs_kit.pipeline.run import run
from sfs_kit.storage import ObjectStore, S3Store

from .conftest import Counts


def test_s3_settings_from_env_and_file(tmp_path: Path) -> None:
    env = {"SFS_KIT_BUCKET": "b", "SFS_KIT_S3_URI": "1", "SFS_KIT_SSE": "aws:kms",
           "SFS_KIT_SSE_KMS_KEY_ID": "key-1", "SFS_KIT_ADDRESSING_STYLE": "path"}
    config = load_config(env=env, cwd=tmp_path)
    assert (config.s3_uri, config.sse, config.sse_kms_key_id, config.addressing_style) == (
        True, "aws:kms", "key-1", "path")
    (tmp_path / "sfs-kit.toml").write_text(
        'bucket = "b"\ns3_uri = true\nsse = "AES256"\naddressing_style = "virtual"\n')
    config = load_config(env={}, cwd=tmp_path)
    assert (config.s3_uri, config.sse, config.addressing_style) == (True, "AES256", "virtual")


def test_s3_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Run setting '--s3-uri' is invalid: s3:// attachments "
                                         r"need a bucket \(there is none\) \(got True\)\."):
        load_config({"s3_uri": True}, env={}, cwd=tmp_path)
    with pytest.raises(InputError, match=r"Run setting SFS_KIT_SSE_KMS_KEY_ID is invalid: a KMS "
                                         r"key id needs sse 'aws:kms', found 'AES256'"):
        load_config({"bucket": "b", "sse": "AES256"}, env={"SFS_KIT_SSE_KMS_KEY_ID": "k"},
                    cwd=tmp_path)
    with pytest.raises(InputError, match=r"Run setting '--sse' is invalid: .*got 'des'"):
        load_config({"bucket": "b", "sse": "des"}, env={}, cwd=tmp_path)


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_s3_uri_attachments_skip_verification(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin, fmt: Any,
) -> None:
    config = RunConfig(format=fmt, out_dir=tmp_path / "out", bucket=s3_bucket, prefix="uri",
                       endpoint_url=s3_env.endpoint_url, region=s3_env.region, project="p",
                       api_key=API_KEY, api_base_url=scale_standin.base_url, s3_uri=True)
    result = run(fake_capture, config)
    assert result.attachments
    assert all(u.startswith(f"s3://{s3_bucket}/uri/") for u in result.attachments)
    assert all(o.url.startswith("s3://") for o in result.objects)
    assert "verify" not in {t.step for t in result.steps}
    assert any(w.startswith("verify skipped: the attachments are s3:// URIs") for w in
               result.warnings)
    assert scale_standin.posts()[0].body["attachments"] == result.attachments
    assert result.urls_expire_at is None


def _capture_puts(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[dict[str, Any]]:
    """Wrap ``target.<name>`` (a store factory) so every PutObject is recorded and answered
    locally; returns the recorded request headers."""
    seen: list[dict[str, Any]] = []
    real = getattr(target, name)

    class _Ok:
        status_code = 200

    def answer(params: dict[str, Any], **_: Any) -> tuple[_Ok, dict[str, Any]]:
        seen.append(dict(params["headers"]))
        return _Ok(), {"ETag": '"0"', "ResponseMetadata": {"HTTPStatusCode": 200}}

    def make(*args: Any, **kwargs: Any) -> ObjectStore:
        store = real(*args, **kwargs)
        assert isinstance(store, S3Store)
        # a before-call handler's answer replaces the request (botocore client._make_api_call)
        store.client.meta.events.register("before-call.s3.PutObject", answer)  # type: ignore[arg-type]
        s3_config: dict[str, Any] = getattr(store.client.meta.config, "s3", None) or {}
        seen.append({"addressing_style": s3_config.get("addressing_style")})
        return store

    monkeypatch.setattr(target, name, make)
    return seen


def test_cli_run_passes_sse_and_addressing_to_the_store(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    seen = _capture_puts(monkeypatch, run_module, "_make_store")
    argv = ["run", str(fake_capture), "--out", str(tmp_path / "out"), "--bucket", s3_bucket,
            "--endpoint-url", s3_env.endpoint_url, "--region", s3_env.region,
            "--sse", "aws:kms", "--sse-kms-key-id", "key-1", "--addressing-style", "path",
            "--no-verify", "--json"]
    assert main(argv) == 0
    assert seen[0] == {"addressing_style": "path"}
    puts = seen[1:]
    assert puts
    for headers in puts:
        assert headers["x-amz-server-side-encryption"] == "aws:kms"
        assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == "key-1"
    assert json.loads(capsys.readouterr().out)["dry_run"] is True


def test_cli_upload_passes_sse_and_prints_s3_uris(
    tmp_path: Path, s3_env: SeaweedServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sfs_kit.cli import upload as upload_module

    seen = _capture_puts(monkeypatch, upload_module, "S3Store")
    (tmp_path / "scene.sfs").write_bytes(b"{" + bytes(100))
    argv = ["upload", str(tmp_path / "scene.sfs"), "--bucket", s3_bucket, "--prefix", "up",
            "--endpoint-url", s3_env.endpoint_url, "--region", s3_env.region,
            "--sse", "aws:kms", "--sse-kms-key-id", "key-2", "--addressing-style", "path",
            "--s3-uri", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert [p["url"] for p in printed] == [f"s3://{s3_bucket}/up/scene.sfs"]
    assert printed[0]["verified"] is False
    assert "s3:// URIs are not verified" in captured.err
    assert seen[0] == {"addressing_style": "path"}
    assert seen[1]["x-amz-server-side-encryption-aws-kms-key-id"] == "key-2"


@pytest.mark.parametrize(("extra", "pattern"), [
    (["--store", "S", "--s3-uri"], r"--s3-uri need\(s\) --bucket"),
    (["--bucket", "b", "--sse-kms-key-id", "k"], r"--sse-kms-key-id needs --sse aws:kms"),
])
def test_cli_upload_s3_option_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     extra: list[str], pattern: str) -> None:
    (tmp_path / "a.json").write_text("{}")
    argv = ["upload", str(tmp_path / "a.json"), *[str(tmp_path / "s") if e == "S" else e
                                                  for e in extra]]
    assert main(argv) == 2
    assert re.search(pattern, capsys.readouterr().err)
