"""``--engine ray``: one Ray task per capture on an existing cluster, or on a local Ray.

``ray.init(address=...)`` connects to ``--ray-address`` or ``RAY_ADDRESS``; with neither, Ray starts
a local instance of its own. Either way the engine disconnects at the end (which also stops a local
instance it started); a Ray the caller had already initialized is left as it was. Each capture is
one remote task with ``num_cpus``/``memory`` hints; Ray retries it (``max_retries``) only when
its worker dies (``retry_exceptions=False``: a capture's own failure comes back as an ``Outcome``,
never as an exception). Fleet limits live in one actor (``_LimitsState``) that every task asks
for slots and for the shared "not before" time. On a multi-node cluster the ledger folder must
be on a filesystem every node sees (the run folders are under it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sfs_kit.batch.driver import BatchOptions
from sfs_kit.batch.engine import Finished, Job, Progress
from sfs_kit.batch.outcome import Outcome, failure
from sfs_kit.errors import MissingDependencyError
from sfs_kit.pipeline import RunConfig
from sfs_kit.pipeline.limits import SlotKind

__all__ = ["RayEngine", "RayLimiter", "task_name"]

_POLL_S = 0.05
_FORWARDED = ("AWS_", "SCALE_", "SFS_KIT_")
_MAX_WAIT_S = 300.0


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise MissingDependencyError(
            "--engine ray needs Ray; install the extra: pip install 'sfs_kit[ray]'.",
            field="engine") from err
    return ray


class _LimitsState:
    """The actor's state: slots in use per kind and the fleet's not-before time."""

    def __init__(self, limits: dict[str, int | None]) -> None:
        self._limits = limits
        self._used: dict[str, int] = dict.fromkeys(limits, 0)
        self._not_before = 0.0

    def acquire(self, kind: str) -> bool:
        limit = self._limits.get(kind)
        if limit is None:
            return True
        if self._used[kind] >= limit:
            return False
        self._used[kind] += 1
        return True

    def release(self, kind: str) -> None:
        if self._limits.get(kind) is not None:
            self._used[kind] = max(0, self._used[kind] - 1)

    def not_before(self) -> float:
        return self._not_before

    def retry_after(self, seconds: float) -> None:
        self._not_before = max(self._not_before, time.time() + min(seconds, _MAX_WAIT_S))


@dataclass(frozen=True)
class RayLimiter:
    """``pipeline.limits.FleetLimiter`` backed by the batch's ``_LimitsState`` actor."""

    actor: Any

    @contextmanager
    def slot(self, kind: SlotKind) -> Iterator[None]:
        ray = _import_ray()
        while not ray.get(self.actor.acquire.remote(kind)):
            time.sleep(_POLL_S)
        try:
            yield
        finally:
            self.actor.release.remote(kind)

    def wait(self) -> None:
        ray = _import_ray()
        delay = min(float(ray.get(self.actor.not_before.remote())) - time.time(), _MAX_WAIT_S)
        if delay > 0:
            time.sleep(delay)

    def retry_after(self, seconds: float) -> None:
        _import_ray().get(self.actor.retry_after.remote(seconds))


def _ray_execute(job: Job, config: RunConfig, limiter: RayLimiter,
                 environ: dict[str, str]) -> Outcome:
    """The remote task: the driver's AWS/Scale/sfs_kit environment, one capture, its ``Outcome``
    (failures are values, not exceptions)."""
    from sfs_kit.batch.worker import execute_capture

    for name in [k for k in os.environ if k.startswith(_FORWARDED) and k not in environ]:
        del os.environ[name]
    os.environ.update(environ)
    return execute_capture(job.row, config, job.run_dir, limiter=limiter)


class RayEngine:
    """Submits one Ray task per job; ``poll`` collects finished ones and enforces timeouts."""

    name = "ray"

    def __init__(self, config: RunConfig, options: BatchOptions) -> None:
        ray = self._ray = _import_ray()
        self._owns = not ray.is_initialized()  # we connect, so we disconnect at the end
        if self._owns:
            address = options.ray_address or os.environ.get("RAY_ADDRESS") or None
            if address is None:  # a local Ray of our own ("local": never some other session's
                # cluster that ``ray start`` left in /tmp/ray), with no dashboard to start
                ray.init(address="local", log_to_driver=False, include_dashboard=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self._config = config
        self._timeout_s = options.timeout_s
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self._slots = options.workers or max(1, int(cpus // max(options.ray_num_cpus, 0.01)))
        limits = {"upload": options.max_uploads, "submit": options.max_submits}
        self._actor = ray.remote(num_cpus=0)(_LimitsState).remote(limits)
        self._limiter = RayLimiter(self._actor)
        task_options: dict[str, Any] = {"num_cpus": options.ray_num_cpus,
                                        "max_retries": options.ray_max_retries,
                                        "retry_exceptions": False}
        if options.ray_memory_bytes is not None:
            task_options["memory"] = options.ray_memory_bytes
        self._task_options = task_options
        self._remote = ray.remote(_ray_execute)
        self._running: dict[Any, tuple[Job, float]] = {}

    @property
    def active(self) -> int:
        return len(self._running)

    def capacity(self) -> int:
        return self._slots - len(self._running)

    def submit(self, job: Job) -> int | None:
        ref = self._remote.options(**self._task_options, name=task_name(job)).remote(
            job, self._config, self._limiter, _forwarded_env())
        self._running[ref] = (job, time.monotonic())
        return None

    def poll(self, timeout_s: float) -> list[Finished | Progress]:
        ray = self._ray
        if not self._running:
            time.sleep(timeout_s)
            return []
        ready, _ = ray.wait(list(self._running), num_returns=len(self._running),
                            timeout=timeout_s)
        events: list[Finished | Progress] = []
        for ref in ready:
            job, _ = self._running.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as err:
                outcome = failure("WorkerLost", f"Ray lost the task after its retries "
                                                f"({type(err).__name__}: {err})", transient=True)
            events.append(Finished(job, outcome))
        if self._timeout_s is not None:
            now = time.monotonic()
            for ref, (job, started) in list(self._running.items()):
                if now - started > self._timeout_s:
                    ray.cancel(ref, force=True)
                    del self._running[ref]
                    events.append(Finished(job, failure(
                        "CaptureTimeout", f"the capture took longer than --timeout "
                        f"{self._timeout_s:g} s; its Ray task was cancelled", transient=False)))
        return events

    def close(self) -> None:
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)
        self._running.clear()
        self._ray.kill(self._actor)
        if self._owns:
            self._ray.shutdown()


def task_name(job: Job) -> str:
    """The Ray task's name, which is also its worker's process title (``ray::<name>``) while it
    runs: the capture's file name and its ledger key, so ``ray list tasks``, the dashboard and
    ``ps`` say which capture a worker is on."""
    name = "".join(c if c.isprintable() and not c.isspace() else "_"
                   for c in os.path.basename(job.row.path.rstrip("/")))[:80]
    return f"sfs_kit:{name}:{job.key}"


def _forwarded_env() -> dict[str, str]:
    """Settings a remote worker needs that live in the environment (AWS, Scale, sfs_kit)."""
    return {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED)}
