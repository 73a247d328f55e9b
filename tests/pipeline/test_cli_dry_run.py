"""``sfs-kit run --dry-run`` with a bucket: uploads and presigns, sends nothing to Scale; the
summary redacts signatures while task_request.json and --json keep the exact URLs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main
from sfs_kit.pipeline.run import REQUEST_NAME, RESULT_NAME

from .conftest import Counts


def test_dry_run_summary_redacts_but_files_are_exact(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    argv = ["run", str(fake_capture), "--out", str(out), "--bucket", s3_bucket,
            "--endpoint-url", s3_env.endpoint_url, "--region", s3_env.region, "--project", "p",
            "--format", "split_base64", "--dry-run"]
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert fake_convert.puts > 0  # a dry run still uploads
    request = json.loads((out / REQUEST_NAME).read_text())
    urls = request["body"]["attachments"]
    signatures = {parse_qs(urlsplit(u).query)["X-Amz-Signature"][0] for u in urls}
    assert signatures
    for signature in signatures:
        assert signature not in summary
    assert "X-Amz-Signature=REDACTED" in summary
    assert re.search(r"DRY RUN, nothing sent to Scale .*\(live presigned URLs\)", summary)
    assert json.loads((out / RESULT_NAME).read_text())["attachments"] == urls


def test_dry_run_help_says_it_uploads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "upload and presign as usual, but send nothing to Scale" in text
    assert "it holds live presigned URLs" in text
    assert "redacts URL signatures" in text
