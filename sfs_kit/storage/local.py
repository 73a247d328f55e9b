"""``LocalStore``: the embedded default store, a directory tree with ``file://`` URLs.

Objects are files under ``root`` written atomically (temporary file in the same directory, then
``os.replace``). Each object's sha256, size, mtime and type live in a JSON sidecar under
``root/.sfs-kit/meta/``; a sidecar that no longer matches the file is ignored and the digest
recomputed. Identical content is not written again, as with ``S3Store``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from sfs_kit._atomic import atomic_output
from sfs_kit._paths import contained
from sfs_kit.errors import (
    ChecksumMismatchError,
    InputError,
    InvalidKeyError,
    OutputError,
    StorageError,
    StorageNotFoundError,
)
from sfs_kit.storage import verify as _verify
from sfs_kit.storage._batch import BytesCallback, known_digests, run_upload_many
from sfs_kit.storage.base import (
    DEFAULT_EXPIRES_S,
    DEFAULT_MIN_LIFETIME_S,
    ProgressCallback,
    SignedUrl,
    StoredObject,
    UrlCheck,
    _same_object,
    content_type_for,
    sha256_file,
)
from sfs_kit.storage.keys import key_for
from sfs_kit.storage.presign import NO_EXPIRY, check_expires

__all__ = ["META_DIR", "LocalStore"]

logger = logging.getLogger(__name__)

META_DIR = ".sfs-kit"
_CHUNK = 1024 * 1024


def _atomic_write(target: Path, chunks: io.BufferedIOBase | BinaryIO, on_bytes: BytesCallback,
                  limit: int | None = None,
                  verify: Callable[[int, str], None] | None = None) -> tuple[int, str]:
    """Copy ``chunks`` into ``target`` atomically; returns (bytes written, sha256 hex).

    ``verify(count, digest)`` runs before the rename; if it raises, nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    count = 0
    with atomic_output(target, mode=0o600) as out:
        while True:
            want = _CHUNK if limit is None else min(_CHUNK, limit - count)
            block = chunks.read(want) if want > 0 else b""
            if not block:
                break
            view = memoryview(block)
            while view:  # an unbuffered write may be partial
                view = view[out.write(view) or 0 :]
            digest.update(block)
            count += len(block)
            on_bytes(len(block))
        if verify is not None:
            verify(count, digest.hexdigest())
    return count, digest.hexdigest()


def _hard_link(source: Path, target: Path, before: os.stat_result,
               sha256: str | None) -> bool:
    """Put ``source`` at ``target`` as a hard link (one copy on disk), atomically. False, with
    nothing left behind, where a link cannot be made (another filesystem, no link support), the
    file changed since ``before``, or its content no longer has the caller's ``sha256`` (a
    digest known from earlier, checked by reading the link: the copy would check it too); the
    caller then copies, which reports a changed file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.link")
    try:
        os.link(source, temp)
    except OSError:
        return False
    try:
        now = temp.stat()
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (
            before.st_size, before.st_mtime_ns, before.st_ino
        ):
            temp.unlink()
            return False
        if sha256 is not None and sha256_file(temp) != sha256:
            temp.unlink()
            return False
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


class LocalStore:
    """A directory as an ``ObjectStore``; URLs are ``file://`` and never expire.

    ``link_files=True`` stores a file as a hard link to it where the filesystem allows (one copy
    on disk instead of two), for files their writer replaces atomically and never edits in place
    (a run's own outputs): a link shares the file's bytes, so an edit in place would reach the
    store too (``head`` would then see a changed size or mtime and hash it again)."""

    def __init__(self, root: str | Path, *, prefix: str = "", link_files: bool = False) -> None:
        self.link_files = link_files
        self.root = Path(root).resolve()
        self.prefix = key_for(prefix.strip("/")) if prefix.strip("/") else ""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(
                f"Cannot create the store directory {str(self.root)!r}: "
                f"{err.strerror or type(err).__name__}.", operation="open",
            ) from err

    def key_for(self, *parts: str) -> str:
        """``{prefix}/{parts...}``, normalised (see ``sfs_kit.storage.key_for``)."""
        return key_for(self.prefix, *parts)

    def _key(self, key: str) -> str:
        key = key_for(key)
        if key.split("/", 1)[0] == META_DIR:
            raise InvalidKeyError(
                f"Key {key!r} is inside the reserved {META_DIR!r} folder.", key=key
            )
        return key

    def _path(self, key: str) -> Path:
        return self._inside(key)

    def _meta_path(self, key: str) -> Path:
        return self._inside(f"{META_DIR}/meta/{key}.json")

    def _inside(self, rel: str) -> Path:
        """``root/rel`` proven inside the root (no symlinked folder leads out of it)."""
        try:
            return contained(self.root, rel)
        except OutputError as err:
            raise InvalidKeyError(f"{err}", key=rel) from err

    def _write_meta(self, key: str, sha256: str, content_type: str) -> None:
        stat = self._path(key).stat()
        record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                  "content_type": content_type}
        data = json.dumps(record).encode("utf-8")
        _atomic_write(self._meta_path(key), io.BytesIO(data), lambda _n: None)

    def _read_meta(self, key: str) -> dict[str, object] | None:
        try:
            record = json.loads(self._meta_path(key).read_bytes())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def head(self, key: str) -> StoredObject | None:
        """The stored file's size, sha256 (sidecar if current, else recomputed) and type."""
        key = self._key(key)
        path = self._path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StorageError(f"Cannot read stored object {key!r}: {err.strerror}.", key=key,
                               operation="head") from err
        if not path.is_file():
            return None
        meta = self._read_meta(key) or {}
        sha = meta.get("sha256")
        fresh = meta.get("size") == stat.st_size and meta.get("mtime_ns") == stat.st_mtime_ns
        if not (fresh and isinstance(sha, str)):
            sha = sha256_file(path)
        content_type = meta.get("content_type")
        return StoredObject(
            key, stat.st_size, sha,
            content_type if isinstance(content_type, str) else content_type_for(key), False,
        )

    def _unchanged(self, key: str, size: int, sha256: str, content_type: str) -> bool:
        return _same_object(self.head(key), size, sha256, content_type)

    def put_file(
        self, path: str | Path, key: str, *, content_type: str | None = None
    ) -> StoredObject:
        """Copy a file under the root unless identical content is already there."""
        return self._put_file(Path(path), self._key(key), lambda _n: None, content_type)

    def _put_file(self, path: Path, key: str, on_bytes: BytesCallback,
                  content_type: str | None = None, known_sha256: str | None = None
                  ) -> StoredObject:
        key = self._key(key)
        content_type = content_type or content_type_for(key)
        try:
            before = path.stat()
            size = before.st_size
            sha256 = known_sha256 or sha256_file(path)
            if self._unchanged(key, size, sha256, content_type):
                on_bytes(size)
                return StoredObject(key, size, sha256, content_type, uploaded=False)
            linked_sha = known_sha256  # hashed earlier by the caller: the link re-checks it
            if self.link_files and _hard_link(path, self._path(key), before, linked_sha):
                on_bytes(size)
                self._write_meta(key, sha256, content_type)
                return StoredObject(key, size, sha256, content_type, uploaded=True)
            def same_digest(_count: int, digest: str) -> None:
                if digest != sha256:
                    raise ChecksumMismatchError(
                        f"File {str(path)!r} changed while it was stored as {key!r} (sha256 "
                        f"{sha256} before, {digest} during the copy); nothing was stored.",
                        key=key, operation="upload",
                    )

            with open(path, "rb") as source:
                written, digest = _atomic_write(self._path(key), source, on_bytes,
                                                verify=same_digest)
        except OSError as err:
            raise InputError(
                f"Cannot store {str(path)!r} as {key!r}: {err.strerror or type(err).__name__}.",
                source=str(path),
            ) from err
        self._write_meta(key, digest, content_type)
        return StoredObject(key, written, digest, content_type, uploaded=True)

    def put_bytes(self, data: bytes, key: str, *, content_type: str | None = None) -> StoredObject:
        """Store bytes unless identical."""
        return self.put_stream(io.BytesIO(data), key, size=len(data),
                               sha256=hashlib.sha256(data).hexdigest(), content_type=content_type)

    def put_stream(
        self,
        stream: BinaryIO,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str | None = None,
    ) -> StoredObject:
        """Store ``size`` bytes from ``stream``; refused (nothing kept) if the digest differs."""
        key = self._key(key)
        content_type = content_type or content_type_for(key)
        if self._unchanged(key, size, sha256, content_type):
            return StoredObject(key, size, sha256, content_type, uploaded=False)
        target = self._path(key)
        staging = target.with_name(f".{target.name}.staging")
        try:
            written, digest = _atomic_write(staging, stream, lambda _n: None, limit=size + 1)
            if written != size or digest != sha256:
                os.unlink(staging)
                raise ChecksumMismatchError(
                    f"Stream for {key!r} gave {written} bytes with sha256 {digest}, expected "
                    f"{size} bytes with sha256 {sha256}; nothing was stored.",
                    key=key, operation="upload",
                )
            os.replace(staging, target)
        except OSError as err:
            raise StorageError(f"Cannot store {key!r}: {err.strerror or type(err).__name__}.",
                               key=key, operation="upload") from err
        self._write_meta(key, sha256, content_type)
        return StoredObject(key, size, sha256, content_type, uploaded=True)

    def upload_many(
        self,
        items: Sequence[tuple[str | Path, str]],
        *,
        max_workers: int = 8,
        on_progress: ProgressCallback | None = None,
        sha256s: Mapping[str, str] | None = None,
    ) -> list[StoredObject]:
        """Copy ``(path, key)`` pairs in parallel; results in input order.

        ``sha256s`` (key -> digest) skips hashing those files first; the copy is still hashed
        as it is written and must match, else ``ChecksumMismatchError``.
        """
        known = known_digests(sha256s)

        def put(path: Path, key: str, on_bytes: BytesCallback) -> StoredObject:
            return self._put_file(path, key, on_bytes, known_sha256=known.get(key_for(key)))

        return run_upload_many(put, items, max_workers=max_workers, on_progress=on_progress)

    def get_bytes(self, key: str) -> bytes:
        """The stored file's bytes."""
        key = self._key(key)
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as err:
            raise StorageNotFoundError(
                f"Object {key!r} does not exist in {str(self.root)!r}.",
                key=key, operation="download",
            ) from err
        except OSError as err:
            raise StorageError(f"Cannot read stored object {key!r}: {err.strerror}.", key=key,
                               operation="download") from err

    def url_for(
        self,
        key: str,
        *,
        expires_s: int = DEFAULT_EXPIRES_S,
        min_lifetime_s: int = DEFAULT_MIN_LIFETIME_S,
        as_s3_uri: bool = False,
    ) -> SignedUrl:
        """A ``file://`` URL (same lifetime checks as S3; it never expires)."""
        key = self._key(key)
        check_expires(expires_s, min_lifetime_s, key=key)
        if as_s3_uri:
            raise StorageError(f"A local store has no s3:// URI for {key!r}.", key=key,
                               operation="presign")
        return SignedUrl(key, self._path(key).as_uri(), NO_EXPIRY, expires_s, expires_s)

    def verify_urls(
        self, checks: Sequence[UrlCheck], *, timeout_s: float = 30.0, max_workers: int = 16
    ) -> None:
        """Check each URL (``file://`` on disk; see ``sfs_kit.storage.verify``)."""
        _verify.verify_urls(checks, timeout_s=timeout_s, max_workers=max_workers)
