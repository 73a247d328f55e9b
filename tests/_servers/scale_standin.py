"""A local stand-in of Scale's multi-stage task endpoint, for tests (spec §5).

``ScaleStandin`` runs an ``http.server.ThreadingHTTPServer`` on ``("127.0.0.1", 0)`` in a thread. It
enforces the documented contract (Basic auth with ``API_KEY`` -> 401; body schema and limits -> 400
with ``{"error": ...}``), stores tasks, answers 409 on a duplicate ``unique_id`` (or
``Idempotency-Key``) with the existing task id in trailing parentheses, serves
``GET /v1/tasks?unique_id=`` and ``GET /v1/task/<id>``, and records every request. Batches follow
Scale's v1 reference: ``POST /v1/batches`` (``{"project", "name", "callback"?, "metadata"?}``; a
name already used -> 409), ``GET /v1/batches/<name>`` and ``POST /v1/batches/<name>/finalize``
(staging -> in_progress; a batch past staging -> 400). Queue faults with
``standin.inject(Fault(...))``; each applies to the next matching request, in order (``path``
narrows a fault to requests whose path starts with it).

Use it from any conftest: ``from _servers.scale_standin import scale_standin  # noqa: F401``.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

__all__ = ["API_KEY", "Fault", "RecordedRequest", "ScaleStandin", "scale_standin"]

API_KEY = "live_standin_key_0123456789abcdef"
METADATA_MAX_BYTES = 10_000

FaultKind = Literal[
    "status",  # answer ``status`` with an error body, creating nothing
    "error_after_create",  # create the task, then answer ``status`` (500 by default)
    "rate_limit",  # 429 with ``retry_after`` as the Retry-After header
    "slow",  # create (if ``create``), then answer only after ``delay_s``
    "drop",  # close the socket without answering, after (``create``) or before creating
    "no_task_id",  # create the task, then answer 200 without a task_id
]


@dataclass
class Fault:
    """One misbehaviour for the next request whose method is ``method``."""

    kind: FaultKind
    method: str = "POST"
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 2.0
    create: bool = True
    body: str | None = None  # for "status": this raw text instead of the JSON error body
    path: str | None = None  # only requests whose path starts with this (None: any)


@dataclass(frozen=True)
class RecordedRequest:
    """What the stand-in received: method, path (with query), headers and the parsed JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time_s: float = 0.0  # time.monotonic() on arrival


@dataclass
class _State:
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_unique_id: dict[str, str] = field(default_factory=dict)
    by_idempotency_key: dict[str, str] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    latency_s: float = 0.0  # every task create takes this long (to make requests overlap)
    latency_until_peak: int | None = None  # ... or until this many creates were in flight at once
    creating: int = 0
    peak_creating: int = 0
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _hold(state: _State) -> None:
    """A create's latency: ``latency_s``, cut short once ``latency_until_peak`` is reached."""
    deadline = time.monotonic() + state.latency_s
    while time.monotonic() < deadline:
        with state.lock:
            if state.latency_until_peak is not None and (
                    state.peak_creating >= state.latency_until_peak):
                return
        time.sleep(0.01)


class _BadRequestError(Exception):
    """A body that breaks the contract; becomes HTTP 400."""


def _check_body(body: object) -> dict[str, Any]:
    """The documented rules the real endpoint enforces (spec §5.2), server side."""
    if not isinstance(body, dict):
        raise _BadRequestError("Body must be a JSON object.")
    if not isinstance(body.get("project"), str) and not isinstance(body.get("batch"), str):
        raise _BadRequestError("Please specify a project or a batch.")
    attachments = body.get("attachments")
    if (not isinstance(attachments, list) or not attachments
            or not all(isinstance(a, str) and a for a in attachments)):
        raise _BadRequestError("attachments must be a non-empty array of URLs.")
    if body.get("scene_format") not in ("sensor_fusion", "split_base64"):
        raise _BadRequestError("scene_format must be sensor_fusion or split_base64.")
    if body["scene_format"] == "sensor_fusion" and len(attachments) != 1:
        raise _BadRequestError("sensor_fusion takes exactly one attachment.")
    if "unique_id" in body and (not isinstance(body["unique_id"], str) or not body["unique_id"]):
        raise _BadRequestError("unique_id must be a non-empty string.")
    priority = body.get("priority")
    if priority is not None and (isinstance(priority, bool) or priority not in (10, 20, 30)):
        raise _BadRequestError("priority must be 10, 20 or 30.")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or len(tags) > 5):
        raise _BadRequestError("At most 5 tags are allowed.")
    metadata = body.get("metadata")
    if metadata is not None:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
        if not isinstance(metadata, dict) or len(text.encode()) > METADATA_MAX_BYTES:
            raise _BadRequestError("metadata must be an object of at most 10KB.")
    callback = body.get("callback_url")
    if callback is not None and (not isinstance(callback, str)
                                 or urlsplit(callback).scheme not in ("http", "https")):
        raise _BadRequestError("callback_url must be an http(s) URL.")
    return body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # --- plumbing ---

    def _handle(self, method: str) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with state.lock:
            state.requests.append(RecordedRequest(method, self.path, dict(self.headers), body,
                                                  time.monotonic()))
            fault = next((f for f in state.faults if f.method == method
                          and (f.path is None or self.path.startswith(f.path))), None)
            if fault is not None:
                state.faults.remove(fault)
        if self.headers.get("Authorization") != self.server.authorization:
            self._send(401, {"error": "Please provide a valid API key.", "status_code": 401})
            return
        path = urlsplit(self.path)
        if method == "POST" and path.path == "/v1/task/multistage":
            with state.lock:
                state.creating += 1
                state.peak_creating = max(state.peak_creating, state.creating)
            try:
                if state.latency_s:
                    _hold(state)
                self._create(body, fault)
            finally:
                with state.lock:
                    state.creating -= 1
        elif path.path == "/v1/batches" or path.path.startswith("/v1/batches/"):
            self._faulted_or(fault, lambda: self._batch(method, path.path, body))
        elif method == "GET" and path.path == "/v1/tasks":
            self._faulted_or(fault, lambda: self._list(parse_qs(path.query)))
        elif method == "GET" and path.path.startswith("/v1/task/"):
            self._faulted_or(fault, lambda: self._get(unquote(path.path.removeprefix("/v1/task/"))))
        else:
            self._send(404, {"error": f"No route for {method} {path.path}.", "status_code": 404})

    def _faulted_or(self, fault: Fault | None, answer: Any) -> None:
        if fault is None:
            answer()
        elif fault.kind == "rate_limit":
            self._rate_limited(fault)
        elif fault.kind == "drop":
            self._drop()
        else:
            self._send_fault(fault)

    def _create(self, body: Any, fault: Fault | None) -> None:
        state = self.server.state
        if fault is not None and fault.kind == "rate_limit":
            self._rate_limited(fault)
            return
        if fault is not None and fault.kind == "status":
            self._send_fault(fault)
            return
        if fault is not None and fault.kind in ("drop", "slow") and not fault.create:
            self._misbehave(fault)
            return
        try:
            _check_body(body)
        except _BadRequestError as err:
            self._send(400, {"error": str(err), "status_code": 400})
            return
        idempotency_key = self.headers.get("Idempotency-Key")
        with state.lock:
            unique_id = body.get("unique_id")
            existing = state.by_unique_id.get(unique_id) if unique_id else None
            if existing is not None:
                message = (f"The unique_id (\"{unique_id}\") is already used for a different "
                           f"task ({existing}).")
            elif idempotency_key and idempotency_key in state.by_idempotency_key:
                existing = state.by_idempotency_key[idempotency_key]
                message = f"The Idempotency-Key was already used for a task ({existing})."
            task = None if existing is not None else self._store(body, idempotency_key)
        if task is None:
            self._send(409, {"error": message, "status_code": 409})
        elif fault is None:
            self._send(200, task)
        elif fault.kind == "error_after_create":
            self._send(fault.status, {"error": "Internal error.", "status_code": fault.status})
        elif fault.kind == "no_task_id":
            self._send(200, {"status": "ok"})
        else:
            self._misbehave(fault, task)

    def _store(self, body: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        """Create and keep a task (caller holds the lock)."""
        state = self.server.state
        task_id = f"{next(state.ids):024x}"
        params = {k: body[k] for k in ("attachments", "scene_format", "blueprint_id") if k in body}
        task: dict[str, Any] = {
            "task_id": task_id,
            "type": "multistage",
            "status": "pending",
            "created_at": datetime.now(UTC).isoformat(),
            "callback_url": body.get("callback_url"),
            "instruction": body.get("instruction"),
            "params": params,
            "metadata": body.get("metadata", {}),
            "is_test": False,
            "tags": body.get("tags", []),
            "project": body.get("project"),
            "batch": body.get("batch"),
        }
        if body.get("unique_id"):
            task["unique_id"] = body["unique_id"]
            state.by_unique_id[body["unique_id"]] = task_id
        if idempotency_key:
            state.by_idempotency_key[idempotency_key] = task_id
        state.tasks[task_id] = task
        return task

    def _batch(self, method: str, path: str, body: Any) -> None:
        """The three batch routes (create, retrieve, finalize)."""
        state = self.server.state
        rest = path.removeprefix("/v1/batches").strip("/")
        raw_name, _, action = rest.partition("/")
        name = unquote(raw_name)
        with state.lock:
            if method == "POST" and not rest:
                if (not isinstance(body, dict) or not isinstance(body.get("project"), str)
                        or not isinstance(body.get("name"), str) or not body["name"]):
                    answer: tuple[int, dict[str, Any]] = (
                        400, {"error": "project and name are required.", "status_code": 400})
                elif body["name"] in state.batches:
                    answer = (409, {"error": f"A batch named {body['name']} already exists.",
                                    "status_code": 409})
                else:
                    batch = {"name": body["name"], "project": body["project"],
                             "status": "staging", "created_at": datetime.now(UTC).isoformat(),
                             "callback": body.get("callback"),
                             "metadata": body.get("metadata") or {}}
                    state.batches[body["name"]] = batch
                    answer = (200, dict(batch))
            elif name not in state.batches:
                answer = (404, {"error": f"Batch {name} not found.", "status_code": 404})
            elif method == "GET" and not action:
                answer = (200, dict(state.batches[name]))
            elif method == "POST" and action == "finalize":
                batch = state.batches[name]
                if batch["status"] != "staging":
                    answer = (400, {"error": f"Batch {name} is not in staging.",
                                    "status_code": 400})
                else:
                    batch["status"] = "in_progress"
                    answer = (200, dict(batch))
            else:
                answer = (404, {"error": f"No route for {method} {path}.", "status_code": 404})
        self._send(*answer)

    def _list(self, query: dict[str, list[str]]) -> None:
        state = self.server.state
        unique_id = (query.get("unique_id") or [""])[0]
        with state.lock:
            docs = [t for t in state.tasks.values()
                    if unique_id and t.get("unique_id") == unique_id]
        self._send(200, {"docs": docs, "total": len(docs), "limit": 100, "offset": 0,
                         "has_more": False})

    def _get(self, task_id: str) -> None:
        with self.server.state.lock:
            task = self.server.state.tasks.get(task_id)
        if task is None:
            self._send(404, {"error": f"Task {task_id} not found.", "status_code": 404})
        else:
            self._send(200, task)

    def _rate_limited(self, fault: Fault) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        self._send(429, {"error": "Too many requests.", "status_code": 429}, headers)

    def _misbehave(self, fault: Fault, task: dict[str, Any] | None = None) -> None:
        if fault.kind == "slow":
            self.server.state.released.wait(fault.delay_s)
            self._send(200, task or {"error": "Stand-in fault.", "status_code": 500})
        else:
            self._drop()

    def _drop(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_fault(self, fault: Fault) -> None:
        payload = {"error": "Stand-in fault.", "status_code": fault.status}
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        self._send(fault.status, payload if fault.body is None else fault.body.encode(), headers)

    def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (read timeout): nothing to answer
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api_key: str) -> None:
        super().__init__(address, _Handler)
        self.state = _State()
        token = base64.b64encode(f"{api_key}:".encode()).decode()
        self.authorization = f"Basic {token}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped and timed-out connections are part of the tests; stay quiet."""


class ScaleStandin:
    """The stand-in server; ``base_url`` is ``http://127.0.0.1:<port>`` (no ``/v1``)."""

    def __init__(self, *, api_key: str = API_KEY, port: int = 0) -> None:
        self.api_key = api_key
        self._server = _Server(("127.0.0.1", port), api_key)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._server.state.lock:
            return list(self._server.state.requests)

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """Every stored task, in creation order."""
        with self._server.state.lock:
            return list(self._server.state.tasks.values())

    @property
    def batches(self) -> dict[str, dict[str, Any]]:
        """Every batch by name."""
        with self._server.state.lock:
            return {name: dict(b) for name, b in self._server.state.batches.items()}

    def posts(self) -> list[RecordedRequest]:
        """The task create requests received so far."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/task/multistage"]

    @property
    def peak_creating(self) -> int:
        """The most task creates in flight at once so far."""
        with self._server.state.lock:
            return self._server.state.peak_creating

    def set_latency(self, seconds: float, *, until_peak: int | None = None) -> None:
        """Make every task create take ``seconds`` (so concurrent workers overlap); with
        ``until_peak``, only until that many creates have been in flight at once (so a test of
        overlap needs no timing luck: the creates wait for each other, ``seconds`` at most)."""
        with self._server.state.lock:
            self._server.state.latency_s = seconds
            self._server.state.latency_until_peak = until_peak

    def set_status(self, task_id: str, status: str) -> None:
        """Move a stored task on (as labelers would): ``completed``, ``error``, ..."""
        with self._server.state.lock:
            self._server.state.tasks[task_id]["status"] = status

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each applies once, to the next request with its method."""
        with self._server.state.lock:
            self._server.state.faults.extend(faults)

    def clear(self) -> None:
        """Forget tasks, requests and pending faults."""
        state = self._server.state
        with state.lock:
            state.tasks.clear()
            state.batches.clear()
            state.peak_creating = 0
            state.latency_s = 0.0
            state.latency_until_peak = None
            state.by_unique_id.clear()
            state.by_idempotency_key.clear()
            state.requests.clear()
            state.faults.clear()

    def start(self) -> ScaleStandin:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release slow answers, stop serving and close the socket."""
        self._server.state.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ScaleStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def scale_standin() -> Iterator[ScaleStandin]:
    """A fresh, running stand-in per test; its key is ``API_KEY``."""
    with ScaleStandin() as standin:
        yield standin
