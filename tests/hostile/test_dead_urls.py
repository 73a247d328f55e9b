"""A live submission never sends a URL it did not verify itself: objects gone or overwritten since a
dry run are uploaded again, against the real SeaweedFS and the Scale stand-in."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest
import urllib3
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.run import run

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def _config(server: SeaweedServer, bucket: str, standin: ScaleStandin, out: Path,
            fmt: Literal["sfs", "split_base64"], *, dry_run: bool) -> RunConfig:
    return RunConfig(format=fmt, out_dir=out, bucket=bucket, prefix="dead",
                     endpoint_url=server.endpoint_url, region=server.region, project="proj",
                     api_key=API_KEY, api_base_url=standin.base_url, dry_run=dry_run)


@pytest.mark.parametrize(("fmt", "damage"), [("sfs", "delete"), ("sfs", "overwrite"),
                                             ("split_base64", "delete_image")])
def test_live_run_after_dry_run_reuploads_what_is_gone(
    tmp_path: Path, s3_env: SeaweedServer, s3_bucket: str, s3_client: S3Client,
    scale_standin: ScaleStandin, fmt: Literal["sfs", "split_base64"], damage: str,
) -> None:
    out = tmp_path / "out"
    dry = run(SAMPLE, _config(s3_env, s3_bucket, scale_standin, out, fmt, dry_run=True))
    assert not scale_standin.posts()
    role = "image" if damage == "delete_image" else "attachment"
    victim = next(o for o in dry.objects if o.role == role)
    if damage == "overwrite":
        s3_client.put_object(Bucket=s3_bucket, Key=victim.key, Body=b"x" * victim.size)
    else:
        s3_client.delete_object(Bucket=s3_bucket, Key=victim.key)

    live = run(SAMPLE, _config(s3_env, s3_bucket, scale_standin, out, fmt, dry_run=False))
    assert len(scale_standin.posts()) == 1
    assert live.bytes_uploaded == victim.size
    assert any("uploaded again" in w for w in live.warnings)
    stored = s3_client.get_object(Bucket=s3_bucket, Key=victim.key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == victim.sha256
    body = scale_standin.posts()[0].body
    assert body["attachments"] == live.attachments
    for url in live.attachments:
        response = urllib3.request("GET", url, timeout=10, retries=False)
        assert response.status == 200
    verify = [t for t in live.steps if t.step == "verify"]
    assert verify
    assert not verify[0].resumed  # verified in the live run itself
