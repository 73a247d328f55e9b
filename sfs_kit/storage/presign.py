"""Presigned-URL policy (spec section 6, D28): lifetimes, temporary credentials, redaction.

A SigV4 URL lives at most 7 days, and no longer than the credentials that signed it. We sign for
the requested lifetime, report ``min(signed, credential expiry)`` as the effective one, warn when
it is shorter than asked, and refuse it below ``min_lifetime_s``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sfs_kit.errors import PresignError
from sfs_kit.storage.base import MAX_EXPIRES_S, redact_url

__all__ = ["NO_EXPIRY", "check_expires", "effective_lifetime", "redact_url"]

logger = logging.getLogger(__name__)

NO_EXPIRY = datetime.max.replace(tzinfo=UTC)


def check_expires(
    expires_s: int, min_lifetime_s: int, *, key: str, setting: str | None = None
) -> None:
    """Refuse a requested lifetime that is not a whole number of seconds in 1..7 days.

    ``setting`` (e.g. ``"--expires"``) names the user's setting in the message instead of the key,
    for checks made before anything is uploaded.
    """
    subject = f"Setting {setting!r}" if setting is not None else f"URL lifetime for {key!r}"
    if isinstance(expires_s, bool) or not isinstance(expires_s, int) or expires_s < 1:
        raise PresignError(
            f"{subject} must be a positive whole number of seconds, not {expires_s!r}.",
            key=key or None, operation="presign",
        )
    if expires_s > MAX_EXPIRES_S:
        raise PresignError(
            f"{subject} of {expires_s} s exceeds the SigV4 maximum of {MAX_EXPIRES_S} s (7 days).",
            key=key or None, operation="presign",
        )
    if min_lifetime_s < 0:
        raise PresignError(
            f"Minimum URL lifetime must not be negative, got {min_lifetime_s!r}.",
            key=key or None, operation="presign",
        )


def effective_lifetime(
    expires_s: int,
    min_lifetime_s: int,
    *,
    key: str,
    now: datetime,
    credential_expiry: datetime | None,
    bucket: str | None = None,
) -> tuple[int, datetime]:
    """``(effective seconds, expiry time)``: the signed lifetime cut at the credentials' expiry.

    Warns (logging) when the credentials cut it short; raises ``PresignError`` when the result is
    below ``min_lifetime_s``.
    """
    expires_at = now + timedelta(seconds=expires_s)
    effective_s = expires_s
    if credential_expiry is not None and credential_expiry < expires_at:
        effective_s = max(0, int((credential_expiry - now).total_seconds()))
        expires_at = credential_expiry
        if effective_s >= min_lifetime_s:
            logger.warning(
                "URL for %r stops working at %s when its temporary credentials expire, "
                "after %d s instead of the %d s requested.",
                key, expires_at.isoformat(timespec="seconds"), effective_s, expires_s,
            )
    if effective_s < min_lifetime_s:
        why = (
            f"the signing credentials expire at {expires_at.isoformat(timespec='seconds')}"
            if effective_s < expires_s else "that is the lifetime requested"
        )
        raise PresignError(
            f"URL for {key!r} would live {effective_s} s ({why}), less than the required "
            f"minimum of {min_lifetime_s} s; use longer-lived credentials or lower min_lifetime_s.",
            bucket=bucket, key=key, operation="presign",
        )
    return effective_s, expires_at
