"""A short CLI process and the garbage collector.

A command's imports and the opening of its input allocate tens of thousands of long-lived
objects (modules, classes, pydantic schemas, rosbags' type stores) and next to no garbage; the
collector's passes over them (a dozen during a recording's ``convert``, and a last one at exit)
cost about 0.1 s of CPU and free nothing. ``start_up()`` pauses collection while they load. In
the ``sfs-kit`` process itself (``console_main``; not when ``main`` is called in-process) what
they built is then frozen out of later passes (``gc.freeze``), and so is everything at exit,
where the interpreter's last full pass would only precede the process's end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze_at_exit", "own_process", "start_up"]

_OWN_PROCESS: dict[str, bool] = {"yes": False}  # set by console_main


def own_process() -> None:
    """Mark this interpreter as the ``sfs-kit`` command's own (freezing is then allowed)."""
    _OWN_PROCESS["yes"] = True


@contextmanager
def start_up() -> Iterator[None]:
    """No collector passes inside; after it, in the command's own process, a ``gc.freeze``."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _OWN_PROCESS["yes"]:
            gc.freeze()
        if enabled:
            gc.enable()


def freeze_at_exit() -> None:
    """Before the process ends: leave the interpreter's last full pass nothing to walk."""
    if _OWN_PROCESS["yes"]:
        gc.freeze()
