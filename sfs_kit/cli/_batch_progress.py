"""The batch's live bar on a terminal: done / failed / running, bytes, rate and ETA.

Drawn by the CLI's shared rich display (``cli._progress``: only on a terminal, not under ``-q``,
and only with the ``progress`` extra installed).
"""

from __future__ import annotations

from sfs_kit.batch import BatchProgress
from sfs_kit.cli._progress import Bar, ProgressDisplay
from sfs_kit.cli.run import _size

__all__ = ["BatchDisplay", "describe"]


def describe(event: BatchProgress) -> str:
    """``36/40 done, 1 failed, 2 running | 1.2 MB | 95/min | ETA 0:12``."""
    rate = event.finished_this_run / event.elapsed_s * 60 if event.elapsed_s > 0 else 0.0
    left = max(0, event.to_run - event.finished_this_run)
    eta = "--:--" if rate <= 0 else _clock(left / rate * 60)
    return (f"{event.done}/{event.total} done, {event.failed} failed, {event.running} running"
            f" | {_size(event.bytes_uploaded)} | {rate:.0f}/min | ETA {eta}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class BatchDisplay:
    """A context manager and ``on_progress`` callback for ``run_batch``: one bar of captures
    (done or failed of all listed) in the CLI's shared display (``cli._progress``), labelled
    with the counts, bytes, this run's rate and ETA."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        self._display = ProgressDisplay(enabled=enabled)
        self._bar: Bar | None = None

    def __enter__(self) -> BatchDisplay:
        self._display.__enter__()
        return self

    def __call__(self, event: BatchProgress) -> None:
        if not self._display.enabled:
            return
        if self._bar is None:
            self._bar = self._display.bar("batch", event.total)
        self._bar.set(event.done + event.failed, total=event.total, label=describe(event))

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
        self._display.__exit__(*exc)
