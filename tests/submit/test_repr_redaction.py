"""Presigned attachment URLs never show their signature in a repr; the values stay exact."""

from __future__ import annotations

from sfs_kit.submit import DryRunRequest, Task, TaskRequest

URL = ("https://bucket.s3.amazonaws.com/run/scene.sfs?X-Amz-Algorithm=AWS4-HMAC-SHA256"
       "&X-Amz-Credential=AKIAEXAMPLE%2F20261128%2Fus-east-1%2Fs3%2Faws4_request"
       "&X-Amz-Signature=deadbeef0123&X-Amz-Security-Token=tok3n")


def _assert_redacted(text: str) -> None:
    assert "deadbeef0123" not in text
    assert "AKIAEXAMPLE" not in text
    assert "tok3n" not in text
    assert "X-Amz-Signature=REDACTED" in text


def test_task_request_repr_redacts_but_body_is_exact() -> None:
    request = TaskRequest(project="p", attachments=[URL], scene_format="sensor_fusion")
    _assert_redacted(repr(request))
    assert request.to_body()["attachments"] == [URL]


def test_task_and_dry_run_reprs_redact() -> None:
    task = Task(task_id="t1", params={"attachments": [URL]})
    _assert_redacted(repr(task))
    assert task.params["attachments"] == [URL]
    dry = DryRunRequest(method="POST", url="https://api.scale.com/v1/task/multistage",
                        headers={"Authorization": "Basic REDACTED"},
                        body={"attachments": [URL]})
    _assert_redacted(repr(dry))
