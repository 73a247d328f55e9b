"""The hook a fleet of runs shares: concurrency slots for uploads and submissions, and a common
"not before" time that a 429 Retry-After pushes back for every worker.

``run(capture, config, limiter=...)`` takes any object with these methods; ``sfs_kit.batch``
provides one across local processes (file locks) and one across Ray workers (an actor). Without a
limiter a run is limited only by its own settings.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Literal, Protocol

__all__ = ["FleetLimiter", "SlotKind"]

SlotKind = Literal["upload", "submit"]


class FleetLimiter(Protocol):
    """Limits shared by many runs; also a ``sfs_kit.submit.client.RequestThrottle``."""

    def slot(self, kind: SlotKind) -> AbstractContextManager[None]:
        """Hold one of the fleet's ``kind`` slots for the duration of the block (may block)."""
        ...

    def wait(self) -> None:
        """Block until the fleet's "not before" time (set by a Retry-After) has passed."""
        ...

    def retry_after(self, seconds: float) -> None:
        """A server asked one worker to wait ``seconds``: every worker waits."""
        ...
