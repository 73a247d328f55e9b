"""``S3Store``: objects in an S3 bucket through boto3's managed transfers, presigned GET URLs.

Every upload sends ``ChecksumAlgorithm="SHA256"``, a Content-Type by suffix and
``Metadata={"sha256": <hex>}``. A file below the multipart threshold is one ``PutObject`` carrying
the precomputed full-object SHA-256 (the server checks it; botocore does not hash again); a larger
one goes through s3transfer (it aborts a failed multipart upload itself) with per-part SHA-256s,
one ``TransferManager`` shared by a whole ``upload_many``. Idempotency is a HEAD comparing the
stored digest (never the ETag); ``upload_many`` first lists the keys' common folder once, so only
keys that exist with the same size are HEADed. Over plain http, a body that carries a signed
``x-amz-checksum-sha256`` is sent ``UNSIGNED-PAYLOAD`` (see ``sign_payload``): hashed once.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import posixpath
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import ClientError
from s3transfer.manager import TransferManager
from s3transfer.subscribers import BaseSubscriber

from sfs_kit.errors import (
    ChecksumMismatchError,
    InputError,
    StorageAccessDeniedError,
    StorageError,
)
from sfs_kit.storage import verify as _verify
from sfs_kit.storage._batch import BytesCallback, known_digests, run_upload_many
from sfs_kit.storage._errors import map_storage_errors
from sfs_kit.storage.base import (
    DEFAULT_EXPIRES_S,
    DEFAULT_MIN_LIFETIME_S,
    ProgressCallback,
    SignedUrl,
    StoredObject,
    UrlCheck,
    _same_object,
    content_type_for,
)
from sfs_kit.storage.keys import key_for
from sfs_kit.storage.presign import NO_EXPIRY, check_expires, effective_lifetime

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from botocore.config import _S3Dict
    from s3transfer.futures import TransferFuture
    from types_boto3_s3 import S3Client

__all__ = ["DEFAULT_TRANSFER_CONFIG", "S3Store"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=8
)
_SSE_MODES = (None, "AES256", "aws:kms")
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_UNSIGNED_HANDLER_ID = "sfs-kit-unsigned-payload-when-sha256"


def _skip_payload_hash(request: AWSRequest, **_kwargs: Any) -> None:
    """``before-sign`` hook: a body carrying a signed ``x-amz-checksum-sha256`` is not hashed
    again for the signature. Over https botocore already does this; over plain http it would
    SHA-256 every body a second time although the server verifies the signed checksum."""
    if "x-amz-checksum-sha256" not in request.headers:
        return
    config = request.context.get("client_config")
    if config is None:
        return
    s3_options: _S3Dict = {**(getattr(config, "s3", None) or {})}  # type: ignore[typeddict-item]
    if s3_options.get("payload_signing_enabled") is False:
        return
    s3_options["payload_signing_enabled"] = False
    request.context["client_config"] = config.merge(Config(s3=s3_options))


def _open_and_hash(path: Path, known_sha256: str | None = None) -> tuple[BinaryIO, int, str]:
    """The open file, its size and hex SHA-256 (read in one pass; hashlib releases the GIL).

    ``known_sha256`` (a digest the caller computed moments ago) skips the extra read.
    """
    try:
        body = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        try:
            size = os.fstat(body.fileno()).st_size
            sha256 = known_sha256 or hashlib.file_digest(body, "sha256").hexdigest()
        except BaseException:
            body.close()
            raise
    except OSError as err:
        raise InputError(
            f"Cannot upload {str(path)!r}: {err.strerror or type(err).__name__}.",
            source=str(path),
        ) from err
    return body, size, sha256


class _ProgressSubscriber(BaseSubscriber):
    """Forwards s3transfer's byte counts to a ``BytesCallback``."""

    def __init__(self, on_bytes: BytesCallback) -> None:
        self._on_bytes = on_bytes

    def on_progress(
        self, future: TransferFuture, bytes_transferred: int, **kwargs: Any
    ) -> None:
        self._on_bytes(bytes_transferred)


class _HashingReader:
    """Wraps a stream, hashing and counting what is read (to check a caller's digest)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data


class S3Store:
    """An S3 bucket (any S3-compatible endpoint) as an ``ObjectStore``.

    ``client`` is injectable; otherwise one is made from ``session`` (default: the standard AWS
    credential chain). ``prefix`` is prepended by ``key_for``; the ``put_*`` methods take full keys.
    ``sign_payload=False`` (default) registers a hook on the client so that a PutObject/UploadPart
    carrying a signed ``x-amz-checksum-sha256`` is sent ``UNSIGNED-PAYLOAD`` over plain http too
    (as botocore does over https); pass True for servers that ignore checksum headers.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        client: S3Client | None = None,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        addressing_style: Literal["auto", "virtual", "path"] | None = None,
        sse: Literal["AES256", "aws:kms"] | None = None,
        sse_kms_key_id: str | None = None,
        transfer_config: TransferConfig | None = None,
        retry_mode: Literal["standard", "adaptive", "legacy"] = "standard",
        sign_payload: bool = False,
    ) -> None:
        if not bucket or not isinstance(bucket, str):
            raise StorageError(f"Bucket name must be a non-empty string, not {bucket!r}.")
        if sse not in _SSE_MODES:
            raise StorageError(
                f"Server-side encryption {sse!r} is not supported; use None, 'AES256' or "
                "'aws:kms'.",
                bucket=bucket,
            )
        if sse_kms_key_id is not None and sse != "aws:kms":
            raise StorageError(
                f"sse_kms_key_id needs sse='aws:kms', got sse={sse!r}.", bucket=bucket
            )
        self.bucket = bucket
        self.prefix = key_for(prefix.strip("/")) if prefix.strip("/") else ""
        self._sse = sse
        self._sse_kms_key_id = sse_kms_key_id
        self._transfer_config = transfer_config or DEFAULT_TRANSFER_CONFIG
        self._session = session
        if client is None:
            session = session or boto3.session.Session()
            self._session = session
            config = Config(
                signature_version="s3v4", retries={"mode": retry_mode, "max_attempts": 5}
            )
            if addressing_style is not None:
                config = config.merge(Config(s3={"addressing_style": addressing_style}))
            with map_storage_errors("connect", bucket=bucket):
                client = session.client(
                    "s3", endpoint_url=endpoint_url, region_name=region_name, config=config
                )
        self.client: S3Client = client
        if not sign_payload:
            for operation in ("PutObject", "UploadPart"):
                client.meta.events.register(
                    f"before-sign.s3.{operation}", _skip_payload_hash,
                    unique_id=f"{_UNSIGNED_HANDLER_ID}-{operation}",
                )

    # --- keys and metadata ---------------------------------------------------------------------

    def key_for(self, *parts: str) -> str:
        """``{prefix}/{parts...}``, normalised (see ``sfs_kit.storage.key_for``)."""
        return key_for(self.prefix, *parts)

    def _extra_args(self, content_type: str, sha256: str, size: int) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "ContentType": content_type,
            "Metadata": {"sha256": sha256},
            "ChecksumAlgorithm": "SHA256",
        }
        if size < self._transfer_config.multipart_threshold:
            # one PutObject: the server checks the whole object against the digest we recorded
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
        if self._sse is not None:
            extra["ServerSideEncryption"] = self._sse
        if self._sse_kms_key_id is not None:
            extra["SSEKMSKeyId"] = self._sse_kms_key_id
        return extra

    def head(self, key: str) -> StoredObject | None:
        """The object under ``key`` (size, recorded sha256, type), or None if there is none."""
        key = key_for(key)
        with map_storage_errors("head", bucket=self.bucket, key=key):
            try:
                response = self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as err:
                if str(err.response.get("Error", {}).get("Code", "")) in _MISSING_CODES:
                    return None
                raise
        return StoredObject(
            key=key,
            size=int(response.get("ContentLength", 0)),
            sha256=response.get("Metadata", {}).get("sha256"),
            content_type=response.get("ContentType", "application/octet-stream"),
            uploaded=False,
        )

    def _listed_sizes(self, keys: Sequence[str]) -> dict[str, int] | None:
        """Sizes of the objects under the keys' common folder (one ListObjectsV2 page per 1000),
        so a batch HEADs only keys that exist with the right size; None when HEAD must decide
        (no common folder, too many objects there, or listing is not allowed)."""
        folder = posixpath.commonpath({key.rpartition("/")[0] for key in keys})
        if not folder:
            return None
        max_pages = 2 + len(keys) // 1000
        sizes: dict[str, int] = {}
        try:
            with map_storage_errors("list", bucket=self.bucket, key=f"{folder}/"):
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=f"{folder}/"
                )
                for number, page in enumerate(pages, start=1):
                    for item in page.get("Contents", []):
                        sizes[item["Key"]] = int(item["Size"])
                    if number >= max_pages and page.get("IsTruncated"):
                        return None
        except StorageAccessDeniedError:
            logger.debug("Cannot list s3://%s/%s/; checking each key with HEAD.", self.bucket,
                         folder)
            return None
        return sizes

    def _unchanged(
        self, key: str, size: int, sha256: str, content_type: str,
        listed: dict[str, int] | None = None,
    ) -> bool:
        if listed is not None and listed.get(key) != size:
            return False  # absent or another size: nothing to HEAD
        return _same_object(self.head(key), size, sha256, content_type)

    # --- writes --------------------------------------------------------------------------------

    def put_file(
        self, path: str | Path, key: str, *, content_type: str | None = None
    ) -> StoredObject:
        """Upload a file unless an identical object (same sha256, size, type) is there."""
        return self._put_file(Path(path), key_for(key), lambda _n: None, content_type=content_type)

    @contextmanager
    def _transfers(self) -> Iterator[TransferManager]:
        """One s3transfer manager (and thread pool) for every multipart upload of a batch."""
        with map_storage_errors("upload", bucket=self.bucket):
            manager = create_transfer_manager(self.client, self._transfer_config)
        with manager:
            yield manager

    def _put_file(
        self,
        path: Path,
        key: str,
        on_bytes: BytesCallback,
        *,
        content_type: str | None = None,
        manager: TransferManager | None = None,
        listed: dict[str, int] | None = None,
        known_sha256: str | None = None,
    ) -> StoredObject:
        body, size, sha256 = _open_and_hash(path, known_sha256)
        with body:
            content_type = content_type or content_type_for(key)
            if self._unchanged(key, size, sha256, content_type, listed):
                logger.debug("s3://%s/%s is unchanged; not uploading %s.", self.bucket, key, path)
                on_bytes(size)
                return StoredObject(key, size, sha256, content_type, uploaded=False)
            extra = self._extra_args(content_type, sha256, size)
            if size < self._transfer_config.multipart_threshold:
                body.seek(0)
                with map_storage_errors("upload", bucket=self.bucket, key=key):
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
                on_bytes(size)
            elif manager is None:
                with self._transfers() as own:
                    self._put_multipart(own, path, key, extra, on_bytes)
            else:
                self._put_multipart(manager, path, key, extra, on_bytes)
        logger.info("Uploaded %s to s3://%s/%s (%d bytes).", path, self.bucket, key, size)
        return StoredObject(key, size, sha256, content_type, uploaded=True)

    def _put_multipart(
        self,
        manager: TransferManager,
        path: Path,
        key: str,
        extra: dict[str, Any],
        on_bytes: BytesCallback,
    ) -> None:
        with map_storage_errors("upload", bucket=self.bucket, key=key):
            future = manager.upload(
                str(path), self.bucket, key, extra_args=extra,
                subscribers=[_ProgressSubscriber(on_bytes)],
            )
            future.result()

    def put_bytes(self, data: bytes, key: str, *, content_type: str | None = None) -> StoredObject:
        """Upload bytes unless identical; see ``put_file``."""
        return self.put_stream(
            io.BytesIO(data), key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
            content_type=content_type,
        )

    def put_stream(
        self,
        stream: BinaryIO,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str | None = None,
    ) -> StoredObject:
        """Upload ``size`` bytes from ``stream`` whose digest is ``sha256`` (checked as it streams;
        on a mismatch the object is deleted and ``ChecksumMismatchError`` raised)."""
        key = key_for(key)
        content_type = content_type or content_type_for(key)
        if self._unchanged(key, size, sha256, content_type):
            return StoredObject(key, size, sha256, content_type, uploaded=False)
        reader = _HashingReader(stream)
        with map_storage_errors("upload", bucket=self.bucket, key=key):
            self.client.upload_fileobj(
                reader, self.bucket, key,  # type: ignore[arg-type]
                ExtraArgs=self._extra_args(content_type, sha256, size),
                Config=self._transfer_config,
            )
        found = reader.digest.hexdigest()
        if found != sha256 or reader.count != size:
            with map_storage_errors("delete", bucket=self.bucket, key=key):
                self.client.delete_object(Bucket=self.bucket, Key=key)
            raise ChecksumMismatchError(
                f"Stream for s3://{self.bucket}/{key} gave {reader.count} bytes with sha256 "
                f"{found}, expected {size} bytes with sha256 {sha256}; the object was removed.",
                bucket=self.bucket, key=key, operation="upload",
            )
        return StoredObject(key, size, sha256, content_type, uploaded=True)

    def upload_many(
        self,
        items: Sequence[tuple[str | Path, str]],
        *,
        max_workers: int = 8,
        on_progress: ProgressCallback | None = None,
        sha256s: Mapping[str, str] | None = None,
    ) -> list[StoredObject]:
        """Upload ``(path, key)`` pairs with at most ``max_workers`` files in flight (multipart
        parts of large files share one pool of ``TransferConfig.max_concurrency`` threads).

        One listing of the keys' common folder comes first: keys absent from it (or listed with
        another size) are uploaded without a HEAD; the others get one HEAD each. ``sha256s``
        (key -> hex digest the caller just computed) saves re-reading those files to hash them;
        the digest is still sent, so the server checks it against the bytes of a single-part
        upload (multipart parts carry their own checksums).
        """
        lock = threading.Lock()
        listing: list[dict[str, int] | None] = []
        known = known_digests(sha256s)

        def put(path: Path, key: str, on_bytes: BytesCallback) -> StoredObject:
            with lock:  # listed on the first call, after run_upload_many checked every input
                if not listing:
                    keys = [key_for(key) for _, key in items]
                    listing.append(self._listed_sizes(keys) if len(keys) > 1 else None)
            return self._put_file(path, key, on_bytes, manager=manager, listed=listing[0],
                                  known_sha256=known.get(key_for(key)))

        with self._transfers() as manager:
            return run_upload_many(put, items, max_workers=max_workers, on_progress=on_progress)

    # --- reads and URLs ------------------------------------------------------------------------

    def get_tail(self, key: str, size: int) -> bytes:
        """The last ``size`` bytes of an object (all of it when shorter): one ranged GET."""
        key = key_for(key)
        with map_storage_errors("download", bucket=self.bucket, key=key):
            response = self.client.get_object(Bucket=self.bucket, Key=key,
                                              Range=f"bytes=-{size}")
            return response["Body"].read()

    def get_bytes(self, key: str) -> bytes:
        """The whole object (meant for checks and tests, not for large objects)."""
        key = key_for(key)
        with map_storage_errors("download", bucket=self.bucket, key=key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _credentials(self) -> Any:
        if self._session is not None:
            return self._session.get_credentials()
        signer = getattr(self.client, "_request_signer", None)
        return getattr(signer, "_credentials", None)

    def _credential_expiry(self, key: str) -> datetime | None:
        """When the signing credentials expire (refreshable/temporary ones), else None."""
        credentials = self._credentials()
        expiry = getattr(credentials, "_expiry_time", None)
        if isinstance(expiry, datetime):
            return expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
        if credentials is not None and getattr(credentials, "token", None):
            logger.warning(
                "URL for %r is signed with temporary credentials of unknown expiry; it stops "
                "working when they expire.", key,
            )
        return None

    def url_for(
        self,
        key: str,
        *,
        expires_s: int = DEFAULT_EXPIRES_S,
        min_lifetime_s: int = DEFAULT_MIN_LIFETIME_S,
        as_s3_uri: bool = False,
    ) -> SignedUrl:
        """A presigned GET URL (default 7 days, the maximum), or ``s3://bucket/key``."""
        key = key_for(key)
        check_expires(expires_s, min_lifetime_s, key=key)
        if as_s3_uri:
            return SignedUrl(key, f"s3://{self.bucket}/{key}", NO_EXPIRY, expires_s, expires_s)
        now = datetime.now(UTC)
        effective_s, expires_at = effective_lifetime(
            expires_s, min_lifetime_s, key=key, now=now,
            credential_expiry=self._credential_expiry(key), bucket=self.bucket,
        )
        with map_storage_errors("presign", bucket=self.bucket, key=key):
            url = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
        return SignedUrl(key, url, expires_at, expires_s, effective_s)

    def verify_urls(
        self, checks: Sequence[UrlCheck], *, timeout_s: float = 30.0, max_workers: int = 16
    ) -> None:
        """Ranged-GET each URL (see ``sfs_kit.storage.verify``)."""
        _verify.verify_urls(checks, timeout_s=timeout_s, max_workers=max_workers)
