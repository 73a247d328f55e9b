"""Fleet-wide limits for workers on one machine: slot files and a shared "not before" time.

``FileLimiter`` holds only paths and numbers, so it pickles into every worker process. A slot is
an exclusive ``flock`` on one of ``N`` files under ``LEDGER_DIR/limits/`` (``upload-0.lock``, ...):
the kernel releases it when its holder dies, so a SIGKILLed worker never leaks a slot. A 429 (or
503) with Retry-After writes ``now + seconds`` to ``limits/not-before``; every worker reads it
before each Scale request and sleeps until then, so one worker's answer slows them all.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sfs_kit._atomic import write_bytes_atomic
from sfs_kit.pipeline.limits import SlotKind

__all__ = ["LIMITS_DIR", "FileLimiter"]

LIMITS_DIR = "limits"
_NOT_BEFORE = "not-before"
_POLL_S = 0.02
_MAX_WAIT_S = 300.0


@dataclass(frozen=True)
class FileLimiter:
    """``pipeline.limits.FleetLimiter`` across processes sharing a folder (``LEDGER_DIR/limits``).

    ``max_uploads`` / ``max_submits`` None means unlimited (only the not-before time applies).
    """

    root: Path
    max_uploads: int | None = None
    max_submits: int | None = None

    def _limit(self, kind: SlotKind) -> int | None:
        return self.max_uploads if kind == "upload" else self.max_submits

    @contextmanager
    def slot(self, kind: SlotKind) -> Iterator[None]:
        """Hold one of the ``kind`` slot files for the block (polls while all are taken)."""
        limit = self._limit(kind)
        if limit is None:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            for index in range(limit):
                fd = os.open(self.root / f"{kind}-{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                return
            time.sleep(_POLL_S)

    def not_before(self) -> float:
        """The fleet's "not before" wall-clock time (0 when none was set)."""
        try:
            return float((self.root / _NOT_BEFORE).read_text(encoding="ascii") or 0)
        except (OSError, ValueError):
            return 0.0

    def wait(self) -> None:
        """Sleep until the not-before time (at most 300 s at a time, Scale's own cap)."""
        delay = min(self.not_before() - time.time(), _MAX_WAIT_S)
        if delay > 0:
            time.sleep(delay)

    def retry_after(self, seconds: float) -> None:
        """Push the not-before time to ``now + seconds`` (never back)."""
        until = time.time() + max(0.0, min(seconds, _MAX_WAIT_S))
        if until <= self.not_before():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self.root / _NOT_BEFORE, f"{until:.3f}".encode("ascii"))
