"""A pydantic base whose repr redacts presigned-URL secrets (attachments are presigned URLs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from sfs_kit._redact import redact_urls_in

__all__ = ["RedactedReprModel"]


class RedactedReprModel(BaseModel):
    """``repr()`` passes every string through ``redact_url``; the fields keep the real values."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_urls_in(value)
