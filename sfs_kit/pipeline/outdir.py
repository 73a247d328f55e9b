"""A run's output folder: its default name, its lock, the capture it belongs to, and cleanup.

- The default folder is ``./sfs-kit-out/<capture name>-<8 hex of the resolved capture path>``,
  so two captures with the same folder name (``a/drive``, ``b/drive``) never share one.
- The journal's first record (``capture``) names the capture's resolved path; a run of another
  capture into that folder is refused (a resumed run would mix two captures' files and results).
- The lock (``.sfs-kit.lock``) exists only while a run holds it, and a run that fails before it
  has journaled anything removes the folder again if it created it: a failed run leaves nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from sfs_kit.errors import InputError
from sfs_kit.pipeline.journal import Journal

__all__ = ["CAPTURE_STEP", "LOCK_NAME", "check_capture", "default_out_dir", "locked_out_dir"]

LOCK_NAME = ".sfs-kit.lock"
CAPTURE_STEP = "capture"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def capture_identity(capture: Path) -> str:
    """The capture as the journal records it: its resolved absolute path."""
    return str(capture.resolve())


def default_out_dir(capture: str | os.PathLike[str]) -> Path:
    """``./sfs-kit-out/<capture name>-<hash>``: the name without a file suffix, and 8 hex digits
    of the SHA-256 of the resolved path, so different captures never share a folder."""
    path = Path(capture)
    name = _SAFE.sub("_", path.stem if path.is_file() else path.name).strip("._") or "capture"
    digest = hashlib.sha256(capture_identity(path).encode("utf-8")).hexdigest()[:8]
    return Path.cwd() / "sfs-kit-out" / f"{name}-{digest}"


def check_capture(journal: Journal, capture: Path, out_dir: Path) -> dict[str, str] | None:
    """Refuse a journal of another capture; return the ``capture`` record's data to journal when
    this is the folder's first run (None when it is already recorded)."""
    mine = capture_identity(capture)
    record = journal.find(CAPTURE_STEP)
    if record is None:  # a new folder, or a journal from before capture identities
        return {"path": mine}
    theirs = str(record.data.get("path", ""))
    if theirs != mine:
        raise InputError(
            f"Output folder {str(out_dir)!r} holds the run of capture {theirs!r}, not "
            f"{mine!r}; choose another --out (or omit it: the default folder is keyed by the "
            f"capture path), or delete the folder to start over.",
            source=str(out_dir), field="out",
        )
    return None


@contextlib.contextmanager
def locked_out_dir(out_dir: Path) -> Iterator[None]:
    """Create ``out_dir`` if needed and hold its exclusive lock for one run; remove the lock file
    afterwards, and the folder itself if this run created it and nothing else was put there."""
    created = _make_dirs(out_dir)
    lock = out_dir / LOCK_NAME
    try:
        fd = _acquire(lock, out_dir)
    except BaseException:
        _remove_created(created)
        raise
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while still holding it: a waiting opener re-checks the inode
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        _remove_created(created)


def _make_dirs(out_dir: Path) -> list[Path]:
    """``mkdir -p`` returning the folders it made, deepest last."""
    missing: list[Path] = []
    probe = out_dir
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _remove_created(created: list[Path]) -> None:
    """Remove the folders this run made, deepest first, if they are empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (the run wrote something) or gone


def _acquire(lock: Path, out_dir: Path) -> int:
    """Lock ``lock`` (created if missing); retry when another run removed it meanwhile."""
    for _ in range(100):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(fd)
            raise InputError(
                f"Output folder {str(out_dir)!r} is in use by another sfs-kit run; wait for it "
                f"or choose another --out.", source=str(out_dir), field="out",
            ) from err
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the previous holder removed the file after we opened it: try again
    raise InputError(f"Output folder {str(out_dir)!r}: cannot take its lock.",  # pragma: no cover
                     source=str(out_dir), field="out")
