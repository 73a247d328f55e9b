"""Redaction of secrets, shared by storage, submit and the CLI (imports nothing).

Presigned-URL query values are replaced wherever a URL is logged or shown; the values of the
credential variables (``CREDENTIAL_ENV`` plus any variable a config names with ``api_key_env``)
are replaced in everything the CLI prints, as defence in depth behind "never quote a secret".
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["CREDENTIAL_ENV", "protect_env", "redact_secrets", "redact_url", "redact_urls_in",
           "secret_values"]

CREDENTIAL_ENV = ("SCALE_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                  "AWS_SECURITY_TOKEN")
"""Environment variables whose values are secrets wherever they appear."""
_MIN_SECRET = 8  # shorter values (test fixtures' "secret") would garble ordinary words
_protected: set[str] = set()

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


def protect_env(name: str) -> None:
    """Treat the value of environment variable ``name`` as a secret from now on (the variable a
    config's ``api_key_env`` names)."""
    _protected.add(name)


def secret_values() -> list[str]:
    """The current values of the credential variables, longest first (so none hides another)."""
    names = (*CREDENTIAL_ENV, *sorted(_protected))
    values = {os.environ.get(name, "") for name in names}
    return sorted((v for v in values if len(v) >= _MIN_SECRET), key=len, reverse=True)


def redact_secrets(text: str) -> str:
    """``text`` with every credential variable's value replaced by ``REDACTED``."""
    for value in secret_values():
        if value in text:
            text = text.replace(value, "REDACTED")
    return text
