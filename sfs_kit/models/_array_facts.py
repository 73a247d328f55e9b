"""``ArrayFacts``: what the validator learns about an array's content, kept by array identity so
a second validation of the same arrays (``write_sfs`` checks in spec mode, converts, then checks
in compat mode) does not read them again, and so a writer can hand in the figures of an array it
computed while writing (points posed into the world frame as they are written).

Only content is cached (min/max, the kind, size and completeness of an image); every rule is still
applied on each validation. An entry keeps a reference to its array, so an id is never reused
while the cache lives; arrays must not be modified while a cache is in use.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy.typing as npt

__all__ = ["ArrayFacts", "MinMaxAside"]

T = TypeVar("T")


class ArrayFacts:
    """Per-array memo of content facts, keyed by ``id`` (with the array kept alive).

    A child (``ArrayFacts(parent)``) sees the parent's facts and overrides them with its own: the
    compat check of a scene whose points are posed while written uses the posed figures, the
    spec check the figures of the points as given."""

    def __init__(self, parent: ArrayFacts | None = None) -> None:
        self._facts: dict[tuple[int, str], tuple[npt.NDArray[Any], Any]] = {}
        self._parent = parent

    def _lookup(self, arr: npt.NDArray[Any], what: str) -> tuple[bool, Any]:
        entry = self._facts.get((id(arr), what))
        if entry is not None and entry[0] is arr:
            return True, entry[1]
        if self._parent is not None:
            return self._parent._lookup(arr, what)
        return False, None

    def get(self, arr: npt.NDArray[Any], what: str, compute: Callable[[], T]) -> T:
        """The cached ``what`` of ``arr`` (here or in the parent), else computed by ``compute``
        and kept here."""
        found, cached = self._lookup(arr, what)
        if found:
            value: T = cached
            return value
        value = compute()
        self._facts[(id(arr), what)] = (arr, value)
        return value

    def put(self, arr: npt.NDArray[Any], what: str, value: object) -> None:
        """Record a fact the caller computed (it replaces any earlier one)."""
        self._facts[(id(arr), what)] = (arr, value)

    def minmax(self, arr: npt.NDArray[Any]) -> tuple[Any, Any]:
        """``(arr.min(), arr.max())`` as numpy scalars (``arr`` must be non-empty)."""
        return self.get(arr, "minmax", lambda: (arr.min(), arr.max()))

    def put_minmax(self, arr: npt.NDArray[Any], lo: object, hi: object) -> None:
        """Record the min/max the validator should use for ``arr`` (e.g. of its posed copy)."""
        self.put(arr, "minmax", (lo, hi))




_ASIDE_BYTES = 1 << 18  # smaller arrays are read at once: a thread hand-off costs more


class MinMaxAside:
    """The min/max of arrays about to be written, read by one helper thread while the caller
    writes them (numpy's reductions and the file's writes release the GIL, so on a machine
    with a free core the figures cost no time), recorded in ``facts`` by ``wait``.

    The arrays must not change until ``wait`` returns; ``wait`` (always called, also when the
    write fails) ends the thread and raises what a reduction raised."""

    def __init__(self, facts: ArrayFacts) -> None:
        self._facts = facts
        self._jobs: queue.SimpleQueue[npt.NDArray[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def add(self, arr: npt.NDArray[Any]) -> None:
        """Have ``arr``'s min/max read (non-empty arrays; at once when small)."""
        if arr.nbytes < _ASIDE_BYTES:
            self._facts.minmax(arr)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sfs-kit figures",
                                            daemon=True)
            self._thread.start()
        self._jobs.put(arr)

    def _run(self) -> None:
        while (arr := self._jobs.get()) is not None:
            if self._error is None:
                try:
                    self._facts.minmax(arr)
                except BaseException as err:  # noqa: BLE001 - raised by wait() in the caller
                    self._error = err

    def wait(self) -> None:
        """Wait until every added array's figures are in ``facts``; end the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
