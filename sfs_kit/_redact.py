"""Redaction of presigned-URL secrets, shared by storage, submit and the CLI (imports nothing)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["redact_url", "redact_urls_in"]

_SECRET_PARAMS = re.compile(
    r"(?i)((?:^|[?&;\s])(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|"
    r"AWSAccessKeyId|x-amz-security-token)=)[^&#\s\"']*"
)


def redact_url(url: str) -> str:
    """``url`` with the values of X-Amz-Signature, X-Amz-Credential and X-Amz-Security-Token
    (and SigV2's Signature and AWSAccessKeyId) replaced by ``REDACTED``; safe to log."""
    return _SECRET_PARAMS.sub(r"\1REDACTED", url)


def redact_urls_in(value: Any) -> Any:
    """A copy of a JSON-like value with every string passed through ``redact_url`` (for reprs)."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {k: redact_urls_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_urls_in(v) for v in value)
    return value
