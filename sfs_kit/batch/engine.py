"""What the driver hands an engine (``Job``) and what it reports (``Progress``, ``Finished``).

An engine runs jobs and reports; it decides nothing: retries, the ledger and the exit code are the
driver's (``driver.py``). ``LocalEngine`` and ``RayEngine`` share this small interface::

    active: int; capacity() -> int; submit(job) -> pid | None;
    poll(timeout_s) -> [Progress | Finished]; close()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sfs_kit.batch.captures import CaptureRow
from sfs_kit.batch.outcome import Outcome

__all__ = ["Engine", "Finished", "Job", "Progress"]


@dataclass(frozen=True)
class Job:
    """One attempt at one capture: the row, its ledger key and run folder, the attempt number."""

    row: CaptureRow
    key: str
    run_dir: Path
    attempt: int


@dataclass(frozen=True)
class Progress:
    """Bytes uploaded so far by the running job ``key``."""

    key: str
    bytes_uploaded: int


@dataclass(frozen=True)
class Finished:
    """A job ended (well or not)."""

    job: Job
    outcome: Outcome


class Engine(Protocol):
    """See the module docstring."""

    name: str

    @property
    def active(self) -> int: ...

    def capacity(self) -> int: ...

    def submit(self, job: Job) -> int | None: ...

    def poll(self, timeout_s: float) -> list[Finished | Progress]: ...

    def close(self) -> None: ...
