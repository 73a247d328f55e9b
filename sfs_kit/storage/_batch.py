"""``upload_many`` for every store: validate all inputs first, then a bounded thread pool."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path

from sfs_kit.errors import InputError, InvalidKeyError
from sfs_kit.storage.base import ProgressCallback, ProgressEvent, StoredObject
from sfs_kit.storage.keys import key_for

__all__ = ["BytesCallback", "PutFile", "known_digests", "run_upload_many"]

BytesCallback = Callable[[int], None]
PutFile = Callable[[Path, str, BytesCallback], StoredObject]


class _Tracker:
    """Thread-safe totals; calls the user's callback under a lock so events arrive in order."""

    def __init__(self, bytes_total: int, files_total: int, on_progress: ProgressCallback | None):
        self._lock = threading.Lock()
        self._bytes_done = 0
        self._files_done = 0
        self._bytes_total = bytes_total
        self._files_total = files_total
        self._on_progress = on_progress

    def add_bytes(self, key: str, amount: int) -> None:
        with self._lock:
            self._bytes_done += amount
            self._emit(key)

    def file_done(self, key: str) -> None:
        with self._lock:
            self._files_done += 1
            self._emit(key)

    def _emit(self, key: str) -> None:
        if self._on_progress is not None:
            self._on_progress(ProgressEvent(
                key, self._bytes_done, self._bytes_total, self._files_done, self._files_total,
            ))


_HEX64 = re.compile(r"[0-9a-f]{64}")


def known_digests(sha256s: Mapping[str, str] | None) -> dict[str, str]:
    """``sha256s`` keyed by normalised key, each digest checked to be 64 lowercase hex digits."""
    known: dict[str, str] = {}
    for key, digest in (sha256s or {}).items():
        if not _HEX64.fullmatch(digest):
            raise InputError(
                f"sha256 of {key!r} must be 64 lowercase hex digits, got {digest!r}.",
                field="sha256s",
            )
        known[key_for(key)] = digest
    return known


def run_upload_many(
    put_file: PutFile,
    items: Sequence[tuple[str | Path, str]],
    *,
    max_workers: int,
    on_progress: ProgressCallback | None,
) -> list[StoredObject]:
    """Upload ``(path, key)`` pairs with ``put_file`` in at most ``max_workers`` threads.

    Every key and file is checked before the first byte is sent; files start largest first; on
    the first failure the remaining uploads are cancelled and that error is raised. Results keep
    the input order.
    """
    if max_workers < 1:
        raise InputError(
            f"max_workers must be at least 1, got {max_workers!r}.", field="max_workers"
        )
    planned: list[tuple[Path, str, int]] = []
    seen: dict[str, Path] = {}
    for raw_path, raw_key in items:
        path = Path(raw_path)
        key = key_for(raw_key)
        if key in seen:
            raise InvalidKeyError(
                f"Key {key!r} is given twice, for {str(seen[key])!r} and {str(path)!r}.", key=key
            )
        seen[key] = path
        try:
            size = os.stat(path).st_size
        except OSError as err:
            raise InputError(
                f"Cannot upload {str(path)!r}: {err.strerror or type(err).__name__}.",
                source=str(path),
            ) from err
        if not path.is_file():
            raise InputError(f"Cannot upload {str(path)!r}: not a regular file.", source=str(path))
        planned.append((path, key, size))
    tracker = _Tracker(sum(size for _, _, size in planned), len(planned), on_progress)

    def one(path: Path, key: str) -> StoredObject:
        result = put_file(path, key, lambda amount: tracker.add_bytes(key, amount))
        tracker.file_done(key)
        return result

    if not planned:
        return []
    workers = min(max_workers, len(planned))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sfs-upload") as pool:
        # largest first: a big file started last would run alone at the end (results keep order)
        by_size = sorted(range(len(planned)), key=lambda i: planned[i][2], reverse=True)
        submitted = {i: pool.submit(one, planned[i][0], planned[i][1]) for i in by_size}
        futures: list[Future[StoredObject]] = [submitted[i] for i in range(len(planned))]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for future in futures:
                future.cancel()
            wait(futures)
            error = failed[0].exception()
            if error is not None:
                raise error
    return [future.result() for future in futures]
