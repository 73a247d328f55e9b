"""The batch's live line on a terminal: done / failed / running, bytes, rate and ETA.

Drawn with ``rich`` when it is installed (the ``progress`` extra), else as one plain line
rewritten in place; nothing is drawn when stderr is not a terminal.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from sfs_kit.batch import BatchProgress
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
    """A context manager and ``on_progress`` callback for ``run_batch``."""

    def __init__(self, *, enabled: bool, stream: IO[str] | None = None) -> None:
        self._enabled = enabled
        self._stream = stream or sys.stderr
        self._rich: Any = None
        self._task: Any = None
        self._drawn = False

    def __enter__(self) -> BatchDisplay:
        if not self._enabled:
            return self
        try:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn
        except ImportError:
            return self
        self._rich = Progress(TextColumn("batch"), BarColumn(),
                              TextColumn("{task.description}"),
                              console=Console(file=self._stream), transient=False)
        self._rich.start()
        self._task = self._rich.add_task("starting", total=None)
        return self

    def __call__(self, event: BatchProgress) -> None:
        if not self._enabled:
            return
        text = describe(event)
        if self._rich is not None:
            self._rich.update(self._task, description=text, total=event.total,
                              completed=event.done + event.failed)
            return
        self._stream.write(f"\rbatch {text}\x1b[K")
        self._stream.flush()
        self._drawn = True

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._drawn:
            self._stream.write("\n")
            self._stream.flush()
