"""Scale batches through the client: create once (reuse by name), retrieve, finalize; throttling."""

from __future__ import annotations

import pytest
from _servers.scale_standin import Fault, ScaleStandin

from sfs_kit.errors import ScaleApiError, ScaleNotFoundError, TaskRequestError
from sfs_kit.submit import ScaleClient

from .conftest import FakeSleep


def test_create_batch_then_reuse_by_name(client: ScaleClient, scale_standin: ScaleStandin) -> None:
    first = client.create_batch("proj", "night-01", metadata={"site": "a"})
    assert (first.name, first.project, first.status, first.existing) == (
        "night-01", "proj", "staging", False)
    again = client.create_batch("proj", "night-01")
    assert again.existing
    assert again.status == "staging"
    assert list(scale_standin.batches) == ["night-01"]
    assert scale_standin.batches["night-01"]["metadata"] == {"site": "a"}


def test_batch_of_another_project_is_refused(client: ScaleClient) -> None:
    client.create_batch("proj", "shared")
    with pytest.raises(ScaleApiError, match=r"already exists in project 'proj', not in 'other'"):
        client.create_batch("other", "shared")


def test_finalize_moves_staging_to_in_progress_and_twice_is_fine(client: ScaleClient) -> None:
    client.create_batch("proj", "b 1/x")  # quoted in the path
    assert client.get_batch("b 1/x").status == "staging"
    assert client.finalize_batch("b 1/x").status == "in_progress"
    assert client.finalize_batch("b 1/x").status == "in_progress"


def test_missing_batch_is_not_found(client: ScaleClient) -> None:
    with pytest.raises(ScaleNotFoundError, match="not found"):
        client.get_batch("nope")
    with pytest.raises(ScaleNotFoundError):
        client.finalize_batch("nope")


def test_empty_batch_name_is_refused_before_sending(client: ScaleClient,
                                                    scale_standin: ScaleStandin) -> None:
    with pytest.raises(TaskRequestError, match="Batch name must be a non-empty string"):
        client.create_batch("proj", " ")
    assert scale_standin.requests == []


def test_batch_create_is_retried_after_a_500(client: ScaleClient, scale_standin: ScaleStandin,
                                             fake_sleep: FakeSleep) -> None:
    scale_standin.inject(Fault("status", path="/v1/batches", status=503, retry_after="2"))
    batch = client.create_batch("proj", "retry")
    assert batch.status == "staging"
    assert fake_sleep.delays == [2.0]


class _Throttle:
    def __init__(self) -> None:
        self.waits = 0
        self.heard: list[float] = []

    def wait(self) -> None:
        self.waits += 1

    def retry_after(self, seconds: float) -> None:
        self.heard.append(seconds)


def test_throttle_sees_every_request_and_every_retry_after(
    scale_standin: ScaleStandin, fake_sleep: FakeSleep,
) -> None:
    throttle = _Throttle()
    with ScaleClient(scale_standin.api_key, base_url=scale_standin.base_url, sleep=fake_sleep,
                     throttle=throttle) as client:
        scale_standin.inject(Fault("rate_limit", method="GET", retry_after="3"))
        client.create_batch("proj", "t")
        assert client.get_batch("t").name == "t"
    assert throttle.waits == 3  # the POST, the 429'd GET, the retried GET
    assert throttle.heard == [3.0]
