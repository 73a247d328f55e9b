"""The fleet layer: a night of captures to Scale tasks, on a local process pool or a Ray cluster.

``run_batch(rows, config, ledger_dir, options)`` runs every capture of ``read_captures(...)``
through the per-capture ``run`` (the unit of work), recording each in a crash-safe ledger
(``ledger.py``) that decides what a re-run skips. ``run_capture(row, config, ledger_dir)`` is the
one function to map with another engine (Dask, Spark, AWS Batch array jobs).
"""

from __future__ import annotations

from sfs_kit.batch.captures import CaptureRow, read_captures
from sfs_kit.batch.driver import BatchOptions, BatchProgress, BatchResult, run_batch
from sfs_kit.batch.ledger import CaptureState, Ledger, capture_key, run_dir_for
from sfs_kit.batch.outcome import Outcome
from sfs_kit.batch.worker import run_capture

__all__ = [
    "BatchOptions",
    "BatchProgress",
    "BatchResult",
    "CaptureRow",
    "CaptureState",
    "Ledger",
    "Outcome",
    "capture_key",
    "read_captures",
    "run_batch",
    "run_capture",
    "run_dir_for",
]
