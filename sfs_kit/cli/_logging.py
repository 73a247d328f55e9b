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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sfs_kit._redact import redact_url

__all__ = ["RedactingFilter", "cli_logging", "redact_text"]

_HEADER_VALUES = re.compile(
    r"(?i)((?:Authorization|X-Amz-Security-Token)['\"]?\s*[:=]\s*b?['\"]?)[^'\"\r\n,}]*"
)
_SIGV4_CREDENTIAL = re.compile(r"(?i)(\bCredential=)[^,\s'\"&]*")
_DROPPED_LOGGERS = ("botocore.auth",)


def redact_text(text: str) -> str:
    """``text`` with every presigned-URL secret and auth header value replaced by ``REDACTED``."""
    text = redact_url(text)
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
