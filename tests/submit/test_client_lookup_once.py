"""Spec §5.5 item 5: after an ambiguous attempt with a unique_id, any failure that ends the call
(retries exhausted, a Retry-After over 300 s, a non-retryable status) first gets one lookup."""

from __future__ import annotations

import pytest
from _servers.scale_standin import Fault, ScaleStandin

from sfs_kit.errors import RateLimitedError, ScaleRequestError
from sfs_kit.submit import ScaleClient, Task, TaskRequest

SFS = "https://bucket.example/scene.sfs"


def _request() -> TaskRequest:
    return TaskRequest(project="proj", attachments=[SFS], scene_format="sensor_fusion",
                       unique_id="uid-5")


def _create(client: ScaleClient, request: TaskRequest) -> Task:
    task = client.create_multistage_task(request)
    assert isinstance(task, Task)
    return task


def test_ambiguous_then_long_retry_after_looks_up_once(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    scale_standin.inject(Fault("slow", delay_s=5.0),
                         Fault("status", status=503, retry_after="600"))
    task = _create(client, _request())
    assert task.recovered is True
    assert task.task_id == scale_standin.tasks[0]["task_id"]
    assert [r.method for r in scale_standin.requests] == ["POST", "POST", "GET"]


def test_ambiguous_then_400_looks_up_once(client: ScaleClient,
                                          scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("slow", delay_s=5.0), Fault("status", status=400))
    task = _create(client, _request())
    assert task.recovered is True
    assert [r.method for r in scale_standin.requests] == ["POST", "POST", "GET"]


def test_ambiguous_without_creation_then_400_raises_after_the_lookup(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    scale_standin.inject(Fault("slow", delay_s=5.0, create=False), Fault("status", status=400))
    with pytest.raises(ScaleRequestError, match=r"HTTP 400 .*Stand-in fault"):
        client.create_multistage_task(_request())
    assert [r.method for r in scale_standin.requests] == ["POST", "POST", "GET"]


def test_long_retry_after_without_ambiguity_does_not_look_up(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    scale_standin.inject(Fault("status", status=429, retry_after="600"))
    with pytest.raises(RateLimitedError, match=r"retry after 600 s"):
        client.create_multistage_task(_request())
    assert [r.method for r in scale_standin.requests] == ["POST"]
