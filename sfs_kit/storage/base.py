"""Records and the ``ObjectStore`` protocol shared by ``S3Store`` and ``LocalStore``.

The store knows nothing of scenes: it takes paths, bytes, keys and plain values.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from sfs_kit._redact import redact_url

__all__ = [
    "DEFAULT_EXPIRES_S",
    "DEFAULT_MIN_LIFETIME_S",
    "MAX_EXPIRES_S",
    "ObjectStore",
    "ProgressCallback",
    "ProgressEvent",
    "SignedUrl",
    "StoredObject",
    "UrlCheck",
    "content_type_for",
    "expected_magic_for",
    "redact_url",
    "sha256_file",
]

MAX_EXPIRES_S = 604_800  # SigV4 presigned URLs live at most 7 days (spec section 6)
DEFAULT_EXPIRES_S = MAX_EXPIRES_S
DEFAULT_MIN_LIFETIME_S = 86_400  # when Scale fetches is unknown (spec Q6): demand a day

_CONTENT_TYPES = {
    ".sfs": "application/octet-stream",
    ".json": "application/json",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
_MAGIC = {
    ".sfs": b"{",
    ".json": b"{",
    ".jpg": b"\xff\xd8\xff",
    ".jpeg": b"\xff\xd8\xff",
    ".png": b"\x89PNG\r\n\x1a\n",
}


@dataclass(frozen=True)
class StoredObject:
    """An object in a store; ``uploaded`` is False when an identical object was already there.

    ``sha256`` is the hex digest recorded at upload; None only for objects that sfs_kit did not
    write (no ``sha256`` metadata).
    """

    key: str
    size: int
    sha256: str | None
    content_type: str
    uploaded: bool


@dataclass(frozen=True)
class SignedUrl:
    """A URL for ``key`` that authorizes itself until ``expires_at`` (UTC).

    ``effective_expires_s`` is below ``requested_expires_s`` when temporary credentials expire
    first. Unsigned URLs (``file://``, ``s3://``) carry ``datetime.max`` (UTC). The repr shows the
    URL with its signature and credential redacted; ``url`` itself is the working URL.
    """

    key: str
    url: str = field(repr=False)
    expires_at: datetime
    requested_expires_s: int
    effective_expires_s: int

    def __repr__(self) -> str:
        return (f"SignedUrl(key={self.key!r}, url={redact_url(self.url)!r}, "
                f"expires_at={self.expires_at!r}, requested_expires_s={self.requested_expires_s}, "
                f"effective_expires_s={self.effective_expires_s})")


@dataclass(frozen=True)
class UrlCheck:
    """What a ranged GET of ``url`` must show: the total size and, optionally, the first bytes."""

    url: str
    expected_size: int
    expected_magic: bytes | None = None


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of ``upload_many``; ``key`` is the object this event is about.

    Skipped (identical) objects count as done, bytes included.
    """

    key: str
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int


ProgressCallback = Callable[[ProgressEvent], None]


def _same_object(existing: StoredObject | None, size: int, sha256: str, content_type: str) -> bool:
    """True when ``existing`` is there with this size, recorded sha256 and type (skip the put)."""
    return (
        existing is not None
        and existing.size == size
        and existing.sha256 == sha256
        and existing.content_type == content_type
    )


def content_type_for(key: str) -> str:
    """The Content-Type for a key by its suffix (.sfs is application/octet-stream)."""
    suffix = Path(key).suffix.lower()
    known = _CONTENT_TYPES.get(suffix)
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(key, strict=True)
    return guessed or "application/octet-stream"


def expected_magic_for(key: str) -> bytes | None:
    """The first bytes a file of this kind must start with (spec section 6), or None if unknown."""
    return _MAGIC.get(Path(key).suffix.lower())


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, streamed."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@runtime_checkable
class ObjectStore(Protocol):
    """What the pipeline needs from a store; ``S3Store`` and ``LocalStore`` implement it."""

    def key_for(self, *parts: str) -> str:
        """A normalised key under the store's prefix."""
        ...

    def put_file(
        self, path: str | Path, key: str, *, content_type: str | None = None
    ) -> StoredObject:
        """Store a file; skipped (``uploaded=False``) when an identical object exists."""
        ...

    def put_bytes(self, data: bytes, key: str, *, content_type: str | None = None) -> StoredObject:
        """Store bytes; skipped when identical."""
        ...

    def put_stream(
        self,
        stream: BinaryIO,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str | None = None,
    ) -> StoredObject:
        """Store ``size`` bytes read from ``stream`` whose digest the caller already knows."""
        ...

    def head(self, key: str) -> StoredObject | None:
        """The stored object, or None if absent."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The object's bytes."""
        ...

    def upload_many(
        self,
        items: Sequence[tuple[str | Path, str]],
        *,
        max_workers: int = 8,
        on_progress: ProgressCallback | None = None,
        sha256s: Mapping[str, str] | None = None,
    ) -> list[StoredObject]:
        """Store many ``(path, key)`` pairs in parallel; results in input order.

        ``sha256s`` maps keys to digests the caller already computed, to avoid hashing twice.
        """
        ...

    def url_for(
        self,
        key: str,
        *,
        expires_s: int = DEFAULT_EXPIRES_S,
        min_lifetime_s: int = DEFAULT_MIN_LIFETIME_S,
        as_s3_uri: bool = False,
    ) -> SignedUrl:
        """A URL that a plain GET can fetch."""
        ...

    def verify_urls(
        self, checks: Sequence[UrlCheck], *, timeout_s: float = 30.0, max_workers: int = 16
    ) -> None:
        """Ranged-GET every URL; raise ``UrlVerificationError`` on the first failures."""
        ...
