"""``sfs-kit -v/-vv/-vvv run`` against SeaweedFS: no URL signature or credential on stderr.

``-vv`` logs sfs_kit at DEBUG with botocore/urllib3 quiet; ``-vvv`` adds their DEBUG lines, still
redacted, and never botocore.auth's signing dumps.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main
from sfs_kit.cli._logging import RedactingFilter, redact_text

from .conftest import Counts


def _run(capture: Path, out: Path, server: SeaweedServer, bucket: str, *flags: str) -> list[str]:
    argv = [*flags, "run", str(capture), "--out", str(out), "--bucket", bucket,
            "--endpoint-url", server.endpoint_url, "--region", server.region, "--json"]
    assert main(argv) == 0
    return argv


def _secrets(stdout: str) -> set[str]:
    """The signature and credential values of every URL in the run's JSON result."""
    result = json.loads(stdout)
    found: set[str] = set()
    for obj in result["objects"]:
        query = parse_qs(urlsplit(obj["url"]).query)
        found.update(query["X-Amz-Signature"] + query["X-Amz-Credential"])
    return found


@pytest.mark.parametrize("flags", [("-vv",), ("-vvv",)])
def test_verbose_run_logs_no_signature(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...],
) -> None:
    _run(fake_capture, tmp_path / "out", s3_env, s3_bucket, *flags)
    captured = capsys.readouterr()
    secrets = _secrets(captured.out)
    assert len(secrets) >= 2
    err = captured.err
    assert "INFO sfs_kit." in err
    for secret in secrets:
        assert secret not in err
    assert s3_env.access_key not in err
    assert "botocore.auth" not in err
    if flags == ("-vv",):
        assert not re.search(r"^\w+ (botocore|urllib3|s3transfer)", err, re.MULTILINE)
    else:
        assert re.search(r"^DEBUG urllib3\.connectionpool: .*X-Amz-Signature=REDACTED", err,
                         re.MULTILINE), err[-2000:]
        assert "DEBUG botocore." in err


def test_logging_levels_are_restored_after_main(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts,
) -> None:
    root = logging.getLogger()
    before = (root.level, len(root.handlers), logging.getLogger("sfs_kit").level)
    assert main(["-vvv", "run", str(fake_capture), "--out", str(tmp_path / "o"), "--json"]) == 0
    after = (root.level, len(root.handlers), logging.getLogger("sfs_kit").level)
    assert after == before


def test_redaction_of_urls_headers_and_botocore_auth() -> None:
    text = ("GET /b/k?X-Amz-Algorithm=A&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc "
            "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIA/2024, Signature=ff', "
            "'X-Amz-Security-Token': b'tok'} ?AWSAccessKeyId=AK&Signature=sig")
    redacted = redact_text(text)
    for secret in ("AKIA", "abc", "ff", "tok", "=AK", "=sig"):
        assert secret not in redacted, secret
    assert "X-Amz-Algorithm=A" in redacted
    record = logging.LogRecord("botocore.auth", logging.DEBUG, __file__, 1, "Signature:\n%s",
                               ("abc",), None)
    assert RedactingFilter().filter(record) is False
    kept = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, "%s",
                             ("/k?X-Amz-Signature=abc",), None)
    assert RedactingFilter().filter(kept) is True
    assert kept.getMessage() == "/k?X-Amz-Signature=REDACTED"
