"""Output paths: checked before any work, and ``OSError`` while writing mapped to ``OutputError``.

One rule for every writer (``write_sfs``, ``write_sfs_dict``, ``SfsAppendWriter``, ``write_frames``,
``convert_capture``): the folder an output goes into must already exist; it is never created
(a typo in ``-o`` should fail at once, not leave a new tree of folders behind). A file output may
not name an existing folder, and a folder output may not name an existing file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfs_kit.errors import OutputError

__all__ = ["check_output_file", "check_output_folder", "output_errors"]


def _check_parent(path: Path, what: str) -> None:
    parent = path.parent
    if not parent.exists():
        raise OutputError(
            f"Output {what} {str(path)!r} cannot be written: its folder {str(parent)!r} does not "
            "exist (create it first).",
            path=str(path),
        )
    if not parent.is_dir():
        raise OutputError(
            f"Output {what} {str(path)!r} cannot be written: {str(parent)!r} is not a folder.",
            path=str(path),
        )


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` if a file can be written there; else ``OutputError``."""
    target = Path(os.fspath(path))
    if target.is_dir():
        raise OutputError(
            f"Output file {str(target)!r} is an existing folder; name a file (e.g. "
            f"{str(target / 'scene.sfs')!r}).",
            path=str(target),
        )
    _check_parent(target, "file")
    return target


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` if it is or can become a folder (its parent exists); else error."""
    target = Path(os.fspath(path))
    if target.exists() and not target.is_dir():
        raise OutputError(
            f"Output folder {str(target)!r} is an existing file, not a folder.", path=str(target)
        )
    _check_parent(target, "folder")
    return target


@contextmanager
def output_errors(path: str | os.PathLike[str], what: str = "file") -> Iterator[None]:
    """Turn an ``OSError`` raised in the body into ``OutputError`` naming ``path``."""
    try:
        yield
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise OutputError(
            f"Cannot write output {what} {os.fspath(path)!r}: {reason}.", path=os.fspath(path)
        ) from err
