"""The API key never shows in a repr, an exception, a log line or dry-run output."""

from __future__ import annotations

import base64
import logging

import pytest
from _servers.scale_standin import API_KEY, Fault, ScaleStandin

from sfs_kit.errors import SubmitError
from sfs_kit.submit import ScaleClient, TaskRequest

from .conftest import FakeSleep

SECRETS = (API_KEY, base64.b64encode(f"{API_KEY}:".encode()).decode())


def _chain(err: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return seen


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_key_never_leaks(scale_standin: ScaleStandin, fake_sleep: FakeSleep,
                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = ScaleClient(API_KEY, base_url=scale_standin.base_url, sleep=fake_sleep,
                         create_read_timeout_s=0.3, get_read_timeout_s=0.3)
    _assert_clean(repr(client))
    _assert_clean(str(vars(client.create_multistage_task(
        TaskRequest(project="p", attachments=["https://h/s.sfs"], scene_format="sensor_fusion"),
        dry_run=True))))
    errors: list[BaseException] = []
    faults = [Fault("status", status=s) for s in (400, 402, 403, 404, 409, 500)] + [
        Fault("rate_limit", retry_after="999"), Fault("slow", delay_s=3), Fault("drop"),
        Fault("no_task_id")]
    for n, fault in enumerate(faults):
        scale_standin.inject(fault)
        request = TaskRequest(project="p", attachments=["https://h/s.sfs"],
                              scene_format="sensor_fusion", unique_id=None if n % 2 else f"u{n}")
        try:
            client.create_multistage_task(request)
        except SubmitError as err:
            errors.append(err)
    wrong = ScaleClient(API_KEY + "x", base_url=scale_standin.base_url)
    with pytest.raises(SubmitError) as info:
        wrong.get_task("t")
    errors.append(info.value)
    assert len(errors) >= 9
    for error in errors:
        for link in _chain(error):
            _assert_clean(str(link))
            _assert_clean(repr(link))
            _assert_clean(str(vars(link)))
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    _assert_clean(caplog.text)
    for record in caplog.records:
        _assert_clean(record.getMessage())
