"""Reprs of URL-carrying records redact presigned signatures; the values stay usable."""

from __future__ import annotations

from datetime import UTC, datetime

from sfs_kit.pipeline.result import RunObject, RunResult
from sfs_kit.storage import SignedUrl

URL = ("https://b.s3.example/k/scene.sfs?X-Amz-Algorithm=AWS4-HMAC-SHA256"
       "&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Security-Token=tok123"
       "&X-Amz-Signature=deadbeef")
SECRETS = ("AKIAEXAMPLE", "tok123", "deadbeef")


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (secret, text)
    assert "X-Amz-Signature=REDACTED" in text


def test_signed_url_repr_is_redacted() -> None:
    signed = SignedUrl("k/scene.sfs", URL, datetime(2030, 1, 1, tzinfo=UTC), 3600, 3600)
    _clean(repr(signed))
    assert repr(signed).startswith("SignedUrl(key='k/scene.sfs', url='https://b.s3.example/")
    assert signed.url == URL
    assert "expires_at=datetime.datetime(2030, 1, 1" in repr(signed)


def _object() -> RunObject:
    return RunObject(name="scene.sfs", role="attachment", key="k/scene.sfs", url=URL, size=3,
                     sha256="0" * 64, uploaded=True, expires_at=None)


def test_run_object_and_result_reprs_are_redacted() -> None:
    obj = _object()
    _clean(repr(obj))
    _clean(str(obj))
    assert obj.url == URL
    assert obj.model_dump()["url"] == URL
    result = RunResult(
        capture="c", out_dir="o", journal_path="j", format="sfs", store="s3://b/k",
        unique_id="u", unique_id_source="derived", content_sha256="0" * 64, dry_run=False,
        task_id="t", task_status="pending", task_recovered=False, task_existing=False,
        request_path=None, attachments=[URL], objects=[obj], urls_expire_at=None,
        bytes_uploaded=3, steps=[], warnings=[],
    )
    _clean(repr(result))
    assert result.attachments == [URL]
    assert result.model_dump(mode="json")["objects"][0]["url"] == URL
