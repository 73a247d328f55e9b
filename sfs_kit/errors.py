"""The one error hierarchy of sfs_kit; ``except SfsKitError`` catches everything raised on purpose.

::

    SfsKitError
    ├── SceneValidationError      a step needs a valid scene; ``issues``, ``pydantic_errors``
    ├── FormatError               bytes claiming to be .sfs / frame JSON / journal that are not
    │   ├── SfsFormatError        .sfs container (rules R1-R8); ``item`` index and ``keys`` path
    │   │   └── TruncatedDataError  data ends before an item / header says it should
    │   ├── FrameFormatError      split_base64 / legacy LiDAR frame JSON
    │   └── JournalFormatError    the pipeline's msgpack journal
    ├── InputError                raw inputs missing or malformed (file, manifest, config)
    │   └── MissingDependencyError  an optional extra is needed (names the extra)
    ├── OutputError               an output path cannot be written (no folder, a folder); ``path``
    ├── StorageError              object-store failures; ``bucket``, ``key``, ``operation``
    │   ├── StorageNotFoundError      bucket or object missing
    │   ├── StorageAccessDeniedError  credentials refused / missing
    │   ├── StorageNetworkError       could not reach the endpoint
    │   ├── StorageServerError        the server answered 5xx (after botocore's own retries)
    │   ├── ChecksumMismatchError     the server (or we) saw different bytes than were sent
    │   ├── InvalidKeyError           a key with ``..``, an absolute path or a control character
    │   └── PresignError              a URL cannot be signed, lives too short, or fails verification
    │       └── UrlVerificationError  the ranged GET of a URL did not return the expected bytes
    └── SubmitError               the multi-stage endpoint; never contains the API key
        ├── TaskRequestError          the body breaks a documented rule; nothing was sent
        ├── ScaleTransportError       the request may or may not have arrived
        │   ├── ScaleNetworkError     connect failure (not sent) or timeout/reset (ambiguous)
        │   └── OutcomeUnknownError   ambiguous and not safe to retry: the task may exist
        └── ScaleApiError             an HTTP error answer; ``status_code``, ``body_excerpt``
            ├── ScaleRequestError     400
            ├── ScaleAuthError        401
            ├── ScalePaymentError     402
            ├── ScaleNotFoundError    404
            ├── DuplicateTaskError    409; ``existing_task_id`` (best effort)
            ├── RateLimitedError      429; ``retry_after`` seconds
            └── ScaleServerError      408 and 5xx

Every message is one sentence naming the thing, expected versus found, ending with a period.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "ChecksumMismatchError",
    "DuplicateTaskError",
    "FormatError",
    "FrameFormatError",
    "InputError",
    "InvalidKeyError",
    "JournalFormatError",
    "MissingDependencyError",
    "OutcomeUnknownError",
    "OutputError",
    "PresignError",
    "RateLimitedError",
    "ScaleApiError",
    "ScaleAuthError",
    "ScaleNetworkError",
    "ScaleNotFoundError",
    "ScalePaymentError",
    "ScaleRequestError",
    "ScaleServerError",
    "ScaleTransportError",
    "SceneValidationError",
    "SfsFormatError",
    "SfsKitError",
    "StorageAccessDeniedError",
    "StorageError",
    "StorageNetworkError",
    "StorageNotFoundError",
    "StorageServerError",
    "SubmitError",
    "TaskRequestError",
    "TruncatedDataError",
    "UrlVerificationError",
]


class SfsKitError(Exception):
    """Base of every error sfs_kit raises on purpose.

    As defence in depth the message is bounded: a run of more than 300 non-blank characters (a
    hostile token some message quoted whole) and a quoted value of more than 300 characters
    (short words: 'a - - - ...') are cut to excerpts, the whole to 8000 characters,
    and terminal control characters are escaped, so no input reaches a terminal raw.
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (_bounded(args[0]), *args[1:])
        super().__init__(*args)


_LONG_RUN = re.compile(r"\S{301,}")
# a quoted value (a repr: the quote opens after no word character and closes before none, so
# "can't ... don't" is no quote) of more than 300 characters, short words or not
_LONG_QUOTE = re.compile(r"(?<![\w'\"])(['\"])((?:(?!\1)[^\\\n]|\\.){301,})\1(?!\w)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_MESSAGE = 8000


def _bounded(message: str) -> str:
    """``message`` with long tokens and long quoted values cut, control characters escaped,
    at most ~8000 chars."""
    if len(message) > 300:
        message = _LONG_RUN.sub(
            lambda m: f"{m.group()[:60]}...({len(m.group())} chars)", message)
        message = _LONG_QUOTE.sub(
            lambda m: f"{m[1]}{m[2][:60]}...{m[1]} ({len(m[2])} chars)", message)
    message = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", message)
    if len(message) > _MAX_MESSAGE:
        message = f"{message[:_MAX_MESSAGE]}... ({len(message)} chars in all)"
    return message


def _located(message: str, source: str | None, line: int | None) -> str:
    """Prefix ``message`` with ``source[:line]: `` unless it already names the source.

    Readers deep in a capture often know only the value that is wrong; the file it came from is
    what a user needs first, so every input/format error leads with it.
    """
    if not source or source.startswith("<"):
        return message
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    if name and name in message:
        return message
    where = _bounded(f"{source}:{line}" if line is not None else source)
    return f"{where}: {message}"


# --- scenes -----------------------------------------------------------------------------------


class SceneValidationError(SfsKitError):
    """A step needs a valid scene and lacks one; ``issues`` lists what is wrong (may be empty).

    ``issues`` holds ``sfs_kit.Issue`` objects from ``validate()``; ``pydantic_errors`` keeps
    pydantic's ``ValidationError.errors()`` when the failure came from model construction.
    """

    def __init__(
        self,
        message: str,
        issues: Sequence[object] = (),
        pydantic_errors: Sequence[object] = (),
    ) -> None:
        super().__init__(message)
        self.issues = list(issues)
        self.pydantic_errors = list(pydantic_errors)


# --- bytes that claim to be one of our formats ------------------------------------------------


class FormatError(SfsKitError):
    """Bytes claiming to be .sfs, frame JSON or a journal that are not.

    ``source`` names the file (or ``"<bytes>"``); ``offset`` is a byte offset and ``key`` a field
    path, where known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "<bytes>",
        offset: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.offset = offset
        self.key = key

    def __str__(self) -> str:
        return _located(super().__str__(), self.source, None)


class SfsFormatError(FormatError):
    """A .sfs container breaks one of the reader rules R1-R8 (spec section 1.3)."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "<bytes>",
        offset: int | None = None,
        key: str | None = None,
        item: int | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message, source=source, offset=offset, key=key)
        self.item = item
        self.rule = rule


class TruncatedDataError(SfsFormatError):
    """The data ends before the header says it should."""


class FrameFormatError(FormatError):
    """A split_base64 or legacy LiDAR frame JSON is malformed."""


class JournalFormatError(FormatError):
    """The pipeline journal is malformed (a truncated *last* record is not an error)."""


# --- raw inputs -------------------------------------------------------------------------------


class InputError(SfsKitError):
    """A raw input is missing or malformed; names the file and the line, field or offset."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.field = field
        self.offset = offset

    def __str__(self) -> str:
        return _located(super().__str__(), self.source, self.line)


class MissingDependencyError(InputError):
    """An optional dependency is needed; the message says which extra to install."""


# --- outputs ----------------------------------------------------------------------------------


class OutputError(SfsKitError):
    """An output path cannot be written: its folder is missing, it is a folder, or the OS refused.

    ``path`` is the output path as given. Raised before any work when the path is checkable up
    front, and for any ``OSError`` while writing the output (never a bare traceback).
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


# --- storage ----------------------------------------------------------------------------------


class StorageError(SfsKitError):
    """An object-store operation failed; never carries a secret."""

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.operation = operation


class StorageNotFoundError(StorageError):
    """The bucket or object does not exist."""


class StorageAccessDeniedError(StorageError):
    """The credentials are missing, wrong, or lack permission."""


class StorageNetworkError(StorageError):
    """The endpoint could not be reached or the connection broke."""


class StorageServerError(StorageError):
    """The object store answered with a server error (HTTP 5xx): worth retrying later."""


class ChecksumMismatchError(StorageError):
    """The bytes stored differ from the bytes sent."""


class InvalidKeyError(StorageError):
    """An object key is unsafe: a ``..`` segment, an absolute path or a control character."""


class PresignError(StorageError):
    """A URL cannot be signed, would live too short, or failed verification."""


class UrlVerificationError(PresignError):
    """A ranged GET of a URL did not answer with the expected bytes."""

    def __init__(self, message: str, *, url: str, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.url = url


# --- submission -------------------------------------------------------------------------------


class SubmitError(SfsKitError):
    """The multi-stage endpoint call failed; never carries the API key."""


class TaskRequestError(SubmitError):
    """The request breaks a documented rule; nothing was sent. ``field`` and ``rule`` say which.

    ``field``/``rule`` name the first violation; ``pydantic_errors`` keeps pydantic's
    ``ValidationError.errors()`` (every violation) when the failure came from model construction.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        pydantic_errors: Sequence[object] = (),
    ) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.pydantic_errors = list(pydantic_errors)


class ScaleTransportError(SubmitError):
    """The request may or may not have reached the server."""


class ScaleNetworkError(ScaleTransportError):
    """A connection failure; ``sent`` is False when nothing reached the server."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class OutcomeUnknownError(ScaleTransportError):
    """An ambiguous outcome that was not safe to retry: the task may or may not exist."""


class ScaleApiError(SubmitError):
    """The endpoint answered with an HTTP error."""

    def __init__(self, message: str, *, status_code: int, body_excerpt: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body_excerpt = body_excerpt


class ScaleRequestError(ScaleApiError):
    """HTTP 400: a bad or missing parameter, in the server's words."""


class ScaleAuthError(ScaleApiError):
    """HTTP 401: the API key is missing or invalid."""


class ScalePaymentError(ScaleApiError):
    """HTTP 402: the task type is not enabled for the account."""


class ScaleNotFoundError(ScaleApiError):
    """HTTP 404: the resource was not found."""


class DuplicateTaskError(ScaleApiError):
    """HTTP 409: the unique_id (or idempotency key) is already used by ``existing_task_id``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 409,
        body_excerpt: str = "",
        existing_task_id: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body_excerpt=body_excerpt)
        self.existing_task_id = existing_task_id


class RateLimitedError(ScaleApiError):
    """HTTP 429: too many requests; ``retry_after`` is the server's wish in seconds, if given."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body_excerpt: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body_excerpt=body_excerpt)
        self.retry_after = retry_after


class ScaleServerError(ScaleApiError):
    """HTTP 408 or 5xx. A 500 may still have created the task."""
