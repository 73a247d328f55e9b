"""Translate what the HTTP layer throws or answers into the SubmitError tree, in one place.

``map_urllib3_exceptions()`` turns every urllib3 (and stdlib socket/http.client) exception into a
``ScaleNetworkError`` whose ``sent`` flag says whether the server may have seen the request
(connect-phase failures: nothing sent, always retryable), or a plain ``SubmitError`` when retrying
cannot help. ``error_for_response()`` maps an HTTP error status to its class (spec §5.4).
"""

from __future__ import annotations

import email.utils
import enum
import http.client
import json
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import urllib3.exceptions as u3

from sfs_kit.errors import (
    DuplicateTaskError,
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

__all__ = ["EXCEPTION_KINDS", "FailureKind", "classify", "error_for_response",
           "existing_task_id", "map_urllib3_exceptions", "parse_retry_after", "server_message"]

_EXCERPT_CHARS = 500
_MESSAGE_CHARS = 300


class FailureKind(enum.Enum):
    """How far a failed request got, which decides whether it may be sent again."""

    CONNECT = "nothing was sent"  # connect phase: always retryable
    AMBIGUOUS = "the request was sent, so the server may have acted on it"
    FATAL = "nothing was sent, and retrying cannot help"


# Most specific first (a test checks no entry is shadowed by an earlier base class, and that every
# exception class of urllib3.exceptions is listed).
EXCEPTION_KINDS: tuple[tuple[type[BaseException], FailureKind, str], ...] = (
    (u3.NameResolutionError, FailureKind.CONNECT, "could not resolve the host"),
    (u3.NewConnectionError, FailureKind.CONNECT, "could not connect"),
    (u3.ConnectTimeoutError, FailureKind.CONNECT, "timed out while connecting"),
    (u3.ReadTimeoutError, FailureKind.AMBIGUOUS, "timed out waiting for the answer"),
    (u3.EmptyPoolError, FailureKind.CONNECT, "no free connection in the pool"),
    (u3.ClosedPoolError, FailureKind.CONNECT, "the connection pool is closed"),
    (u3.FullPoolError, FailureKind.AMBIGUOUS, "the connection pool is full"),
    (u3.ProxyError, FailureKind.CONNECT, "could not connect through the proxy"),
    (u3.ProxySchemeUnknown, FailureKind.FATAL, "the proxy URL has an unknown scheme"),
    (u3.URLSchemeUnknown, FailureKind.FATAL, "the URL has an unknown scheme"),
    (u3.LocationParseError, FailureKind.FATAL, "the URL cannot be parsed"),
    (u3.LocationValueError, FailureKind.FATAL, "the URL is invalid"),
    (u3.ProxySchemeUnsupported, FailureKind.FATAL, "the proxy scheme is unsupported"),
    (u3.HostChangedError, FailureKind.FATAL, "the URL points at another host than the pool"),
    (u3.UnrewindableBodyError, FailureKind.FATAL, "the body cannot be rewound"),
    (u3.TimeoutStateError, FailureKind.FATAL, "the timeout is misconfigured"),
    (u3.MaxRetryError, FailureKind.AMBIGUOUS, "gave up retrying"),  # unwrapped to its reason
    (u3.SSLError, FailureKind.AMBIGUOUS, "TLS failed"),  # a verification failure is FATAL
    (u3.ResponseNotChunked, FailureKind.AMBIGUOUS, "the answer is not chunked as announced"),
    (u3.InvalidChunkLength, FailureKind.AMBIGUOUS, "the answer has a bad chunk length"),
    (u3.IncompleteRead, FailureKind.AMBIGUOUS, "the answer was cut short"),
    (u3.ProtocolError, FailureKind.AMBIGUOUS, "the connection broke"),
    (u3.DecodeError, FailureKind.AMBIGUOUS, "the answer could not be decoded"),
    (u3.InvalidHeader, FailureKind.AMBIGUOUS, "the answer has an invalid header"),
    (u3.HeaderParsingError, FailureKind.AMBIGUOUS, "the answer's headers cannot be parsed"),
    (u3.BodyNotHttplibCompatible, FailureKind.AMBIGUOUS, "the answer body is unreadable"),
    (u3.ResponseError, FailureKind.AMBIGUOUS, "the answer was an error"),
    (u3.TimeoutError, FailureKind.AMBIGUOUS, "timed out"),
    (u3.RequestError, FailureKind.AMBIGUOUS, "the request failed"),
    (u3.PoolError, FailureKind.AMBIGUOUS, "the connection pool failed"),
    (u3.HTTPError, FailureKind.AMBIGUOUS, "the HTTP layer failed"),
    (http.client.HTTPException, FailureKind.AMBIGUOUS, "the HTTP exchange failed"),
    (OSError, FailureKind.AMBIGUOUS, "the connection failed"),
)


def classify(err: BaseException) -> tuple[FailureKind, str]:
    """How far a request that raised ``err`` got, and a few words saying what happened."""
    if isinstance(err, u3.MaxRetryError) and err.reason is not None:
        return classify(err.reason)
    if isinstance(err, u3.SSLError) and any(
        isinstance(arg, ssl.SSLCertVerificationError) for arg in (*err.args, err.__cause__)
    ):
        return FailureKind.FATAL, "the server's TLS certificate was refused"
    for cls, kind, what in EXCEPTION_KINDS:
        if isinstance(err, cls):
            return kind, what
    return FailureKind.AMBIGUOUS, "the request failed"


@contextmanager
def map_urllib3_exceptions(method: str, path: str) -> Iterator[None]:
    """Re-raise urllib3/socket failures of ``method path`` as SubmitErrors, ``from`` the cause."""
    try:
        yield
    except (u3.HTTPError, http.client.HTTPException, OSError) as err:
        kind, what = classify(err)
        message = f"{method} {path} failed: {what} ({type(err).__name__}); {kind.value}."
        if kind is FailureKind.FATAL:
            raise SubmitError(message) from err
        raise ScaleNetworkError(message, sent=kind is FailureKind.AMBIGUOUS) from err


def server_message(body: bytes) -> str:
    """The server's ``error`` string, else the raw text (spec §5.4), shortened."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        text = payload["error"].strip()
    if len(text) > _MESSAGE_CHARS:
        text = text[:_MESSAGE_CHARS] + "..."
    return text or "(empty body)"


_TRAILING_ID = re.compile(r"\(\s*([^()\s]+)\s*\)\W*$")


def existing_task_id(message: str) -> str | None:
    """The task id in a 409 message's trailing parenthesised token, if any (best effort)."""
    match = _TRAILING_ID.search(message)
    return match.group(1).strip("'\"") if match else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_CLASS_BY_STATUS: dict[int, type[ScaleApiError]] = {
    400: ScaleRequestError,
    401: ScaleAuthError,
    402: ScalePaymentError,
    404: ScaleNotFoundError,
    408: ScaleServerError,
}


def error_for_response(
    status: int,
    body: bytes,
    *,
    what: str,
    retry_after: float | None = None,
    note: str = "",
    secrets: tuple[str, ...] = (),
) -> ScaleApiError:
    """The exception for an HTTP error answer to ``what`` (e.g. ``"POST /v1/task/multistage"``).

    Every ``secrets`` string is blanked out of the message and the excerpt first.
    """
    message = _redact(server_message(body), secrets)
    excerpt = _redact(body[: _EXCERPT_CHARS * 4].decode("utf-8", errors="replace"), secrets)
    excerpt = excerpt[:_EXCERPT_CHARS]
    text = f"Scale answered HTTP {status} to {what}: {message.rstrip('.')}{note}."
    if status == 409:
        return DuplicateTaskError(text, body_excerpt=excerpt,
                                  existing_task_id=existing_task_id(message))
    if status == 429:
        return RateLimitedError(text, body_excerpt=excerpt, retry_after=retry_after)
    cls = _CLASS_BY_STATUS.get(status, ScaleServerError if status >= 500 else ScaleApiError)
    return cls(text, status_code=status, body_excerpt=excerpt)


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
