"""ScaleClient against the local stand-in: success, error mapping, retries and duplicate safety."""

from __future__ import annotations

import base64
import json
import random
import socket
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from _servers.scale_standin import API_KEY, Fault, ScaleStandin

from sfs_kit.errors import (
    DuplicateTaskError,
    OutcomeUnknownError,
    RateLimitedError,
    ScaleApiError,
    ScaleAuthError,
    ScaleNetworkError,
    ScaleNotFoundError,
    ScalePaymentError,
    ScaleRequestError,
    ScaleServerError,
    SubmitError,
)
from sfs_kit.submit import DryRunRequest, ScaleClient, Task, TaskRequest
from sfs_kit.submit.client import USER_AGENT

from .conftest import FakeSleep

SFS = "https://bucket.example/scene.sfs"
CREATE = "/v1/task/multistage"


def _request(unique_id: str | None = "uid-1", attachments: list[str] | None = None) -> TaskRequest:
    return TaskRequest(project="proj", attachments=attachments or [SFS],
                       scene_format="sensor_fusion", unique_id=unique_id,
                       metadata={"scene": "a"})


def _create(client: ScaleClient, request: TaskRequest, **kwargs: object) -> Task:
    task = client.create_multistage_task(request, **kwargs)  # type: ignore[arg-type]
    assert isinstance(task, Task)
    return task


# --- the happy path ----------------------------------------------------------------------------


def test_create_sends_the_documented_request(client: ScaleClient,
                                             scale_standin: ScaleStandin) -> None:
    request = _request()
    task = _create(client, request)
    assert task.task_id == scale_standin.tasks[0]["task_id"]
    assert (task.status, task.type, task.unique_id, task.recovered) == (
        "pending", "multistage", "uid-1", False)
    assert task.params["attachments"] == [SFS]
    assert task.model_extra is not None
    assert task.model_extra["project"] == "proj"
    [sent] = scale_standin.requests
    assert (sent.method, sent.path, sent.body) == ("POST", CREATE, request.to_body())
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {token}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("sfs_kit/0.")
    assert " python/3." in USER_AGENT
    assert "Idempotency-Key" not in sent.headers


def test_get_task_and_find_by_unique_id(client: ScaleClient) -> None:
    task = _create(client, _request())
    assert client.get_task(task.task_id).task_id == task.task_id
    assert [t.task_id for t in client.find_tasks_by_unique_id("uid-1")] == [task.task_id]
    assert client.find_tasks_by_unique_id("nope") == []
    with pytest.raises(ScaleNotFoundError, match=r"Scale answered HTTP 404 to GET /v1/task/x%2Fy: "
                                                 r"Task x/y not found\."):
        client.get_task("x/y")


def test_dry_run_returns_the_request_without_sending(scale_standin: ScaleStandin) -> None:
    client = ScaleClient(API_KEY, base_url=scale_standin.base_url + "/")
    dry = client.create_multistage_task(_request(), dry_run=True, idempotency_key="k-1")
    assert isinstance(dry, DryRunRequest)
    assert (dry.method, dry.url) == ("POST", scale_standin.base_url + CREATE)
    assert dry.headers == {"Content-Type": "application/json", "Accept": "application/json",
                           "User-Agent": USER_AGENT, "Authorization": "Basic <redacted>",
                           "Idempotency-Key": "k-1"}
    assert dry.body == _request().to_body()
    assert scale_standin.requests == []
    # without any key, a dry run still works
    keyless = ScaleClient(base_url=scale_standin.base_url)
    assert isinstance(keyless.create_multistage_task(_request(), dry_run=True), DryRunRequest)


def test_base_url_and_key_from_environment(monkeypatch: pytest.MonkeyPatch,
                                           scale_standin: ScaleStandin) -> None:
    monkeypatch.setenv("SCALE_API_KEY", API_KEY)
    monkeypatch.setenv("SCALE_API_BASE_URL", scale_standin.base_url)
    _create(ScaleClient(), _request())
    assert len(scale_standin.tasks) == 1
    assert ScaleClient(base_url="https://x.example").base_url == "https://x.example"
    monkeypatch.delenv("SCALE_API_BASE_URL")
    assert ScaleClient().base_url == "https://api.scale.com"


def test_missing_key_is_refused_before_sending(scale_standin: ScaleStandin) -> None:
    client = ScaleClient(base_url=scale_standin.base_url)
    with pytest.raises(ScaleAuthError, match=r"No Scale API key: pass api_key= or set "
                                             r"SCALE_API_KEY") as info:
        client.create_multistage_task(_request())
    assert info.value.status_code == 0
    assert scale_standin.requests == []


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"base_url": "ftp://h"}, r"Scale base URL must be an http\(s\) URL with a host and no "
                              r"query, found 'ftp://h'\."),
    ({"connect_timeout_s": 0}, r"connect_timeout_s must be a positive number of seconds, found 0; "
                               r"timeouts cannot be disabled\."),
    ({"create_read_timeout_s": float("inf")}, r"create_read_timeout_s .* found inf"),
    ({"get_read_timeout_s": None}, r"get_read_timeout_s .* found None"),
    ({"deadline_s": -1}, r"deadline_s .* found -1"),
    ({"max_attempts": 0}, r"max_attempts must be an int >= 1, found 0\."),
])
def test_client_settings_are_checked(kwargs: dict[str, object], pattern: str) -> None:
    from sfs_kit.errors import InputError

    with pytest.raises(InputError, match=pattern):
        ScaleClient("k", **kwargs)  # type: ignore[arg-type]


def test_call_arguments_are_checked(client: ScaleClient) -> None:
    from sfs_kit.errors import TaskRequestError

    with pytest.raises(TaskRequestError, match=r"request must be a TaskRequest, found a dict\."):
        client.create_multistage_task({"project": "p"})  # type: ignore[arg-type]
    with pytest.raises(TaskRequestError, match=r"on_duplicate must be 'raise' or "
                                               r"'return_existing', found 'ignore'\."):
        client.create_multistage_task(_request(), on_duplicate="ignore")  # type: ignore[arg-type]
    with pytest.raises(TaskRequestError, match=r"idempotency_key must be a non-empty string"):
        client.create_multistage_task(_request(), idempotency_key=" ")
    with pytest.raises(TaskRequestError, match=r"task_id must be a non-empty string, found ''\."):
        client.get_task("")
    with pytest.raises(TaskRequestError, match=r"unique_id must be a non-empty string, found ''"):
        client.find_tasks_by_unique_id("")


# --- error mapping (spec 5.4) ------------------------------------------------------------------


def test_400_carries_the_server_message(client: ScaleClient, scale_standin: ScaleStandin) -> None:
    # extras are passed through unvalidated, so the server gets to say no.
    request = TaskRequest(project="p", attachments=[SFS, "https://h/b.sfs"],
                          scene_format="split_base64",
                          field_names={"scene_format": "attachment_type"})
    with pytest.raises(ScaleRequestError, match=r"Scale answered HTTP 400 to POST "
                                                r"/v1/task/multistage: scene_format must be "
                                                r"sensor_fusion or split_base64\.") as info:
        client.create_multistage_task(request)
    assert info.value.status_code == 400
    assert '"status_code": 400' in info.value.body_excerpt
    assert len(scale_standin.posts()) == 1


def test_401_wrong_key(scale_standin: ScaleStandin) -> None:
    client = ScaleClient("wrong-key", base_url=scale_standin.base_url)
    with pytest.raises(ScaleAuthError, match=r"HTTP 401 .*Please provide a valid API key\."):
        client.create_multistage_task(_request())


@pytest.mark.parametrize(("status", "cls"), [
    (402, ScalePaymentError), (403, ScaleApiError), (404, ScaleNotFoundError),
    (418, ScaleApiError),
])
def test_non_retryable_statuses(client: ScaleClient, scale_standin: ScaleStandin, status: int,
                                cls: type[ScaleApiError]) -> None:
    scale_standin.inject(Fault("status", status=status))
    with pytest.raises(cls, match=rf"Scale answered HTTP {status} to POST /v1/task/multistage: "
                                  r"Stand-in fault\.") as info:
        client.create_multistage_task(_request())
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert len(scale_standin.posts()) == 1


# --- retries when retry-safe (D25) -------------------------------------------------------------


def test_backoff_delays_and_exhaustion(client: ScaleClient, scale_standin: ScaleStandin,
                                       fake_sleep: FakeSleep) -> None:
    scale_standin.inject(*[Fault("status", status=503)] * 5)
    with pytest.raises(ScaleServerError, match=r"HTTP 503 .*Stand-in fault\."):
        client.create_multistage_task(_request())
    rng = random.Random(7)
    expected = [min(60, 2 ** (n - 1)) * rng.uniform(0.5, 1.0) for n in (1, 2, 3, 4)]
    assert fake_sleep.delays == pytest.approx(expected)
    assert len(scale_standin.posts()) == 5
    # a 5xx may have created the task: one lookup (finding nothing) before raising
    assert [r.method for r in scale_standin.requests] == ["POST"] * 5 + ["GET"]


def test_retry_succeeds_after_408_and_5xx(client: ScaleClient, scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("status", status=408), Fault("status", status=502))
    task = _create(client, _request())
    assert task.recovered is False
    assert len(scale_standin.posts()) == 3
    assert len(scale_standin.tasks) == 1


@pytest.mark.parametrize("retry_after", ["3", "HTTP-DATE"])
def test_429_honours_retry_after(client: ScaleClient, scale_standin: ScaleStandin,
                                 fake_sleep: FakeSleep, retry_after: str) -> None:
    if retry_after == "HTTP-DATE":
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    scale_standin.inject(Fault("rate_limit", retry_after=retry_after))
    _create(client, _request())
    [delay] = fake_sleep.delays
    if retry_after == "3":
        assert delay == 3.0
    else:
        assert 100 < delay <= 120
    assert len(scale_standin.tasks) == 1


def test_429_asking_more_than_300_s_stops(client: ScaleClient, scale_standin: ScaleStandin,
                                          fake_sleep: FakeSleep) -> None:
    scale_standin.inject(Fault("rate_limit", retry_after="301"))
    with pytest.raises(RateLimitedError, match=r"HTTP 429 .*Too many requests; it asks to retry "
                                               r"after 301 s, more than the 300 s this client "
                                               r"waits\.") as info:
        client.create_multistage_task(_request())
    assert info.value.retry_after == 301.0
    assert fake_sleep.delays == []
    assert len(scale_standin.posts()) == 1


def test_429_without_unique_id_is_not_retried(client: ScaleClient,
                                              scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("rate_limit", retry_after="1"))
    with pytest.raises(RateLimitedError, match=r"HTTP 429") as info:
        client.create_multistage_task(_request(unique_id=None))
    assert info.value.retry_after == 1.0
    assert len(scale_standin.posts()) == 1


def test_deadline_stops_retrying(scale_standin: ScaleStandin) -> None:
    now = [0.0]
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += seconds

    client = ScaleClient(API_KEY, base_url=scale_standin.base_url, sleep=sleep,
                         clock=lambda: now[0], deadline_s=5.0, rng=random.Random(1))
    scale_standin.inject(*[Fault("status", status=503)] * 5)
    with pytest.raises(ScaleServerError, match="HTTP 503"):
        client.create_multistage_task(_request())
    assert sum(delays) < 5.0
    assert len(scale_standin.posts()) == len(delays) + 1 < 5


# --- ambiguous outcomes and duplicates (D26) ---------------------------------------------------


def test_500_after_create_recovers_the_task(client: ScaleClient,
                                            scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("error_after_create", status=500))
    task = _create(client, _request())
    assert task.recovered is True
    assert [t["task_id"] for t in scale_standin.tasks] == [task.task_id]
    assert [(r.method, r.path) for r in scale_standin.requests] == [
        ("POST", CREATE), ("POST", CREATE), ("GET", "/v1/tasks?unique_id=uid-1")]


def test_500_without_unique_id_is_not_resent(client: ScaleClient,
                                             scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("error_after_create", status=500))
    with pytest.raises(ScaleServerError, match=r"HTTP 500 .*Internal error; the task may have "
                                               r"been created, and without a unique_id or "
                                               r"Idempotency-Key the request is not sent again\."):
        client.create_multistage_task(_request(unique_id=None))
    assert len(scale_standin.posts()) == 1


@pytest.mark.parametrize("fault", [
    Fault("slow", delay_s=5.0), Fault("drop"), Fault("no_task_id"),
], ids=["read-timeout", "dropped-after-create", "2xx-without-task_id"])
def test_ambiguous_with_unique_id_recovers(client: ScaleClient, scale_standin: ScaleStandin,
                                           fault: Fault) -> None:
    scale_standin.inject(fault)
    task = _create(client, _request())
    assert task.recovered is True
    assert len(scale_standin.tasks) == 1
    assert len(scale_standin.posts()) == 2


def test_dropped_before_create_is_retried(client: ScaleClient,
                                          scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("drop", create=False), Fault("slow", create=False, delay_s=5.0))
    task = _create(client, _request())
    assert task.recovered is False
    assert len(scale_standin.tasks) == 1
    assert len(scale_standin.posts()) == 3


@pytest.mark.parametrize(("fault", "pattern"), [
    (Fault("slow", delay_s=5.0), r"timed out waiting for the answer \(ReadTimeoutError\)"),
    (Fault("drop"), r"the connection broke \(ProtocolError\)"),
    (Fault("drop", create=False), r"the connection broke \(ProtocolError\)"),
    (Fault("no_task_id"), r"answered HTTP 200 without a task_id"),
], ids=["read-timeout", "dropped-after-create", "dropped-before-create", "2xx-without-task_id"])
def test_ambiguous_without_unique_id_raises_outcome_unknown(
    client: ScaleClient, scale_standin: ScaleStandin, fault: Fault, pattern: str
) -> None:
    scale_standin.inject(fault)
    with pytest.raises(OutcomeUnknownError, match=pattern) as info:
        client.create_multistage_task(_request(unique_id=None))
    assert "the task may or may not exist, and without a unique_id or Idempotency-Key it is " \
           "not sent again." in str(info.value)
    assert len(scale_standin.posts()) == 1


def test_409_on_first_attempt_is_a_duplicate(client: ScaleClient,
                                             scale_standin: ScaleStandin) -> None:
    first = _create(client, _request())
    with pytest.raises(DuplicateTaskError, match=r"HTTP 409 .*already used for a different task "
                                                 rf"\({first.task_id}\)\.") as info:
        client.create_multistage_task(_request())
    assert info.value.existing_task_id == first.task_id
    again = _create(client, _request(), on_duplicate="return_existing")
    assert (again.task_id, again.recovered) == (first.task_id, False)
    assert len(scale_standin.tasks) == 1


def test_409_after_ambiguous_attempt_with_other_attachments(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    other = _create(client, _request(attachments=["https://h/other.sfs"]))
    scale_standin.inject(Fault("status", status=500))  # ambiguous, created nothing
    with pytest.raises(DuplicateTaskError, match=r"HTTP 409") as info:
        client.create_multistage_task(_request())
    assert info.value.existing_task_id == other.task_id
    assert len(scale_standin.tasks) == 1


def test_exhausted_after_ambiguous_attempt_looks_up_once(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    scale_standin.inject(Fault("error_after_create"), *[Fault("status", status=503)] * 4)
    task = _create(client, _request())
    assert task.recovered is True
    assert [r.method for r in scale_standin.requests] == ["POST"] * 5 + ["GET"]


def test_exhausted_without_unique_id_but_idempotency_key(client: ScaleClient,
                                                         scale_standin: ScaleStandin) -> None:
    scale_standin.inject(*[Fault("status", status=500)] * 5)
    with pytest.raises(OutcomeUnknownError, match=r"failed 5 times and at least one attempt may "
                                                  r"have created the task"):
        client.create_multistage_task(_request(unique_id=None), idempotency_key="k-1")
    assert len(scale_standin.posts()) == 5


def test_idempotency_key_recovery(client: ScaleClient, scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("error_after_create"))
    task = _create(client, _request(unique_id=None), idempotency_key="k-1")
    assert task.recovered is True
    assert [(r.method, r.path) for r in scale_standin.requests] == [
        ("POST", CREATE), ("POST", CREATE), ("GET", f"/v1/task/{task.task_id}")]
    assert all(r.headers["Idempotency-Key"] == "k-1" for r in scale_standin.posts())


def test_idempotency_key_recovery_not_found(client: ScaleClient,
                                            scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("error_after_create"), Fault("status", method="GET", status=404))
    with pytest.raises(OutcomeUnknownError, match=r"answered 409 naming task '\w+' after an "
                                                  r"ambiguous attempt, but that task cannot be "
                                                  r"found"):
        client.create_multistage_task(_request(unique_id=None), idempotency_key="k-1")
    assert len(scale_standin.tasks) == 1


def test_idempotency_key_409_without_task_id(client: ScaleClient,
                                             scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("status", status=500), Fault("status", status=409))
    with pytest.raises(OutcomeUnknownError, match=r"answered 409 after an ambiguous attempt, but "
                                                  r"the message names no task id; the task may "
                                                  r"or may not exist\."):
        client.create_multistage_task(_request(unique_id=None), idempotency_key="k-1")


def test_lookup_failure_after_ambiguous_attempt(client: ScaleClient,
                                                scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("error_after_create"), Fault("status", method="GET", status=401))
    with pytest.raises(OutcomeUnknownError, match=r"looking up unique_id 'uid-1' failed"):
        client.create_multistage_task(_request())


def test_gets_are_retried(client: ScaleClient, scale_standin: ScaleStandin,
                          fake_sleep: FakeSleep) -> None:
    task = _create(client, _request())
    scale_standin.inject(Fault("status", method="GET", status=503), Fault("drop", method="GET"),
                         Fault("rate_limit", method="GET", retry_after="2"))
    assert client.get_task(task.task_id).task_id == task.task_id
    assert len(fake_sleep.delays) == 3
    assert fake_sleep.delays[2] == 2.0


def test_get_task_answer_without_task_id(client: ScaleClient,
                                        scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("status", method="GET", status=200))
    with pytest.raises(ScaleApiError, match=r"GET /v1/task/t1 answered without a task_id\."):
        client.get_task("t1")
    scale_standin.inject(Fault("status", method="GET", status=200, body="<html>ok</html>"))
    with pytest.raises(ScaleApiError, match=r"GET /v1/task/t1 answered HTTP 200 with a body that "
                                            r"is not JSON\.") as info:
        client.get_task("t1")
    assert info.value.body_excerpt == "<html>ok</html>"
    scale_standin.inject(Fault("status", method="GET", status=200,
                               body='{"task_id": "t1", "params": [1], "x": 2}'))
    assert client.get_task("t1") == Task(task_id="t1")  # odd field types: keep the id


def test_2xx_create_answer_that_is_not_json(client: ScaleClient,
                                            scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("status", status=201, body="Created"))
    with pytest.raises(OutcomeUnknownError, match=r"answered HTTP 201 without a task_id"):
        client.create_multistage_task(_request(unique_id=None))


def test_get_with_a_body_that_is_not_a_task(client: ScaleClient,
                                            scale_standin: ScaleStandin) -> None:
    scale_standin.inject(Fault("no_task_id", method="GET", status=200))
    with pytest.raises(ScaleApiError, match=r"GET /v1/tasks\?unique_id=u answered without a "
                                            r"'docs' list of tasks\."):
        client.find_tasks_by_unique_id("u")


# --- connect-phase failures: nothing sent, always retried ---------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connect_failure_is_retried_even_without_unique_id() -> None:
    port = _free_port()
    servers: list[ScaleStandin] = []

    def start_server(seconds: float) -> None:
        if not servers:
            servers.append(ScaleStandin(port=port).start())

    client = ScaleClient(API_KEY, base_url=f"http://127.0.0.1:{port}", sleep=start_server)
    try:
        task = _create(client, _request(unique_id=None))
        [server] = servers
        assert [t["task_id"] for t in server.tasks] == [task.task_id]
        assert len(server.posts()) == 1
    finally:
        for server in servers:
            server.stop()


def test_connect_failures_exhaust_attempts(fake_sleep: FakeSleep) -> None:
    client = ScaleClient(API_KEY, base_url=f"http://127.0.0.1:{_free_port()}", sleep=fake_sleep)
    with pytest.raises(ScaleNetworkError, match=r"POST /v1/task/multistage failed: could not "
                                                r"connect \(NewConnectionError\); nothing was "
                                                r"sent\.") as info:
        client.create_multistage_task(_request(unique_id=None))
    assert info.value.sent is False
    assert len(fake_sleep.delays) == 4


# --- the guarantee, under every fault ----------------------------------------------------------

ALL_FAULTS = [
    Fault("status", status=500), Fault("error_after_create"), Fault("rate_limit", retry_after="1"),
    Fault("slow", delay_s=5.0), Fault("slow", delay_s=5.0, create=False), Fault("drop"),
    Fault("drop", create=False), Fault("no_task_id"), Fault("status", status=408),
]


@pytest.mark.parametrize("unique_id", ["uid-g", None])
@pytest.mark.parametrize("fault", ALL_FAULTS, ids=lambda f: f"{f.kind}-{f.status}-{f.create}")
def test_never_a_duplicate(client: ScaleClient, scale_standin: ScaleStandin, fault: Fault,
                           unique_id: str | None) -> None:
    scale_standin.inject(fault, fault)  # the same fault twice in a row
    try:
        task: Task | None = _create(client, _request(unique_id=unique_id))
    except SubmitError:
        task = None
    tasks = scale_standin.tasks
    per_uid = Counter(t.get("unique_id") for t in tasks if t.get("unique_id"))
    assert all(n <= 1 for n in per_uid.values())
    if unique_id is None:
        assert len(scale_standin.posts()) == 1
        assert len(tasks) <= 1
    else:
        assert task is not None  # retry-safe requests end with the task
        assert [t["task_id"] for t in tasks] == [task.task_id]
    bodies = {json.dumps(r.body, sort_keys=True) for r in scale_standin.posts()}
    assert len(bodies) == 1  # every retry re-sends the identical body
