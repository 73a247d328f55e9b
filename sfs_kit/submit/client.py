"""``ScaleClient``: a thin client for ``POST /v1/task/multistage`` that never creates a duplicate.

Policy (spec §5.5, D25-D27): a POST is re-sent only when it is *retry-safe* (its body has a
``unique_id`` or it carries an ``Idempotency-Key``), except after connect-phase failures, where
nothing was sent. An ambiguous outcome of an unsafe POST raises ``OutcomeUnknownError``. A 409 after
an ambiguous attempt means our own earlier attempt worked, so the task is looked up and returned
with ``recovered=True``; any other failure that ends the call after an ambiguous attempt (retries
exhausted, a Retry-After over 300 s, a non-retryable status) first gets one lookup by unique_id.
Every request has a connect and a read timeout, and the whole call a deadline. urllib3 retries
nothing itself (``retries=False``); this module's loop does.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import platform
import random
import time
from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from pydantic import ValidationError

from sfs_kit._version import __version__
from sfs_kit.errors import (
    DuplicateTaskError,
    InputError,
    OutcomeUnknownError,
    ScaleApiError,
    ScaleAuthError,
    ScaleNetworkError,
    ScaleNotFoundError,
    ScaleRequestError,
    SubmitError,
    TaskRequestError,
)
from sfs_kit.submit._errors import error_for_response, map_urllib3_exceptions, parse_retry_after
from sfs_kit.submit.request import TaskRequest, compact_json
from sfs_kit.submit.task import Batch, DryRunRequest, Task

__all__ = [
    "BATCHES_PATH",
    "CREATE_PATH",
    "DEFAULT_BASE_URL",
    "MAX_RETRY_AFTER_S",
    "USER_AGENT",
    "RequestThrottle",
    "ScaleClient",
    "attachment_target",
    "differing_settings",
    "task_mismatch",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.scale.com"
CREATE_PATH = "/v1/task/multistage"
BATCHES_PATH = "/v1/batches"
MAX_RETRY_AFTER_S = 300.0
MAX_BACKOFF_S = 60.0
USER_AGENT = f"sfs_kit/{__version__} python/{platform.python_version()}"
REDACTED = "Basic <redacted>"
OnDuplicate = Literal["raise", "return_existing"]


class RequestThrottle(Protocol):
    """A hook shared by many clients (a fleet of workers): ``wait`` runs before every request
    and may block; ``retry_after`` hears every 429/503 Retry-After, so one worker's answer can
    slow them all. ``sfs_kit.batch`` implements it across processes and Ray workers."""

    def wait(self) -> None: ...

    def retry_after(self, seconds: float) -> None: ...


def _time_sleep(seconds: float) -> None:
    """``time.sleep``, looked up at call time (so a patched ``time.sleep`` applies)."""
    time.sleep(seconds)


class _Failure(NamedTuple):
    """A failed attempt that may be retried, with the server's Retry-After if honoured."""

    error: SubmitError
    retry_after_s: float | None = None


class _Response(NamedTuple):
    status: int
    data: bytes
    retry_after: float | None


class _Attempts:
    """Counts the attempts of one call and decides the delay before the next (D25)."""

    def __init__(self, client: ScaleClient) -> None:
        self._client = client
        self.count = 0
        self._deadline = client._clock() + client.deadline_s

    def remaining_s(self) -> float:
        return self._deadline - self._client._clock()

    def next_delay_s(self, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt ``count + 1``, or None when attempts or time ran out."""
        client = self._client
        if self.count >= client.max_attempts:
            return None
        if retry_after is None:
            backoff_s = min(MAX_BACKOFF_S, 2.0 ** (self.count - 1))
            retry_after = backoff_s * client._rng.uniform(0.5, 1.0)
        if retry_after >= self.remaining_s():
            return None
        return retry_after


class ScaleClient:
    """Client for Scale's multi-stage task endpoint; one urllib3 PoolManager per client.

    The API key comes from ``api_key`` or ``SCALE_API_KEY``; the base URL from ``base_url``,
    ``SCALE_API_BASE_URL`` or ``https://api.scale.com``. ``sleep``, ``rng`` and ``clock`` are
    injectable so tests run without waiting; ``throttle`` (a ``RequestThrottle``) is consulted
    around every request. The key never appears in a repr, log or exception.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        connect_timeout_s: float = 10.0,
        create_read_timeout_s: float = 120.0,
        get_read_timeout_s: float = 30.0,
        max_attempts: int = 5,
        deadline_s: float = 600.0,
        sleep: Callable[[float], object] = _time_sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        throttle: RequestThrottle | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("SCALE_API_KEY")
        self._api_key = key or None
        self.base_url = _checked_base_url(
            base_url or os.environ.get("SCALE_API_BASE_URL") or DEFAULT_BASE_URL
        )
        for name, value in (("connect_timeout_s", connect_timeout_s),
                            ("create_read_timeout_s", create_read_timeout_s),
                            ("get_read_timeout_s", get_read_timeout_s),
                            ("deadline_s", deadline_s)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(f"ScaleClient {name} must be a positive number of seconds, "
                                 f"found {value!r}; timeouts cannot be disabled.", field=name)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InputError(f"ScaleClient max_attempts must be an int >= 1, found "
                             f"{max_attempts!r}.", field="max_attempts")
        self.connect_timeout_s = float(connect_timeout_s)
        self.create_read_timeout_s = float(create_read_timeout_s)
        self.get_read_timeout_s = float(get_read_timeout_s)
        self.max_attempts = max_attempts
        self.deadline_s = float(deadline_s)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 (jitter, not crypto)
        self._clock = clock
        self._throttle = throttle
        self._pool = urllib3.PoolManager(retries=False)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"ScaleClient(base_url={self.base_url!r}, api_key=<{key}>)"

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()

    def __enter__(self) -> ScaleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public calls --------------------------------------------------------------------------

    def create_multistage_task(
        self,
        request: TaskRequest,
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
        on_duplicate: OnDuplicate = "raise",
    ) -> Task | DryRunRequest:
        """Create one multi-stage task (or, with ``dry_run``, return the request unsent)."""
        if not isinstance(request, TaskRequest):
            raise TaskRequestError(f"request must be a TaskRequest, found a "
                                   f"{type(request).__name__}.", field="request", rule="type")
        if on_duplicate not in ("raise", "return_existing"):
            raise TaskRequestError(f"on_duplicate must be 'raise' or 'return_existing', found "
                                   f"{on_duplicate!r}.", field="on_duplicate", rule="one_of")
        if idempotency_key is not None and not idempotency_key.strip():
            raise TaskRequestError(f"idempotency_key must be a non-empty string, found "
                                   f"{idempotency_key!r}.", field="idempotency_key",
                                   rule="non_empty")
        body = request.to_body()
        data = compact_json(body).encode("utf-8")
        extra_headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if dry_run:
            headers = self._headers(json_body=True, extra=extra_headers, redact=True)
            return DryRunRequest(method="POST", url=self.base_url + CREATE_PATH, headers=headers,
                                 body=body)
        headers = self._headers(json_body=True, extra=extra_headers)
        return _CreateCall(self, request, data, headers, idempotency_key=idempotency_key,
                           on_duplicate=on_duplicate).run()

    def get_task(self, task_id: str) -> Task:
        """``GET /v1/task/<task_id>``; retried on 408, 429, 5xx and network failures."""
        if not isinstance(task_id, str) or not task_id.strip():
            raise TaskRequestError(f"task_id must be a non-empty string, found {task_id!r}.",
                                   field="task_id", rule="non_empty")
        path = f"/v1/task/{quote(task_id, safe='')}"
        payload = self._request_json("GET", path)[1]
        task = _task_or_none(payload)
        if task is None:
            raise ScaleApiError(f"GET {path} answered without a task_id.", status_code=200,
                                body_excerpt=_excerpt(payload))
        return task

    def find_tasks_by_unique_id(self, unique_id: str) -> list[Task]:
        """``GET /v1/tasks?unique_id=<id>``: the tasks (0 or 1 in practice) with that unique_id."""
        if not isinstance(unique_id, str) or not unique_id.strip():
            raise TaskRequestError(f"unique_id must be a non-empty string, found {unique_id!r}.",
                                   field="unique_id", rule="non_empty")
        path = "/v1/tasks?" + urlencode({"unique_id": unique_id})
        payload = self._request_json("GET", path)[1]
        docs = payload.get("docs") if isinstance(payload, dict) else None
        tasks = [_task_or_none(doc) for doc in docs] if isinstance(docs, list) else [None]
        if any(task is None for task in tasks):
            raise ScaleApiError(f"GET {path} answered without a 'docs' list of tasks.",
                                status_code=200, body_excerpt=_excerpt(payload))
        return [task for task in tasks if task is not None]

    def create_batch(self, project: str, name: str, *, callback: str | None = None,
                     metadata: dict[str, object] | None = None) -> Batch:
        """``POST /v1/batches``: a new batch in ``project``; an existing batch of that name in
        the same project is returned with ``existing=True`` (the name is the batch's identity, so
        the POST is safe to repeat). A batch of that name in another project raises
        ``ScaleApiError`` (409)."""
        for label, value in (("project", project), ("name", name)):
            if not isinstance(value, str) or not value.strip():
                raise TaskRequestError(f"Batch {label} must be a non-empty string, found "
                                       f"{value!r}.", field=label, rule="non_empty")
        body: dict[str, object] = {"project": project, "name": name, "metadata": metadata or {}}
        if callback is not None:
            body["callback"] = callback
        status, payload = self._request_json("POST", BATCHES_PATH, body, conflict_ok=True)
        if status == 409:
            batch = self.get_batch(name)
            if batch.project is not None and batch.project != project:
                raise ScaleApiError(
                    f"Batch {name!r} already exists in project {batch.project!r}, not in "
                    f"{project!r}; choose another batch name.", status_code=409,
                    body_excerpt=_excerpt(payload))
            return batch.model_copy(update={"existing": True})
        return _batch_from(payload, f"POST {BATCHES_PATH}")

    def get_batch(self, name: str) -> Batch:
        """``GET /v1/batches/<name>``; retried like every GET."""
        path = f"{BATCHES_PATH}/{quote(name, safe='')}"
        return _batch_from(self._request_json("GET", path)[1], f"GET {path}")

    def finalize_batch(self, name: str) -> Batch:
        """``POST /v1/batches/<name>/finalize``: staging -> in_progress. A batch that is already
        past staging is returned as it is (finalizing twice is not an error)."""
        path = f"{BATCHES_PATH}/{quote(name, safe='')}/finalize"
        try:
            _, payload = self._request_json("POST", path)
        except ScaleRequestError:
            batch = self.get_batch(name)
            if batch.status in (None, "staging"):
                raise
            return batch
        return _batch_from(payload, f"POST {path}")

    # --- plumbing ------------------------------------------------------------------------------

    def _headers(
        self, *, json_body: bool, extra: dict[str, str] | None = None, redact: bool = False
    ) -> dict[str, str]:
        headers = {"Content-Type": "application/json"} if json_body else {}
        headers["Accept"] = "application/json"
        headers["User-Agent"] = USER_AGENT
        if redact:
            headers["Authorization"] = REDACTED
        elif self._api_key is None:
            raise ScaleAuthError("No Scale API key: pass api_key= or set SCALE_API_KEY "
                                 "(status_code 0: refused locally, nothing was sent).",
                                 status_code=0)
        else:
            token = base64.b64encode(f"{self._api_key}:".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        headers.update(extra or {})
        return headers

    def _secrets(self) -> tuple[str, ...]:
        if self._api_key is None:
            return ()
        return (self._api_key, base64.b64encode(f"{self._api_key}:".encode()).decode("ascii"))

    def _send(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str],
        read_timeout_s: float,
    ) -> _Response:
        """One request, no retries; failures come out as SubmitErrors (see ``_errors``)."""
        timeout = urllib3.Timeout(connect=self.connect_timeout_s, read=max(read_timeout_s, 0.001))
        if self._throttle is not None:
            self._throttle.wait()
        logger.debug("%s %s", method, path)
        with map_urllib3_exceptions(method, path):
            response = self._pool.request(method, self.base_url + path, body=data,
                                          headers=headers, timeout=timeout, retries=False,
                                          redirect=False)
        logger.debug("%s %s -> HTTP %d", method, path, response.status)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if (self._throttle is not None and response.status in (429, 503)
                and retry_after is not None):
            self._throttle.retry_after(retry_after)
        return _Response(response.status, response.data, retry_after)

    def _error(self, response: _Response, what: str, note: str = "") -> ScaleApiError:
        if response.status in (429, 503) and (response.retry_after or 0) > MAX_RETRY_AFTER_S:
            note += (f"; it asks to retry after {response.retry_after:.0f} s, more than the "
                     f"{MAX_RETRY_AFTER_S:.0f} s this client waits")
        return error_for_response(response.status, response.data, what=what, note=note,
                                  retry_after=response.retry_after, secrets=self._secrets())

    def _request_json(self, method: str, path: str, body: object = None, *,
                      conflict_ok: bool = False) -> tuple[int, object]:
        """``method path`` with a JSON ``body`` (None: no body), retried per D25, and its parsed
        JSON answer. Only for requests safe to repeat: GETs, and POSTs whose body is their
        identity (batch calls); task creation has its own policy (``_CreateCall``). A 409 is
        returned as ``(409, payload)`` when ``conflict_ok``; a POST's empty answer is None."""
        data = None if body is None else compact_json(body).encode("utf-8")
        headers = self._headers(json_body=body is not None)
        what = f"{method} {path}"
        attempts = _Attempts(self)
        while True:
            attempts.count += 1
            retry_after = None
            try:
                response = self._send(method, path, data, headers,
                                      min(self.get_read_timeout_s, attempts.remaining_s()))
            except ScaleNetworkError as err:
                failure: SubmitError = err
            else:
                ok = 200 <= response.status < 300
                if ok or (conflict_ok and response.status == 409):
                    return response.status, _json_answer(response, what, ok, method == "GET")
                failure = self._error(response, what)
                if not _retryable_status(response.status):
                    raise failure
                retry_after = _honoured_retry_after(response, failure)
            delay = attempts.next_delay_s(retry_after)
            if delay is None:
                raise failure
            logger.warning("Scale API: %s attempt %d/%d failed (%s); retrying in %.1f s.",
                           what, attempts.count, self.max_attempts, type(failure).__name__, delay)
            self._sleep(delay)


def _json_answer(response: _Response, what: str, ok: bool, required: bool) -> object:
    """The answer's JSON; a 2xx answer that is not JSON (or, when ``required``, empty) raises."""
    if not response.data and not required:
        return None
    try:
        return json.loads(response.data)
    except ValueError as err:
        if not ok:
            return None
        raise ScaleApiError(f"{what} answered HTTP {response.status} with a body that is not "
                            f"JSON.", status_code=response.status,
                            body_excerpt=_excerpt(response.data)) from err


class _CreateCall:
    """The state of one ``create_multistage_task`` call: attempts, and whether one was ambiguous."""

    def __init__(
        self, client: ScaleClient, request: TaskRequest, data: bytes, headers: dict[str, str], *,
        idempotency_key: str | None, on_duplicate: OnDuplicate,
    ) -> None:
        self.client = client
        self.request = request
        self.data = data
        self.headers = headers
        self.idempotency_key = idempotency_key
        self.on_duplicate = on_duplicate
        self.retry_safe = request.unique_id is not None or idempotency_key is not None
        self.ambiguous = False  # an earlier attempt of this call may have created the task
        self.looked_up = False  # the one lookup by unique_id after an ambiguous attempt is done
        self.what = f"POST {CREATE_PATH}"

    def run(self) -> Task:
        """The task; after an ambiguous attempt any failure first gets one lookup (§5.5 item 5)."""
        try:
            return self._run()
        except SubmitError:
            if not self.ambiguous or self.request.unique_id is None or self.looked_up:
                raise
            found = self._lookup_ours()
            if found is None:
                raise
            return found

    def _run(self) -> Task:
        client = self.client
        attempts = _Attempts(client)
        while True:
            attempts.count += 1
            outcome = self._attempt(attempts)
            if isinstance(outcome, Task):
                return outcome
            failure = outcome.error
            delay = attempts.next_delay_s(outcome.retry_after_s)
            if delay is None:
                break
            logger.warning("Scale API: %s attempt %d/%d failed (%s); retrying in %.1f s.",
                           self.what, attempts.count, client.max_attempts,
                           type(failure).__name__, delay)
            client._sleep(delay)
        if not self.ambiguous or self.request.unique_id is not None:
            raise failure  # with a unique_id, ``run`` looks the task up once
        raise OutcomeUnknownError(
            f"{self.what} failed {attempts.count} times and at least one attempt may have "
            f"created the task; the task may or may not exist, and without a unique_id it "
            f"cannot be looked up.") from failure

    def _attempt(self, attempts: _Attempts) -> Task | _Failure:
        """Send once: the task, or a failure worth retrying; raises what must not be retried."""
        client = self.client
        read_s = min(client.create_read_timeout_s, attempts.remaining_s())
        try:
            response = client._send("POST", CREATE_PATH, self.data, self.headers, read_s)
        except ScaleNetworkError as err:
            if err.sent:
                self._mark_ambiguous(err)
            return _Failure(err)
        if 200 <= response.status < 300:
            task = _task_from_bytes(response.data)
            if task is not None:
                return task
            failure = OutcomeUnknownError(
                f"{self.what} answered HTTP {response.status} without a task_id; the task may or "
                f"may not exist.")
            self._mark_ambiguous(failure)
            return _Failure(failure)
        if response.status == 409:
            return self._on_conflict(response)
        may_exist = response.status == 408 or response.status >= 500
        note = "" if self.retry_safe or not may_exist else (
            "; the task may have been created, and without a unique_id or Idempotency-Key the "
            "request is not sent again")
        error = client._error(response, self.what, note)
        if not _retryable_status(response.status) or not self.retry_safe:
            raise error
        if may_exist:
            self.ambiguous = True
        return _Failure(error, _honoured_retry_after(response, error))

    def _mark_ambiguous(self, err: SubmitError) -> None:
        """Record an ambiguous attempt; without retry-safety that ends the call."""
        self.ambiguous = True
        if not self.retry_safe:
            raise OutcomeUnknownError(
                f"{self.what} had an ambiguous outcome ({err}); the task may or may not exist, "
                f"and without a unique_id or Idempotency-Key it is not sent again.") from err

    def _on_conflict(self, response: _Response) -> Task:
        """A 409: ours from an earlier ambiguous attempt (recover), or someone else's (D26)."""
        client = self.client
        duplicate = client._error(response, self.what)
        if not isinstance(duplicate, DuplicateTaskError):
            raise SubmitError(
                f"{self.what} answered HTTP 409, but the answer did not map to a duplicate-task "
                f"error ({type(duplicate).__name__}); this is a bug in sfs_kit.") from duplicate
        existing = duplicate.existing_task_id
        if self.ambiguous:
            if self.request.unique_id is not None:
                found = self._lookup_ours()
                if found is not None:
                    return found
                raise duplicate
            if existing is None:
                raise OutcomeUnknownError(
                    f"{self.what} answered 409 after an ambiguous attempt, but the message names "
                    f"no task id; the task may or may not exist.") from duplicate
            try:
                task = client.get_task(existing)
            except ScaleNotFoundError as err:
                raise OutcomeUnknownError(
                    f"{self.what} answered 409 naming task {existing!r} after an ambiguous "
                    f"attempt, but that task cannot be found; the task may or may not exist."
                ) from err
            self._check_ours(task, duplicate)
            return task.model_copy(update={"recovered": True})
        if self.on_duplicate == "return_existing":
            found_task: Task | None = None
            if existing is not None:
                found_task = client.get_task(existing)
            elif self.request.unique_id is not None:
                tasks = client.find_tasks_by_unique_id(self.request.unique_id)
                if len(tasks) == 1:
                    found_task = tasks[0]
            if found_task is not None:
                self._check_ours(found_task, duplicate)
                logger.info("Task %s already exists for this request; returning it.",
                            found_task.task_id)
                return found_task.model_copy(update={"existing": True})
        raise duplicate

    def _check_ours(self, task: Task, duplicate: DuplicateTaskError) -> None:
        """Raise ``DuplicateTaskError`` unless ``task`` is the one this request would create."""
        why = task_mismatch(self.request, task)
        if why is None:
            return
        key = (f"unique_id {self.request.unique_id!r}" if self.request.unique_id is not None
               else f"Idempotency-Key {self.idempotency_key!r}")
        raise DuplicateTaskError(
            f"The {key} is used by task {task.task_id} for other attachments ({why}); it is not "
            f"the task this request would create. Choose another unique_id.",
            existing_task_id=task.task_id, body_excerpt=duplicate.body_excerpt,
        ) from duplicate

    def _lookup_ours(self) -> Task | None:
        """The one task with our unique_id and our attachments, marked recovered; else None."""
        unique_id = self.request.unique_id
        if unique_id is None:
            raise SubmitError(f"{self.what}: a lookup by unique_id needs a unique_id; this is a "
                              f"bug in sfs_kit.")
        self.looked_up = True
        try:
            tasks = self.client.find_tasks_by_unique_id(unique_id)
        except SubmitError as err:
            raise OutcomeUnknownError(
                f"{self.what} had an ambiguous outcome and looking up unique_id "
                f"{unique_id!r} failed ({err}); the task may or may not exist."
            ) from err
        ours = [t for t in tasks if task_mismatch(self.request, t) is None]
        if len(tasks) == 1 and len(ours) == 1:
            logger.info("Recovered task %s created by an earlier attempt.", ours[0].task_id)
            return ours[0].model_copy(update={"recovered": True})
        if tasks:
            logger.warning("unique_id %r belongs to task(s) %s, which are not this request's.",
                           unique_id, ", ".join(t.task_id for t in tasks))
        return None


def attachment_target(url: str) -> str:
    """An attachment URL without its query and fragment: presigned signatures and expiry times
    differ between signings of the same object. http(s) keeps scheme, host and path; other
    schemes (``file://``, ``s3://``) are compared as they are."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"
    return url


def task_mismatch(request: TaskRequest, task: Task) -> str | None:
    """Why ``task`` is not the one ``request`` creates (scene_format, attachments), or None.

    The scene_format is compared when the task echoes it in ``params``; the attachments must be
    echoed and equal ours without query strings (``attachment_target``).
    """
    params = task.params
    echoed = params.get(request.wire_key("scene_format"), params.get("scene_format"))
    if echoed is not None and echoed != request.scene_format:
        return f"its scene_format is {echoed!r}, ours {request.scene_format!r}"
    theirs = params.get(request.wire_key("attachments"), params.get("attachments"))
    if not isinstance(theirs, list) or not all(isinstance(u, str) for u in theirs):
        return "its params echo no attachments to compare"
    mine = [attachment_target(u) for u in request.attachments]
    found = [attachment_target(u) for u in theirs]
    if found != mine:
        return next((f"attachment {i}: {a!r}, ours {b!r}"
                     for i, (a, b) in enumerate(zip(found, mine, strict=False)) if a != b),
                    f"{len(found)} attachments, ours {len(mine)}")
    return None


_ECHOED_SETTINGS = ("project", "batch", "priority", "tags")


def differing_settings(request: TaskRequest, task: Task) -> list[str]:
    """Settings (project, batch, priority, tags) the task echoes with values other than ours.

    Meant for a task that already existed (``existing`` or ``recovered``): it keeps the settings
    it was created with, so differences are worth a warning. Settings the task does not echo, and
    ones we leave unset (other than tags), are not compared.
    """
    notes: list[str] = []
    extra = task.model_extra or {}
    for name in _ECHOED_SETTINGS:
        theirs = extra.get(name, task.params.get(name))
        ours = getattr(request, name)
        if theirs is None:
            continue
        if name == "tags":
            same = isinstance(theirs, list) and sorted(map(str, theirs)) == sorted(ours or [])
            if same:
                continue
        elif ours is None or theirs == ours:
            continue
        notes.append(f"task {task.task_id} has {name} {theirs!r}, this run asked for {ours!r}")
    return notes


def _retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _honoured_retry_after(response: _Response, error: ScaleApiError) -> float | None:
    """The server's Retry-After on 429/503; more than 300 s stops the call (raises ``error``)."""
    if response.status not in (429, 503) or response.retry_after is None:
        return None
    if response.retry_after > MAX_RETRY_AFTER_S:
        logger.warning("Server asks to retry after %.0f s (> %.0f s); giving up.",
                       response.retry_after, MAX_RETRY_AFTER_S)
        raise error
    return response.retry_after


def _checked_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InputError(f"Scale base URL must be an http(s) URL with a host and no query, "
                         f"found {url!r}.", field="base_url")
    return url.rstrip("/")


def _task_or_none(payload: object) -> Task | None:
    """A Task from a JSON object with a string task_id (D29), else None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("task_id"), str):
        return None
    try:
        return Task.model_validate(payload)
    except ValidationError:
        logger.warning("Task %s has unexpected field types; keeping only its id.",
                       payload["task_id"])
        return Task(task_id=payload["task_id"])


def _batch_from(payload: object, what: str) -> Batch:
    """A Batch from a JSON object with a string name, else ``ScaleApiError``."""
    if isinstance(payload, dict) and isinstance(payload.get("name"), str):
        try:
            return Batch.model_validate(payload)
        except ValidationError:
            return Batch(name=payload["name"])
    raise ScaleApiError(f"{what} answered without a batch name.", status_code=200,
                        body_excerpt=_excerpt(payload))


def _task_from_bytes(data: bytes) -> Task | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return _task_or_none(payload)


def _excerpt(payload: object) -> str:
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else repr(payload)
    return text[:500]
