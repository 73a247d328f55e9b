"""Progress of a conversion: one step per lidar frame and per image."""

from __future__ import annotations

from collections.abc import Callable

from sfs_kit.capture.base import Capture

ProgressCallback = Callable[[int, int], None]
"""Called with (steps done, steps total) after every lidar frame and image."""


def count_steps(capture: Capture) -> int:
    """The progress total of a .sfs conversion: every lidar frame and every camera frame."""
    return capture.frame_count + sum(c.content_count for c in capture.cameras)


class Counter:
    """Counts steps done and reports each to the caller's ``ProgressCallback``, if any."""

    def __init__(self, total: int, on_progress: ProgressCallback | None) -> None:
        self.total, self.done, self.cb = total, 0, on_progress

    def step(self) -> None:
        self.done += 1
        if self.cb is not None:
            self.cb(self.done, self.total)
