"""Progress bars on stderr: rich (the ``progress`` extra) with rates and ETA, any number of bars
in one display (nested: ``batch`` shows the whole night and each capture), nothing at all when
stderr is not a terminal, under ``-q``, or when rich is not installed.

``ProgressDisplay`` is the live display; ``display.bar(label, total, unit=...)`` adds a bar,
``Bar.advance``/``Bar.set`` move it. ``Progress`` is the one-bar shorthand used by most commands.
rich is imported only when a bar is actually drawn, so ``--version``/``--help`` stay fast.
"""

from __future__ import annotations

import sys
from typing import IO, Any

__all__ = ["Bar", "Progress", "ProgressDisplay", "bars_enabled", "set_quiet"]

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """``-q``: no bars for the rest of this CLI call."""
    global _QUIET  # noqa: PLW0603 (one CLI-wide switch, set once by main)
    _QUIET = quiet


def bars_enabled(stream: IO[str] | None = None) -> bool:
    """True when bars would be drawn on ``stream`` (default stderr): a terminal, not ``-q``, and
    rich importable."""
    target = stream or sys.stderr
    if _QUIET or not _isatty(target):
        return False
    try:
        import rich.progress  # noqa: F401
    except ImportError:
        return False
    return True


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Bar:
    """One bar of a ``ProgressDisplay`` (a no-op when the display is off)."""

    def __init__(self, display: ProgressDisplay, task: Any, total: float) -> None:
        self._display = display
        self._task = task
        self.total = max(float(total), 0.0)
        self.done = 0.0

    def advance(self, amount: float = 1.0) -> None:
        """Move forward by ``amount``."""
        self.set(self.done + amount)

    def set(self, done: float, *, total: float | None = None, label: str | None = None) -> None:
        """Set the amount done (and optionally the total or the label)."""
        self.done = float(done)
        if total is not None:
            self.total = max(float(total), 0.0)
        progress = self._display._progress
        if progress is not None and self._task is not None:
            fields: dict[str, Any] = {"completed": self.done, "total": self.total or None}
            if label is not None:
                fields["description"] = label
            progress.update(self._task, **fields)

    def close(self) -> None:
        """Mark the bar finished (it stays on screen with its final figures)."""
        progress = self._display._progress
        if progress is not None and self._task is not None:
            progress.update(self._task, completed=max(self.done, self.total), total=self.total)
            progress.stop_task(self._task)


class ProgressDisplay:
    """A live display of bars on stderr; use as a context manager."""

    def __init__(self, *, stream: IO[str] | None = None, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self.enabled = bars_enabled(self._stream) if enabled is None else enabled
        self._progress: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._progress = _rich_progress(self._stream)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def bar(self, label: str, total: float, *, unit: str = "") -> Bar:
        """A new bar; ``unit="B"`` shows bytes and a transfer rate, else counts and items/s."""
        task = None
        if self._progress is not None:
            task = self._progress.add_task(label, total=max(float(total), 0.0) or None,
                                           unit=unit)
        return Bar(self, task, total)


def _rich_progress(stream: IO[str]) -> Any:
    """A rich ``Progress`` with label, bar, percent, amount, rate and ETA columns."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as RichProgress
    from rich.text import Text

    class AmountColumn(ProgressColumn):
        """Bytes (``12.3/45.6 MB``) or counts (``3/12``), by the bar's unit."""

        def __init__(self) -> None:
            super().__init__()
            self._bytes = DownloadColumn()
            self._count = MofNCompleteColumn()

        def render(self, task: Any) -> Any:
            return (self._bytes if task.fields.get("unit") == "B" else self._count).render(task)

    class RateColumn(ProgressColumn):
        """``4.2 MB/s`` for bytes, ``12.5/s`` for counts."""

        def __init__(self) -> None:
            super().__init__()
            self._bytes = TransferSpeedColumn()

        def render(self, task: Any) -> Any:
            if task.fields.get("unit") == "B":
                return self._bytes.render(task)
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")

    console = Console(file=stream, stderr=stream is sys.stderr)
    return RichProgress(
        TextColumn("{task.description:<20}"), BarColumn(), TaskProgressColumn(), AmountColumn(),
        RateColumn(), TimeRemainingColumn(), console=console, transient=False,
        refresh_per_second=8,
    )


class Progress:
    """One bar in a display of its own: ``with Progress("upload", total, unit="B") as p:``."""

    def __init__(self, label: str, total: float, *, unit: str = "",
                 stream: IO[str] | None = None, force: bool = False) -> None:
        self.label = label
        self.unit = unit
        self._display = ProgressDisplay(stream=stream, enabled=True if force else None)
        self._display.__enter__()
        self._bar = self._display.bar(label, total, unit=unit)

    @property
    def done(self) -> float:
        return self._bar.done

    @property
    def total(self) -> float:
        return self._bar.total

    def update(self, amount: float = 1.0) -> None:
        """Advance by ``amount``."""
        self._bar.set(self._bar.done + amount, label=self.label)

    def close(self) -> None:
        """Finish the bar and end the display."""
        self._bar.close()
        self._display.__exit__()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
