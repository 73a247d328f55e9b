"""The output-path rules every command follows, in one place.

- The folder or file you name may be new, but its parent folder must exist (a typo never
  creates a chain of folders); folders are created only when something is written into them.
- A ``.sfs`` output is one file whose name ends in ``.sfs``; a split_base64 output is a folder,
  never a name ending in ``.sfs``.
- An existing output is never replaced silently: pass ``--overwrite`` (``run`` resumes into its
  folder instead, and object stores skip identical objects).
"""

from __future__ import annotations

import os
from pathlib import Path

from sfs_kit.errors import OutputError

__all__ = ["check_convert_output", "check_output_folder"]


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """A folder that may be new: not a file, and its parent exists (else ``OutputError``)."""
    from sfs_kit.codecs._output import check_output_folder as check

    return check(path)


def check_convert_output(out: str | os.PathLike[str], fmt: str, *, overwrite: bool) -> Path:
    """``out`` for ``convert --format fmt``, or an ``OutputError`` saying which rule it breaks."""
    from sfs_kit.codecs._output import check_output_file, check_output_folder

    path = Path(os.fspath(out))
    if fmt == "sfs":
        check_output_file(path)
        if path.suffix.lower() != ".sfs":
            raise OutputError(
                f"Output {str(path)!r} is not a .sfs file name; an sfs output is one file named "
                f"*.sfs (e.g. {str(path.with_suffix('.sfs'))!r}), or pass --format split_base64 "
                f"for a folder of frames.", path=str(path))
        if path.exists() and not overwrite:
            raise OutputError(f"Output {str(path)!r} exists; pass --overwrite to replace it.",
                              path=str(path))
        return path
    check_output_folder(path)
    if path.suffix.lower() == ".sfs":
        raise OutputError(
            f"Output {str(path)!r} names a .sfs file, but split_base64 writes a folder of frames; "
            f"name a folder (e.g. {str(path.with_suffix(''))!r}) or pass --format sfs.",
            path=str(path))
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise OutputError(f"Output folder {str(path)!r} exists and is not empty; choose a new "
                          f"one or pass --overwrite to replace it.", path=str(path))
    return path

