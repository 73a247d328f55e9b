"""What one capture's attempt ended with, and whether trying again could help.

Transient (retried with backoff): object-store 5xx, network and checksum failures; Scale 408/429/
5xx, network failures and ambiguous outcomes (the task's unique_id makes a retry safe); a worker
lost to a signal (the OOM killer, SIGKILL) or to the engine. Permanent (not retried): invalid input
or scene, a refused request (400), credentials (401/402/403), a missing bucket, a unique_id owned
by another task (409), a per-capture timeout, and any error that is not an ``SfsKitError`` (a bug).
"""

from __future__ import annotations

import signal
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sfs_kit import errors

__all__ = ["Outcome", "classify", "failure", "is_transient"]

_TRANSIENT: tuple[type[errors.SfsKitError], ...] = (
    errors.StorageServerError,
    errors.StorageNetworkError,
    errors.ChecksumMismatchError,
    errors.UrlVerificationError,
    errors.ScaleServerError,
    errors.RateLimitedError,
    errors.ScaleTransportError,
)
_MESSAGE_CHARS = 400


@dataclass(frozen=True)
class Outcome:
    """The end of one attempt: ``done`` with the run's facts, or ``failed`` with the reason.

    Plain data (it crosses process and Ray boundaries and goes into the ledger as it is).
    """

    state: Literal["done", "failed"]
    error_class: str | None = None
    error_message: str | None = None
    transient: bool = False
    unique_id: str | None = None
    content_sha256: str | None = None
    task_id: str | None = None
    task_status: str | None = None
    task_existing: bool = False
    task_created: bool = False  # this attempt's POST created it (not resumed, not existing)
    dry_run: bool = False
    request_path: str | None = None
    urls_expire_at: str | None = None
    bytes_uploaded: int = 0
    step_seconds: dict[str, float] = field(default_factory=dict)
    warnings: int = 0

    def to_record(self) -> dict[str, Any]:
        """The ledger record's data (every field)."""
        return asdict(self)


def is_transient(exc: BaseException) -> bool:
    """True when trying the capture again may succeed (see the module docstring)."""
    return isinstance(exc, _TRANSIENT)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 3] + "..."


def classify(exc: BaseException) -> Outcome:
    """A failed ``Outcome`` for an exception raised by one capture's run."""
    if isinstance(exc, errors.SfsKitError):
        return Outcome("failed", type(exc).__name__, _one_line(str(exc)), is_transient(exc))
    return Outcome("failed", type(exc).__name__,
                   _one_line(f"internal error (a bug in sfs_kit, please report it): {exc!r}"),
                   transient=False)


def failure(error_class: str, message: str, *, transient: bool) -> Outcome:
    """A failed ``Outcome`` the driver decides (worker lost, timeout)."""
    return Outcome("failed", error_class, _one_line(message), transient)


def signal_name(code: int) -> str:
    """``SIGKILL`` for 9 (the name of a signal number, or ``signal N``)."""
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"
