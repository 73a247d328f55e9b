"""One capture of a batch: ``run`` in its own run folder, every failure turned into an ``Outcome``.

``run_capture(row, config, ledger_dir)`` is the function to map with any engine (Dask, Spark, an
AWS Batch array job): it records ``running`` and then ``done``/``failed`` in the ledger itself, and
returns the ``Outcome``. The built-in engines call ``execute_capture`` (no ledger writes; the
driver records what it returns).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sfs_kit.batch.captures import CaptureRow
from sfs_kit.batch.ledger import Ledger, capture_key, run_dir_for
from sfs_kit.batch.outcome import Outcome, classify
from sfs_kit.errors import InputError
from sfs_kit.pipeline import PipelineProgress, RunConfig
from sfs_kit.pipeline.limits import FleetLimiter

__all__ = ["config_for", "execute_capture", "run_capture"]

ProgressFn = Callable[[PipelineProgress], None]


def config_for(base: RunConfig, row: CaptureRow, run_dir: Path) -> RunConfig:
    """The batch's settings with the row's overrides (metadata merged, the row's keys winning)
    and ``out_dir`` set to the capture's run folder; an invalid override is an ``InputError``."""
    update: dict[str, Any] = dict(row.overrides)
    if "metadata" in update:
        update["metadata"] = {**base.metadata, **update["metadata"]}
    update["out_dir"] = run_dir
    merged = {**{name: getattr(base, name) for name in RunConfig.model_fields}, **update}
    try:
        return RunConfig.model_validate(merged)
    except ValueError as err:
        where = row.source + (f" line {row.line}" if row.line else "")
        raise InputError(f"Capture {row.path!r} (from {where}) has an invalid override "
                         f"({' '.join(str(err).split())[:300]}).", source=row.source,
                         line=row.line) from err


def execute_capture(
    row: CaptureRow,
    config: RunConfig,
    run_dir: Path,
    *,
    limiter: FleetLimiter | None = None,
    on_progress: ProgressFn | None = None,
) -> Outcome:
    """Run one capture (resuming its journal) and describe how it ended; never raises for a
    failure of the capture itself (a ``KeyboardInterrupt`` still propagates)."""
    from sfs_kit.pipeline.run import run

    try:
        result = run(row.path, config_for(config, row, run_dir), on_progress=on_progress,
                     limiter=limiter)
    except Exception as exc:  # noqa: BLE001  (every failure becomes a ledger record)
        return classify(exc)
    steps: dict[str, float] = {}
    for timing in result.steps:
        steps[timing.step] = round(steps.get(timing.step, 0.0) + timing.seconds, 4)
    return Outcome(
        "done",
        unique_id=result.unique_id,
        content_sha256=result.content_sha256,
        task_id=result.task_id,
        task_status=result.task_status,
        task_existing=result.task_existing,
        task_created=result.task_id is not None and not result.task_existing
        and any(t.step == "submit" and not t.resumed for t in result.steps),
        dry_run=result.dry_run,
        request_path=result.request_path,
        urls_expire_at=None if result.urls_expire_at is None
        else result.urls_expire_at.isoformat(),
        bytes_uploaded=result.bytes_uploaded,
        step_seconds=steps,
        warnings=len(result.warnings),
    )


def run_capture(
    row: CaptureRow | str | os.PathLike[str] | Mapping[str, Any],
    config: RunConfig,
    ledger_dir: str | os.PathLike[str],
    *,
    limiter: FleetLimiter | None = None,
) -> Outcome:
    """Run one capture of a batch and record it in the ledger at ``ledger_dir``.

    ``row`` is a ``CaptureRow``, a path, or a mapping like a JSONL row (``{"capture": ...,
    "tags": [...]}``). A capture the ledger already has as ``done`` is not run again. Safe to call
    from many processes at once (ledger appends are locked; each capture has its own run folder).
    """
    capture = _as_row(row)
    key = capture_key(capture.path)
    ledger = Ledger.open(ledger_dir)
    known = ledger.get(key)
    if known is not None and known.is_done_for(dry_run=config.is_dry_run):
        return Outcome("done", unique_id=known.unique_id, content_sha256=known.content_sha256,
                       task_id=known.task_id, task_status=known.task_status,
                       task_existing=known.task_existing, dry_run=known.dry_run,
                       urls_expire_at=known.urls_expire_at)
    attempts = (known.attempts if known is not None else 0) + 1
    ledger.record(key, path=capture.path, state="running", attempts=attempts, pid=os.getpid())
    outcome = execute_capture(capture, config, run_dir_for(ledger.dir, capture.path),
                              limiter=limiter)
    ledger.record(key, **outcome.to_record(), pid=None)
    return outcome


def _as_row(row: CaptureRow | str | os.PathLike[str] | Mapping[str, Any]) -> CaptureRow:
    if isinstance(row, CaptureRow):
        return row
    if isinstance(row, Mapping):
        from sfs_kit.batch.captures import _row

        return _row(dict(row), Path.cwd(), "<mapping>", 1)
    return CaptureRow(os.path.abspath(row))
