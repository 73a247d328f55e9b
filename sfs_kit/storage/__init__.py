"""Object storage: ``S3Store`` and ``LocalStore`` behind one ``ObjectStore`` protocol.

The store takes paths, bytes, keys and plain values and knows nothing of scenes. Uploads are
idempotent (a stored sha256 is compared, never the ETag), URLs are presigned GETs of at most
7 days (spec section 6) and ``verify_urls`` fetches the first bytes of each before submission.
"""

from __future__ import annotations

from sfs_kit.storage.base import (
    DEFAULT_EXPIRES_S,
    DEFAULT_MIN_LIFETIME_S,
    MAX_EXPIRES_S,
    ObjectStore,
    ProgressCallback,
    ProgressEvent,
    SignedUrl,
    StoredObject,
    UrlCheck,
    content_type_for,
    expected_magic_for,
    sha256_file,
)
from sfs_kit.storage.keys import key_for
from sfs_kit.storage.local import LocalStore
from sfs_kit.storage.presign import redact_url
from sfs_kit.storage.s3 import S3Store
from sfs_kit.storage.verify import verify_urls

__all__ = [
    "DEFAULT_EXPIRES_S",
    "DEFAULT_MIN_LIFETIME_S",
    "MAX_EXPIRES_S",
    "LocalStore",
    "ObjectStore",
    "ProgressCallback",
    "ProgressEvent",
    "S3Store",
    "SignedUrl",
    "StoredObject",
    "UrlCheck",
    "content_type_for",
    "expected_magic_for",
    "key_for",
    "redact_url",
    "sha256_file",
    "verify_urls",
]
