"""The one place that maps urllib3 failures and HTTP statuses to the SubmitError tree."""

from __future__ import annotations

import http.client
import inspect
import ssl
from datetime import UTC, datetime

import pytest
import urllib3.exceptions as u3

from sfs_kit.errors import (
    DuplicateTaskError,
    RateLimitedError,
    ScaleApiError,
    ScaleNetworkError,
    ScaleServerError,
    SubmitError,
)
from sfs_kit.submit._errors import (
    EXCEPTION_KINDS,
    FailureKind,
    classify,
    error_for_response,
    existing_task_id,
    map_urllib3_exceptions,
    parse_retry_after,
    server_message,
)


def _urllib3_exception_classes() -> set[type[BaseException]]:
    return {cls for _, cls in inspect.getmembers(u3, inspect.isclass)
            if issubclass(cls, BaseException) and not issubclass(cls, Warning)
            and cls.__module__ == u3.__name__}


def test_every_urllib3_exception_is_mapped_explicitly() -> None:
    listed = {cls for cls, _, _ in EXCEPTION_KINDS}
    missing = sorted(c.__name__ for c in _urllib3_exception_classes() - listed)
    assert missing == []


def test_no_entry_is_shadowed_by_an_earlier_base() -> None:
    for i, (later, _, _) in enumerate(EXCEPTION_KINDS):
        for earlier, _, _ in EXCEPTION_KINDS[:i]:
            assert not issubclass(later, earlier), (later, earlier)


@pytest.mark.parametrize(("err", "kind"), [
    (u3.NewConnectionError(None, "refused"), FailureKind.CONNECT),  # type: ignore[arg-type]
    (u3.NameResolutionError("h", None, OSError("x")), FailureKind.CONNECT),  # type: ignore[arg-type]
    (u3.ConnectTimeoutError("t"), FailureKind.CONNECT),
    (u3.ReadTimeoutError(None, "/", "read timed out"), FailureKind.AMBIGUOUS),  # type: ignore[arg-type]
    (u3.ProtocolError("Connection aborted.", ConnectionResetError()), FailureKind.AMBIGUOUS),
    (u3.IncompleteRead(3, 10), FailureKind.AMBIGUOUS),
    (u3.SSLError("bad record mac"), FailureKind.AMBIGUOUS),
    (u3.SSLError(ssl.SSLCertVerificationError("certificate verify failed")), FailureKind.FATAL),
    (u3.LocationParseError("::"), FailureKind.FATAL),
    (u3.MaxRetryError(None, "/", u3.ConnectTimeoutError("t")), FailureKind.CONNECT),  # type: ignore[arg-type]
    (u3.MaxRetryError(None, "/", None), FailureKind.AMBIGUOUS),  # type: ignore[arg-type]
    (http.client.RemoteDisconnected("gone"), FailureKind.AMBIGUOUS),
    (ConnectionResetError(), FailureKind.AMBIGUOUS),
])
def test_classify(err: BaseException, kind: FailureKind) -> None:
    assert classify(err)[0] is kind


def test_mapping_raises_our_errors_from_the_original() -> None:
    cause = u3.ConnectTimeoutError("connect timed out")
    with pytest.raises(ScaleNetworkError, match=r"^POST /p failed: timed out while connecting "
                                                r"\(ConnectTimeoutError\); nothing was sent\.$"
                       ) as info, map_urllib3_exceptions("POST", "/p"):
        raise cause
    assert info.value.sent is False
    assert info.value.__cause__ is cause

    with pytest.raises(ScaleNetworkError, match=r"^GET /q failed: the connection broke "
                                                r"\(ProtocolError\); the request was sent, so the "
                                                r"server may have acted on it\.$") as info2, \
            map_urllib3_exceptions("GET", "/q"):
        raise u3.ProtocolError("Connection aborted.")
    assert info2.value.sent is True

    with pytest.raises(SubmitError, match=r"^POST /p failed: the URL cannot be parsed "
                                          r"\(LocationParseError\); nothing was sent, and "
                                          r"retrying cannot help\.$") as info3, \
            map_urllib3_exceptions("POST", "/p"):
        raise u3.LocationParseError("::")
    assert not isinstance(info3.value, ScaleNetworkError)


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), map_urllib3_exceptions("GET", "/"):
        raise KeyError("not ours to map")


@pytest.mark.parametrize(("status", "cls"), [
    (400, "ScaleRequestError"), (401, "ScaleAuthError"), (402, "ScalePaymentError"),
    (403, "ScaleApiError"), (404, "ScaleNotFoundError"), (408, "ScaleServerError"),
    (409, "DuplicateTaskError"), (429, "RateLimitedError"), (500, "ScaleServerError"),
    (502, "ScaleServerError"), (503, "ScaleServerError"), (504, "ScaleServerError"),
    (599, "ScaleServerError"), (302, "ScaleApiError"),
])
def test_status_mapping(status: int, cls: str) -> None:
    err = error_for_response(status, b'{"error": "nope", "status_code": 1}', what="GET /x")
    assert type(err).__name__ == cls
    assert str(err) == f"Scale answered HTTP {status} to GET /x: nope."
    assert err.status_code == status


def test_409_and_429_carry_their_extras() -> None:
    dup = error_for_response(409, b'{"error": "The unique_id (\\"u\\") is already used for a '
                                  b'different task (5f2a9c)."}', what="POST /t")
    assert isinstance(dup, DuplicateTaskError)
    assert dup.existing_task_id == "5f2a9c"
    limited = error_for_response(429, b"slow down", what="POST /t", retry_after=7.0)
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 7.0
    assert str(limited) == "Scale answered HTTP 429 to POST /t: slow down."


def test_secrets_are_blanked_from_server_text() -> None:
    err = error_for_response(500, b'{"error": "bad key sk_123"}', what="POST /t",
                             secrets=("sk_123",))
    assert isinstance(err, ScaleServerError)
    assert "sk_123" not in str(err)
    assert "sk_123" not in err.body_excerpt


@pytest.mark.parametrize(("message", "task_id"), [
    ('The unique_id ("u") is already used for a different task (abc123).', "abc123"),
    ("Duplicate (u) for task (abc123)", "abc123"),
    ("Duplicate task ('abc123') ", "abc123"),
    ("Duplicate unique_id", None),
    ("(abc) is the id, trailing text", None),
])
def test_existing_task_id_best_effort(message: str, task_id: str | None) -> None:
    assert existing_task_id(message) == task_id


def test_server_message() -> None:
    assert server_message(b'{"error": " Bad thing. "}') == "Bad thing."
    assert server_message(b'{"message": "x"}') == '{"message": "x"}'
    assert server_message(b"") == "(empty body)"
    assert server_message(b"\xff" + b"a" * 400).endswith("...")


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(None) is None
    assert parse_retry_after(" 12 ") == 12.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None


def test_api_error_base_for_unknown_4xx() -> None:
    err = error_for_response(418, b"teapot", what="GET /x")
    assert type(err) is ScaleApiError
