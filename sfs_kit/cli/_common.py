"""Shared CLI plumbing: exit codes, error lines, JSON output and a small stderr progress bar."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

from sfs_kit import errors

__all__ = [
    "EXIT_AUTH",
    "EXIT_DUPLICATE",
    "EXIT_ERROR",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_SERVER",
    "EXIT_STORAGE",
    "EXIT_UNREADABLE",
    "EXIT_USAGE",
    "Progress",
    "exit_code_for",
    "print_error",
    "print_json",
]

EXIT_OK = 0
EXIT_INVALID = 1  # the input was read, and it is invalid (validation errors, bad task request)
EXIT_UNREADABLE = 2  # the input cannot be read (format/input error)
EXIT_USAGE = 2  # argparse's own code for bad usage
EXIT_AUTH = 3  # credentials refused (Scale 401/402, S3 access denied)
EXIT_DUPLICATE = 4  # the task already exists (409)
EXIT_SERVER = 5  # server, network or ambiguous outcome
EXIT_STORAGE = 6  # other object-store failures
EXIT_ERROR = 7  # any other SfsKitError

_EXIT_BY_TYPE: tuple[tuple[type[errors.SfsKitError], int], ...] = (
    (errors.SceneValidationError, EXIT_INVALID),
    (errors.TaskRequestError, EXIT_INVALID),
    (errors.FormatError, EXIT_UNREADABLE),
    (errors.InputError, EXIT_UNREADABLE),
    (errors.OutputError, EXIT_UNREADABLE),
    (errors.ScaleAuthError, EXIT_AUTH),
    (errors.ScalePaymentError, EXIT_AUTH),
    (errors.StorageAccessDeniedError, EXIT_AUTH),
    (errors.DuplicateTaskError, EXIT_DUPLICATE),
    (errors.ScaleRequestError, EXIT_INVALID),
    (errors.SubmitError, EXIT_SERVER),
    (errors.StorageNetworkError, EXIT_SERVER),
    (errors.StorageServerError, EXIT_SERVER),
    (errors.StorageError, EXIT_STORAGE),
)


def exit_code_for(exc: errors.SfsKitError) -> int:
    """The documented exit code for an error (first matching class in ``_EXIT_BY_TYPE``)."""
    for cls, code in _EXIT_BY_TYPE:
        if isinstance(exc, cls):
            return code
    return EXIT_ERROR


def print_error(exc: BaseException, stream: IO[str] | None = None) -> None:
    """One line on stderr: ``sfs-kit: error: <message>``."""
    print(f"sfs-kit: error: {exc}", file=stream or sys.stderr)


def print_json(obj: Any, stream: IO[str] | None = None) -> None:
    """Pretty JSON on stdout (for ``--json``)."""
    out = stream or sys.stdout
    json.dump(obj, out, indent=2, sort_keys=False, default=str)
    out.write("\n")


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal (or ``force``)."""

    def __init__(
        self,
        label: str,
        total: float,
        *,
        unit: str = "",
        stream: IO[str] | None = None,
        force: bool = False,
    ) -> None:
        self.label = label
        self.total = max(float(total), 0.0)
        self.unit = unit
        self.done = 0.0
        self._stream = stream or sys.stderr
        self._enabled = force or self._stream.isatty()
        self._last_draw = 0.0

    def update(self, amount: float = 1.0) -> None:
        """Advance by ``amount`` and redraw at most ten times a second."""
        self.done += amount
        now = time.monotonic()
        if self._enabled and (now - self._last_draw >= 0.1 or self.done >= self.total):
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        frac = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        width = 28
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(
            f"\r{self.label:<12} [{bar}] {frac * 100:5.1f}% {_fmt(self.done, self.unit)}"
            f"/{_fmt(self.total, self.unit)}"
        )
        self._stream.flush()

    def close(self) -> None:
        """Finish the line."""
        if self._enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt(value: float, unit: str) -> str:
    if unit == "B":
        for suffix in ("B", "KB", "MB", "GB"):
            if value < 1000 or suffix == "GB":
                return f"{value:.0f}{suffix}" if suffix == "B" else f"{value:.1f}{suffix}"
            value /= 1000
    return f"{value:.0f}{unit}"
