"""The CLI's log handler: ``-v`` levels for sfs_kit only, and secrets redacted from every line.

``-v`` sets INFO and ``-vv`` DEBUG on the ``sfs_kit`` logger; the root stays at WARNING so botocore,
urllib3 and s3transfer stay quiet. ``-vvv`` opts in to third-party DEBUG as well. Whatever the
level, the handler drops ``botocore.auth`` records (they print signatures and canonical requests)
and redacts presigned-URL query values (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token,
Signature, AWSAccessKeyId), SigV4 ``Credential=`` and ``Authorization``/security-token header
values (spec section 6: never log them).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from sfs_kit._redact import redact_secrets, redact_url

__all__ = [
    "RedactingFilter",
    "RedactingStream",
    "cli_logging",
    "redact_text",
    "redacted_streams",
]

_HEADER_VALUES = re.compile(
    r"(?i)((?:Authorization|X-Amz-Security-Token)['\"]?\s*[:=]\s*b?['\"]?)[^'\"\r\n,}]*"
)
_SIGV4_CREDENTIAL = re.compile(r"(?i)(\bCredential=)[^,\s'\"&]*")
_DROPPED_LOGGERS = ("botocore.auth",)


def redact_text(text: str) -> str:
    """``text`` with every presigned-URL secret, auth header value and credential variable's
    value replaced by ``REDACTED``."""
    text = redact_secrets(redact_url(text))
    text = _SIGV4_CREDENTIAL.sub(r"\1REDACTED", text)
    return _HEADER_VALUES.sub(r"\1REDACTED", text)


class RedactingFilter(logging.Filter):
    """Drops ``botocore.auth`` records and redacts the rendered message of every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(_DROPPED_LOGGERS):
            return False
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class _RedactingFormatter(logging.Formatter):
    """Also redacts tracebacks and stack text, which the filter does not see."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class RedactingStream:
    """A text stream that passes every write through ``redact_secrets`` (stdout/stderr of
    ``main``): credential variables' values go, presigned URLs stay (they are what ``upload`` and
    ``run --json`` print for scripts; logs redact those too, in the formatter); everything else
    (``isatty``, ``fileno``, ``buffer``...) is the wrapped stream's."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` redacted; returns the length given (callers count what they wrote)."""
        self._stream.write(redact_secrets(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each line redacted."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def redacted_streams() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` redacted for the duration (the CLI's one printing
    layer: print, rich consoles and the log handler all write through them)."""
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(saved[0])
    sys.stderr = RedactingStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def cli_logging(verbose: int, stream: IO[str] | None = None) -> Iterator[logging.Handler]:
    """Install the CLI's stderr handler on the root logger and set the levels for the duration
    of one ``main`` call; the previous handlers' set and levels are restored afterwards."""
    root = logging.getLogger()
    ours = logging.getLogger("sfs_kit")
    saved = (root.level, ours.level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 3 else
                  logging.ERROR if verbose < 0 else logging.WARNING)
    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}  # -1: -q
    ours.setLevel(levels.get(verbose, logging.DEBUG if verbose > 1 else logging.ERROR))
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
