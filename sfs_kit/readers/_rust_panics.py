"""Keep a Rust extension's panic report off the terminal: our ``InputError`` is the only message.

A panic inside lazrs (laz-rs behind pyo3) reaches Python as ``PanicException``, which the LAS
reader turns into ``InputError``; but Rust's panic hook has already written "thread ... panicked
at ..." and a backtrace straight to file descriptor 2, beneath any ``sys.stderr`` redirection. While
a native call runs, ``native_stderr_held`` points descriptor 2 at a temporary file; afterwards the
text is written back to the real stderr, less the panic report when the call panicked (so any other
output of that window, from other threads too, is delayed, never lost).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import IO

__all__ = ["PanicWatch", "is_panic", "native_stderr_held"]

_PANIC_START = re.compile(rb"\n?^thread '[^'\n]*'.*? panicked at ", re.MULTILINE)


def is_panic(err: BaseException) -> bool:
    """pyo3's PanicException (a Rust panic) derives from BaseException, not Exception."""
    return type(err).__name__ == "PanicException"


class _Hold:
    """Descriptor 2 pointed at a temporary file while any holder is inside (re-entrant)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved_fd: int | None = None
        self.file: IO[bytes] | None = None
        self.panicked = False

    def start(self) -> None:
        with self.lock:
            self.depth += 1
            if self.depth > 1:
                return
            with suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            try:
                saved = os.dup(2)
            except OSError:  # no descriptor 2 at all: nothing can reach the terminal
                return
            held = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
            os.dup2(held.fileno(), 2)
            self.saved_fd, self.file = saved, held

    def finish(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth > 0:
                return
            saved, held, panicked = self.saved_fd, self.file, self.panicked
            self.saved_fd, self.file, self.panicked = None, None, False
            if saved is None or held is None:
                return
            os.dup2(saved, 2)
            os.close(saved)
        with held:
            held.seek(0)
            text = held.read()
        _write_back(_text_to_keep(text, panicked))


_HOLD = _Hold()


def _text_to_keep(text: bytes, panicked: bool) -> bytes:
    if not panicked:
        return text
    match = _PANIC_START.search(text)
    return text if match is None else text[: match.start()]


def _write_back(text: bytes) -> None:
    view = memoryview(text)
    while view:
        try:
            view = view[os.write(2, view):]
        except OSError:
            return


@dataclass
class PanicWatch:
    """Handed to the ``with`` body: call ``panicked()`` when the native call raised a panic."""

    def panicked(self) -> None:
        """Drop the panic report from the held text (the caller raises its own error)."""
        with _HOLD.lock:
            _HOLD.panicked = True


@contextmanager
def native_stderr_held() -> Iterator[PanicWatch]:
    """Hold descriptor 2 while a native call runs; see the module docstring."""
    _HOLD.start()
    try:
        yield PanicWatch()
    finally:
        _HOLD.finish()
