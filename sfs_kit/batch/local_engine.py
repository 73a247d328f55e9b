"""``--engine local``: one process per capture, at most ``workers`` at a time, run by the driver.

A process per capture (forked from a ``forkserver`` that has sfs_kit, numpy and boto3 imported
already, so a start costs milliseconds) isolates every capture: a worker the OOM killer or a
SIGKILL ends is noticed by its sentinel and becomes that capture's failure while the others go on
(``concurrent.futures`` would break the whole pool); a capture past ``--timeout`` is killed. The
child gets the driver's environment as it was at submission, sends byte counts and its
``Outcome`` through a pipe, and exits; it also ends when the driver dies (the pipe says so).
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from sfs_kit.batch.engine import Finished, Job, Progress
from sfs_kit.batch.outcome import Outcome, failure, signal_name
from sfs_kit.pipeline import PipelineProgress, RunConfig
from sfs_kit.pipeline.limits import FleetLimiter

__all__ = ["LocalEngine"]

_PRELOAD = ["sfs_kit.batch._preload"]
_BYTE_STEPS = ("upload", "upload_images")
_PROGRESS_EVERY_S = 0.25


def _child_main(conn: Connection, job: Job, config: RunConfig, limiter: FleetLimiter | None,
                environ: Mapping[str, str]) -> None:
    """In the worker: the driver's environment, one capture, its outcome down the pipe."""
    from sfs_kit.batch.worker import execute_capture

    _exit_with_driver(conn)
    os.environ.clear()
    os.environ.update(environ)
    last = [0.0]
    done_by_step: dict[str, int] = {}

    def progress(event: PipelineProgress) -> None:
        if event.step not in _BYTE_STEPS:
            return
        done_by_step[event.step] = event.bytes_done
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S:
            last[0] = now
            conn.send(("bytes", sum(done_by_step.values())))

    outcome = execute_capture(job.row, config, job.run_dir, limiter=limiter, on_progress=progress)
    conn.send(("result", outcome))
    conn.close()


def _exit_with_driver(conn: Connection) -> None:
    """End this worker when the driver dies: the driver holds the read end of the result pipe, so
    its death raises POLLERR on our write end (a thread waits for that and SIGKILLs us). A killed
    driver thus leaves no orphan that would hold a capture's run-folder lock."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLERR)

    def watch() -> None:
        for _fd, events in poller.poll():
            if events & select.POLLERR:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="sfs-kit-driver-watch", daemon=True).start()


@dataclass
class _Running:
    job: Job
    process: BaseProcess
    conn: Connection
    started: float
    outcome: Outcome | None = None


class LocalEngine:
    """Runs jobs in child processes; ``poll`` reports progress and finished jobs."""

    name = "local"

    def __init__(self, config: RunConfig, *, workers: int, limiter: FleetLimiter | None,
                 timeout_s: float | None) -> None:
        self._config = config
        self._workers = max(1, workers)
        self._limiter = limiter
        self._timeout_s = timeout_s
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._running: dict[str, _Running] = {}

    @property
    def active(self) -> int:
        """Jobs started and not yet reported finished."""
        return len(self._running)

    def capacity(self) -> int:
        """How many more jobs may start now."""
        return self._workers - len(self._running)

    def submit(self, job: Job) -> int | None:
        """Start ``job`` in a new process; returns its pid."""
        receiver, sender = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_child_main, name=f"sfs-kit-batch-{job.key}",
            args=(sender, job, self._config, self._limiter, dict(os.environ)), daemon=True)
        process.start()
        sender.close()
        self._running[job.key] = _Running(job, process, receiver, time.monotonic())
        return process.pid

    def poll(self, timeout_s: float) -> list[Finished | Progress]:
        """Wait up to ``timeout_s`` for news; returns progress and finished jobs."""
        if not self._running:
            time.sleep(timeout_s)
            return []
        waitables: list[object] = []
        for entry in self._running.values():
            waitables.extend((entry.conn, entry.process.sentinel))
        ready = set(wait(waitables, timeout=timeout_s))  # type: ignore[arg-type]
        events: list[Finished | Progress] = []
        now = time.monotonic()
        for key, entry in list(self._running.items()):
            if entry.conn in ready:
                events.extend(self._drain(entry))
            if entry.outcome is not None or entry.process.sentinel in ready:
                events.append(self._finish(key, entry))
            elif self._timeout_s is not None and now - entry.started > self._timeout_s:
                entry.process.kill()
                entry.process.join()
                entry.outcome = failure(
                    "CaptureTimeout", f"the capture took longer than --timeout "
                    f"{self._timeout_s:g} s; its worker was stopped", transient=False)
                events.append(self._finish(key, entry))
        return events

    def _drain(self, entry: _Running) -> list[Progress]:
        events: list[Progress] = []
        try:
            while entry.conn.poll():
                kind, value = entry.conn.recv()
                if kind == "bytes":
                    events.append(Progress(entry.job.key, int(value)))
                elif kind == "result":
                    entry.outcome = value
        except (EOFError, OSError):
            pass  # the child is gone; its sentinel says how
        return events

    def _finish(self, key: str, entry: _Running) -> Finished:
        if entry.outcome is None:
            self._drain(entry)
        entry.process.join()
        entry.conn.close()
        del self._running[key]
        outcome = entry.outcome or _lost(entry.process.exitcode)
        return Finished(entry.job, outcome)

    def close(self) -> None:
        """Stop every running worker (the driver is ending)."""
        for entry in self._running.values():
            entry.process.kill()
            entry.process.join()
            entry.conn.close()
        self._running.clear()


def _lost(exitcode: int | None) -> Outcome:
    """A worker that ended without an outcome: killed (OOM, SIGKILL) or crashed."""
    if exitcode is not None and exitcode < 0:
        name = signal_name(-exitcode)
        hint = " (the OOM killer, or someone, killed it)" if name == "SIGKILL" else ""
        return failure("WorkerLost", f"the worker process was killed by {name}{hint} before the "
                                     f"capture finished", transient=True)
    return failure("WorkerLost", f"the worker process exited with code {exitcode} before the "
                                 f"capture finished", transient=True)

