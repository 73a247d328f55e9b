"""A fault-injecting HTTP proxy in front of the real SeaweedFS, for tests of failures S3 may have.

``S3FaultProxy(upstream_url)`` listens on ``127.0.0.1:0`` and forwards every request unchanged (the
Host header too, so SigV4 signatures made for the proxy's address still verify upstream). Queue
``S3Fault``s: the next ``times`` requests whose method matches and whose path contains
``key_contains`` are delayed by ``delay_s`` and/or answered ``status`` with an S3 XML error
instead of being forwarded. It records every request and the peak of concurrent ones per method.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["S3Fault", "S3FaultProxy", "s3_fault_proxy"]

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
               "te", "trailer"}


@dataclass
class S3Fault:
    """Misbehave for the next ``times`` matching requests."""

    method: str = "PUT"
    key_contains: str = ""
    status: int | None = 500  # None: forward (after the delay)
    delay_s: float = 0.0
    times: int = 1
    until_peak: int | None = None  # the delay ends once this many were in flight at once
    code: str = "InternalError"


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    path: str
    status: int
    time_s: float


@dataclass
class _State:
    faults: list[S3Fault] = field(default_factory=list)
    requests: list[ProxiedRequest] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    active: dict[int, ProxiedRequest] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._proxy("GET")

    def do_PUT(self) -> None:
        self._proxy("PUT")

    def do_POST(self) -> None:
        self._proxy("POST")

    def do_HEAD(self) -> None:
        self._proxy("HEAD")

    def do_DELETE(self) -> None:
        self._proxy("DELETE")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _delay(self, fault: S3Fault, method: str) -> None:
        """``fault.delay_s``, cut short once ``until_peak`` requests of ``method`` have been in
        flight at once (a test of overlap then needs no timing luck)."""
        state = self.server.state
        deadline = time.monotonic() + fault.delay_s
        while time.monotonic() < deadline:
            with state.lock:
                if fault.until_peak is not None and state.peak.get(method, 0) >= fault.until_peak:
                    return
            time.sleep(0.01)

    def _proxy(self, method: str) -> None:
        state = self.server.state
        body = self._body()
        with state.lock:
            fault = next((f for f in state.faults if f.method == method
                          and f.key_contains in self.path), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    state.faults.remove(fault)
            token = id(self)
            state.active[token] = ProxiedRequest(method, self.path, 0, time.monotonic())
            state.in_flight[method] = state.in_flight.get(method, 0) + 1
            state.peak[method] = max(state.peak.get(method, 0), state.in_flight[method])
        try:
            if fault is not None and fault.delay_s:
                self._delay(fault, method)
            if fault is not None and fault.status is not None:
                status = fault.status
                self._answer(status, {"Content-Type": "application/xml"},
                             f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{fault.code}"
                             f"</Code><Message>Injected by the test proxy.</Message></Error>"
                             .encode(), method)
            else:
                status = self._forward(method, body)
        finally:
            with state.lock:
                state.active.pop(token, None)
                state.in_flight[method] -= 1
                state.requests.append(ProxiedRequest(method, self.path, status, time.monotonic()))

    def _forward(self, method: str, body: bytes) -> int:
        upstream = self.server.upstream
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port,
                                          timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or method in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            conn.request(method, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            self._answer(response.status, out, data, method)
            return response.status
        finally:
            conn.close()

    def _answer(self, status: int, headers: dict[str, str], data: bytes, method: str) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            if method == "HEAD" and "Content-Length" in headers:
                self.send_header("Content-Length", headers["Content-Length"])
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = _State()
        self.upstream = urlsplit(upstream)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet."""


class S3FaultProxy:
    """The running proxy; ``endpoint_url`` goes where SeaweedFS's would."""

    def __init__(self, upstream_url: str) -> None:
        self._server = _Server(upstream_url)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def inject(self, *faults: S3Fault) -> None:
        with self._server.state.lock:
            self._server.state.faults.extend(faults)

    def requests(self, method: str | None = None) -> list[ProxiedRequest]:
        with self._server.state.lock:
            return [r for r in self._server.state.requests if method in (None, r.method)]

    def in_flight(self) -> list[ProxiedRequest]:
        """The requests being served right now (status 0)."""
        with self._server.state.lock:
            return list(self._server.state.active.values())

    def peak(self, method: str) -> int:
        """The most ``method`` requests in flight at once so far."""
        with self._server.state.lock:
            return self._server.state.peak.get(method, 0)

    def reset(self) -> None:
        with self._server.state.lock:
            self._server.state.faults.clear()
            self._server.state.requests.clear()
            self._server.state.peak.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def s3_fault_proxy(upstream_url: str) -> Iterator[S3FaultProxy]:
    """A proxy for the duration of the block."""
    proxy = S3FaultProxy(upstream_url)
    try:
        yield proxy
    finally:
        proxy.stop()
