"""Shared CLI plumbing: exit codes, error lines and JSON output (bars: ``_progress``)."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from sfs_kit import errors
from sfs_kit.cli._progress import Progress

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
