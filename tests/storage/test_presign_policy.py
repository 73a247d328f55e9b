"""Presign policy without a server: lifetimes, temporary credentials, redaction, stores' URLs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.credentials import RefreshableCredentials

from sfs_kit.errors import PresignError, StorageAccessDeniedError
from sfs_kit.storage import S3Store, redact_url
from sfs_kit.storage.presign import check_expires, effective_lifetime

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_redact_url_hides_signature_credential_and_token() -> None:
    url = ("https://b.s3.amazonaws.com/k%20x.sfs?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIA%2F2026&X-Amz-Date=20260101T000000Z&X-Amz-Expires=604800"
           "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FQoG%2Btoken"
           "&X-Amz-Signature=abcdef0123")
    redacted = redact_url(url)
    assert redacted == (
        "https://b.s3.amazonaws.com/k%20x.sfs?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=REDACTED&X-Amz-Date=20260101T000000Z&X-Amz-Expires=604800"
        "&X-Amz-SignedHeaders=host&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"
    )
    sigv2 = "https://h/k?AWSAccessKeyId=AKIA&Expires=1&Signature=xyz%3D"
    assert redact_url(sigv2) == "https://h/k?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED"
    assert redact_url("file:///tmp/a.sfs") == "file:///tmp/a.sfs"


def test_check_expires_refuses_more_than_seven_days() -> None:
    check_expires(604_800, 86_400, key="k")
    with pytest.raises(PresignError, match=r"URL lifetime for 'k' of 604801 s exceeds the SigV4 "
                       r"maximum of 604800 s \(7 days\)\."):
        check_expires(604_801, 0, key="k")


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_check_expires_refuses_non_positive_or_fractional(bad: Any) -> None:
    with pytest.raises(PresignError, match=r"must be a positive whole number of seconds, not"):
        check_expires(bad, 0, key="k")


def test_check_expires_refuses_negative_minimum() -> None:
    with pytest.raises(PresignError, match=r"Minimum URL lifetime must not be negative, got -1\."):
        check_expires(10, -1, key="k")


def test_effective_lifetime_without_temporary_credentials() -> None:
    assert effective_lifetime(604_800, 86_400, key="k", now=NOW, credential_expiry=None) == (
        604_800, NOW + timedelta(days=7))


def test_effective_lifetime_cut_by_credentials_warns(caplog: pytest.LogCaptureFixture) -> None:
    expiry = NOW + timedelta(hours=36)
    with caplog.at_level(logging.WARNING, logger="sfs_kit.storage.presign"):
        result = effective_lifetime(604_800, 86_400, key="k", now=NOW, credential_expiry=expiry)
    assert result == (129_600, expiry)
    assert "stops working at 2026-01-02T12:00:00+00:00" in caplog.text
    assert "after 129600 s instead of the 604800 s requested" in caplog.text


def test_effective_lifetime_below_minimum_is_an_error() -> None:
    expiry = NOW + timedelta(hours=1)
    with pytest.raises(PresignError, match=r"URL for 'k' would live 3600 s \(the signing "
                       r"credentials expire at 2026-01-01T01:00:00\+00:00\), less than the "
                       r"required minimum of 86400 s"):
        effective_lifetime(604_800, 86_400, key="k", now=NOW, credential_expiry=expiry)


def test_requested_lifetime_below_minimum_is_an_error() -> None:
    with pytest.raises(PresignError, match=r"would live 60 s \(that is the lifetime requested\)"):
        effective_lifetime(60, 86_400, key="k", now=NOW, credential_expiry=None)


class _TemporarySession(boto3.session.Session):
    """A session whose credentials are refreshable temporary ones expiring at ``expiry``."""

    def __init__(self, expiry: datetime) -> None:
        super().__init__(region_name="us-east-1")
        # botocore's session caches its credentials here; clients made from it sign with them
        credentials = RefreshableCredentials.create_from_metadata(
            metadata={"access_key": "AKIDTEMP", "secret_key": "temp-secret-value",
                      "token": "temp-token", "expiry_time": expiry.isoformat()},
            refresh_using=dict,
            method="test",
        )
        self._session._credentials = credentials  # type: ignore[attr-defined]


def test_s3_store_uses_the_session_credential_expiry(caplog: pytest.LogCaptureFixture) -> None:
    expiry = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0)
    store = S3Store("bucket", session=_TemporarySession(expiry), region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger="sfs_kit.storage.presign"):
        signed = store.url_for("scene/a.sfs")
    assert signed.expires_at == expiry
    assert 29 * 3600 < signed.effective_expires_s <= 30 * 3600
    assert signed.requested_expires_s == 604_800
    assert "X-Amz-Security-Token=" in signed.url
    assert f"stops working at {expiry.isoformat()}" in caplog.text
    assert "temp-token" not in caplog.text


def test_s3_store_refuses_urls_outliving_short_credentials() -> None:
    expiry = datetime.now(UTC) + timedelta(hours=2)
    store = S3Store("bucket", session=_TemporarySession(expiry), region_name="us-east-1")
    with pytest.raises(PresignError, match=r"URL for 'a\.sfs' would live 7\d{3} s .* less than "
                       r"the required minimum of 86400 s"):
        store.url_for("a.sfs")
    assert store.url_for("a.sfs", min_lifetime_s=3600).effective_expires_s <= 7200


def test_static_session_token_of_unknown_expiry_warns(caplog: pytest.LogCaptureFixture) -> None:
    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="s",
        aws_session_token="tok",
    )
    store = S3Store("bucket", client=client)
    with caplog.at_level(logging.WARNING, logger="sfs_kit.storage.s3"):
        signed = store.url_for("a.sfs")
    assert signed.effective_expires_s == 604_800
    assert "temporary credentials of unknown expiry" in caplog.text


def test_s3_store_refuses_more_than_seven_days_before_signing() -> None:
    store = S3Store("bucket", client=boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="s"))
    with pytest.raises(PresignError, match=r"exceeds the SigV4 maximum of 604800 s"):
        store.url_for("a.sfs", expires_s=8 * 86_400)


def test_presigning_without_credentials_is_access_denied() -> None:
    store = S3Store("bucket", region_name="us-east-1")  # the autouse fixture hides all credentials
    with pytest.raises(StorageAccessDeniedError, match=r"S3 presign of s3://bucket/a\.sfs failed: "
                       r"no AWS credentials were found"):
        store.url_for("a.sfs")
