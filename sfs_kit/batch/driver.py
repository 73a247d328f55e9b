"""``run_batch``: every capture of a list to a Scale task through an engine, recorded in the ledger.

The driver plans from the ledger (``done`` is skipped: no upload, no task; ``failed`` is kept
unless ``retry_failed``; ``running`` from a driver that died is run again, and its run journal
resumes it), starts jobs while the engine has room, records each start and end, and retries
transient failures with exponential backoff (``retries`` times per invocation). Each capture's
``run`` derives the task's ``unique_id`` from its content, so a job the engine runs twice still
makes one task. ``create_batch`` makes (or reuses) the Scale batch before the first job;
``finalize`` finalizes it once every capture of the list is done.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sfs_kit.batch.captures import CaptureRow
from sfs_kit.batch.engine import Engine, Finished, Job, Progress
from sfs_kit.batch.ledger import CaptureState, Ledger, capture_key, driver_lock, run_dir_for
from sfs_kit.batch.limits import LIMITS_DIR, FileLimiter
from sfs_kit.errors import InputError
from sfs_kit.pipeline import RunConfig
from sfs_kit.pipeline import steps as _steps

__all__ = ["BatchOptions", "BatchProgress", "BatchResult", "run_batch"]

log = logging.getLogger(__name__)

EngineName = Literal["local", "ray"]
_MAX_BACKOFF_S = 60.0
_POLL_S = 0.1


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch (the per-capture settings are the ``RunConfig``)."""

    engine: EngineName = "local"
    workers: int | None = None  # local: processes (default CPU count); ray: tasks in flight
    timeout_s: float | None = None  # per capture
    retries: int = 3  # transient failures, per capture and invocation
    retry_failed: bool = False
    max_uploads: int | None = None  # fleet-wide concurrent upload steps
    max_submits: int | None = None  # fleet-wide concurrent Scale task creations
    create_batch: bool = False
    finalize: bool = False
    backoff_s: float = 2.0
    ray_address: str | None = None
    ray_num_cpus: float = 1.0
    ray_memory_bytes: int | None = None
    ray_max_retries: int = 2  # Ray's own retries, for system failures only


@dataclass(frozen=True)
class BatchProgress:
    """Where the batch stands (sent to ``on_progress`` after every change, and periodically)."""

    total: int
    done: int
    failed: int
    running: int
    pending: int
    bytes_uploaded: int
    elapsed_s: float
    finished_this_run: int
    to_run: int


@dataclass
class BatchResult:
    """What the batch did; ``captures`` are the listed captures' ledger states, in list order."""

    ledger_dir: str
    engine: str
    total: int
    done: int
    failed: int
    skipped_done: int
    ran: int
    tasks_created: int
    bytes_uploaded: int
    elapsed_s: float
    captures: list[CaptureState] = field(default_factory=list)
    scale_batch: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every listed capture is done."""
        return self.done == self.total

    def failures(self) -> list[CaptureState]:
        """The listed captures that are not done."""
        return [c for c in self.captures if c.state != "done"]

    def to_dict(self) -> dict[str, Any]:
        """JSON view (``sfs-kit batch --json``)."""
        return {
            "ledger_dir": self.ledger_dir, "engine": self.engine, "total": self.total,
            "done": self.done, "failed": self.failed, "skipped_done": self.skipped_done,
            "ran": self.ran, "tasks_created": self.tasks_created,
            "bytes_uploaded": self.bytes_uploaded, "elapsed_s": round(self.elapsed_s, 3),
            "scale_batch": self.scale_batch, "notes": self.notes,
            "captures": [c.to_dict() for c in self.captures],
        }


ProgressFn = Callable[[BatchProgress], None]


def _make_engine(config: RunConfig, options: BatchOptions, ledger_dir: Path) -> Engine:
    if options.engine == "ray":
        from sfs_kit.batch.ray_engine import RayEngine

        return RayEngine(config, options)
    from sfs_kit.batch.local_engine import LocalEngine

    limiter = FileLimiter(ledger_dir / LIMITS_DIR, options.max_uploads, options.max_submits)
    return LocalEngine(config, workers=options.workers or os.cpu_count() or 1, limiter=limiter,
                       timeout_s=options.timeout_s)


_NOT_SETTINGS = frozenset({"api_key", "out_dir", "upload_workers"})  # secret, or no effect


def settings_fingerprint(config: RunConfig) -> dict[str, str]:
    """A digest per setting of ``config`` (``RunConfig`` fields but the key, the run folder and
    the upload threads): what a ledger keeps to notice a batch resumed with other settings."""
    dumped = config.model_dump(mode="json", exclude=set(_NOT_SETTINGS))
    return {name: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
            for name, value in dumped.items()}


def _backoff(options: BatchOptions, tries: int, rng: random.Random) -> float:
    return min(_MAX_BACKOFF_S, options.backoff_s * 2.0 ** (tries - 1)) * rng.uniform(0.5, 1.0)


def _check(config: RunConfig, options: BatchOptions) -> None:
    """Settings that would fail every capture fail the batch, before anything runs (a bad
    per-capture override fails only that capture)."""
    _steps.check_task_settings(config)
    if (options.create_batch or options.finalize) and (config.batch is None
                                                       or config.project is None):
        raise InputError("--create-batch and --finalize need both --project and --batch.",
                             field="batch")
    if options.workers is not None and options.workers < 1:
        raise InputError(f"--workers must be at least 1, got {options.workers}.", field="workers")


def _scale_client(config: RunConfig) -> Any:
    from sfs_kit.submit import ScaleClient

    key = config.api_key.get_secret_value() if config.api_key is not None else None
    return ScaleClient(key, base_url=config.api_base_url)


def run_batch(
    rows: Sequence[CaptureRow],
    config: RunConfig,
    ledger_dir: str | os.PathLike[str],
    options: BatchOptions | None = None,
    *,
    on_progress: ProgressFn | None = None,
) -> BatchResult:
    """Run every capture in ``rows`` (see the module docstring); the ledger is in ``ledger_dir``.

    Raises (before anything runs) for settings that cannot work; a capture's own failure is
    recorded and reported, never raised.
    """
    opts = options or BatchOptions()
    _check(config, opts)
    root = Path(ledger_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with driver_lock(root):
        return _Driver(rows, config, root, opts, on_progress).run()


class _Driver:
    """The state of one ``run_batch`` call."""

    def __init__(self, rows: Sequence[CaptureRow], config: RunConfig, root: Path,
                 options: BatchOptions, on_progress: ProgressFn | None) -> None:
        self.rows = list(rows)
        self.config = config
        self.root = root
        self.options = options
        self.on_progress = on_progress
        self.ledger = Ledger.open(root)
        self.started = time.monotonic()
        self.rng = random.Random()  # noqa: S311 (jitter)
        self.keys = [capture_key(r.path) for r in self.rows]
        self.tries: dict[str, int] = {}
        self.bytes_done = 0
        self.bytes_running: dict[str, int] = {}
        self.tasks_created = 0
        self.finished = 0
        self.to_run = 0
        self.notes: list[str] = []
        self.last_report = 0.0

    # --- planning -------------------------------------------------------------------------------

    def _plan(self) -> tuple[deque[Job], int]:
        ready: deque[Job] = deque()
        skipped = 0
        new: list[tuple[str, dict[str, Any]]] = []
        dry_run = self.config.is_dry_run
        for row, key in zip(self.rows, self.keys, strict=True):
            state = self.ledger.get(key)
            if state is not None and state.is_done_for(dry_run=dry_run):
                skipped += 1
                continue
            if state is not None and state.state == "failed" and not self.options.retry_failed:
                continue
            if state is None or state.state != "running":
                new.append((key, {"path": row.path, "state": "pending"}))
            attempts = state.attempts if state is not None else 0
            ready.append(Job(row, key, run_dir_for(self.root, row.path), attempts + 1))
        if new:
            self.ledger.record_many(new)
        return ready, skipped

    def _scale_batch(self) -> dict[str, Any] | None:
        if not self.options.create_batch:
            return None
        if self.config.is_dry_run:
            self.notes.append("dry run: the Scale batch was not created")
            return None
        project, name = self.config.project or "", self.config.batch or ""  # _check: both set
        with _scale_client(self.config) as client:
            batch = client.create_batch(project, name)
        log.info("Scale batch %r %s (status %s)", batch.name,
                 "reused" if batch.existing else "created", batch.status)
        return {"name": batch.name, "status": batch.status, "existing": batch.existing,
                "finalized": False}

    def _finalize(self, info: dict[str, Any] | None, done: int) -> dict[str, Any] | None:
        if not self.options.finalize:
            return info
        if done != len(self.rows):
            self.notes.append(f"the Scale batch was not finalized: {len(self.rows) - done} "
                              f"captures are not done")
            return info
        if self.config.is_dry_run:
            self.notes.append("dry run: the Scale batch was not finalized")
            return info
        with _scale_client(self.config) as client:
            batch = client.finalize_batch(self.config.batch or "")
        return {**(info or {"name": batch.name, "existing": True}), "status": batch.status,
                "finalized": True}

    # --- the loop -------------------------------------------------------------------------------

    def _check_settings(self) -> None:
        """Record the settings this batch runs with; if the ledger's last batch ran with other
        ones and some captures are done, say which settings changed: those captures keep the
        tasks they have (a done capture is never run again), only the rest get the new ones."""
        now = settings_fingerprint(self.config)
        before = self.ledger.settings or {}
        if before == now:
            return
        changed = sorted(k for k in now.keys() & before.keys() if now[k] != before[k])
        done = sum(1 for k in self.keys if (s := self.ledger.get(k)) is not None
                   and s.state == "done" and not s.dry_run)
        if changed and done:
            note = (f"settings changed since this ledger's last batch ({', '.join(changed)}): "
                    f"its {done} done captures keep the tasks made with the earlier settings "
                    f"and are not run again; use a new --out to run them with these")
            log.warning("%s", note)
            self.notes.append(note)
        self.ledger.record_settings(now)

    def run(self) -> BatchResult:
        self._check_settings()
        ready, skipped = self._plan()
        self.to_run = len(ready)
        info = self._scale_batch() if ready else None
        if ready:
            engine = _make_engine(self.config, self.options, self.root)
            try:
                self._loop(engine, ready)
            finally:
                engine.close()
        states = [self.ledger.get(k) or CaptureState(k) for k in self.keys]
        done = sum(1 for s in states if s.state == "done")
        info = self._finalize(info, done)
        self._report(force=True)
        return BatchResult(
            ledger_dir=str(self.root), engine=self.options.engine, total=len(self.rows),
            done=done, failed=len(self.rows) - done, skipped_done=skipped, ran=self.finished,
            tasks_created=self.tasks_created, bytes_uploaded=self.bytes_done,
            elapsed_s=time.monotonic() - self.started, captures=states, scale_batch=info,
            notes=self.notes,
        )

    def _loop(self, engine: Engine, ready: deque[Job]) -> None:
        delayed: list[tuple[float, int, Job]] = []
        order = 0
        while ready or delayed or engine.active:
            now = time.monotonic()
            while delayed and delayed[0][0] <= now:
                ready.append(heapq.heappop(delayed)[2])
            while ready and engine.capacity() > 0:
                job = ready.popleft()
                self.tries[job.key] = self.tries.get(job.key, 0) + 1
                pid = engine.submit(job)
                self.ledger.record(job.key, path=job.row.path, state="running",
                                   attempts=job.attempt, pid=pid)
            for event in engine.poll(_POLL_S):
                if isinstance(event, Progress):
                    self.bytes_running[event.key] = event.bytes_uploaded
                    continue
                retry = self._finished(event)
                if retry is not None:
                    order += 1
                    heapq.heappush(delayed, (time.monotonic() + retry[1], order, retry[0]))
            self._report()

    def _finished(self, event: Finished) -> tuple[Job, float] | None:
        job, outcome = event.job, event.outcome
        self.bytes_running.pop(job.key, None)
        self.bytes_done += outcome.bytes_uploaded
        tries = self.tries.get(job.key, 1)
        if outcome.state == "failed" and outcome.transient and tries <= self.options.retries:
            delay = _backoff(self.options, tries, self.rng)
            self.ledger.record(job.key, state="pending", retrying=True,
                               error_class=outcome.error_class,
                               error_message=outcome.error_message, transient=True, pid=None)
            log.info("%s: %s (transient), retrying in %.1f s", job.row.path, outcome.error_class,
                     delay)
            return Job(job.row, job.key, job.run_dir, job.attempt + 1), delay
        record = outcome.to_record()
        if outcome.state == "done":
            record.update(error_class=None, error_message=None, transient=False)
            self.tasks_created += int(outcome.task_created)
        self.ledger.record(job.key, **record, pid=None)
        self.finished += 1
        return None

    def _report(self, *, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_report < 0.2:
            return
        self.last_report = now
        counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
        for key in self.keys:
            state = self.ledger.get(key)
            counts[state.state if state is not None else "pending"] += 1
        self.on_progress(BatchProgress(
            total=len(self.rows), done=counts["done"], failed=counts["failed"],
            running=counts["running"], pending=counts["pending"],
            bytes_uploaded=self.bytes_done + sum(self.bytes_running.values()),
            elapsed_s=now - self.started, finished_this_run=self.finished, to_run=self.to_run))
