"""Streaming .sfs writer: plan, then header, then each array's buffer; atomic for paths (D2)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any, BinaryIO

from sfs_kit._atomic import atomic_output
from sfs_kit.codecs._output import check_output_file, output_errors
from sfs_kit.codecs._sfs_plan import SfsPlan, build_plan

__all__ = ["encode_sfs_dict", "write_sfs_dict"]


def write_plan(plan: SfsPlan, dest: str | os.PathLike[str] | BinaryIO) -> int:
    """Write a planned file to a path (atomically) or to a binary stream (left open)."""
    if isinstance(dest, (str, os.PathLike)):
        target = check_output_file(dest)
        with output_errors(target), atomic_output(target) as stream:
            return plan.write_to(stream)
    return plan.write_to(dest)


def write_sfs_dict(
    tree: Mapping[str, Any],
    dest: str | os.PathLike[str] | BinaryIO,
    *,
    align: int = 64,
) -> int:
    """Write a dict tree (JSON values plus numpy arrays / bytes) as .sfs; return the byte count.

    Arrays are streamed straight from their buffers (no whole-file buffer, no per-array copy for
    C-contiguous little-endian arrays). Raises ``InputError`` naming the key path of any value
    that cannot be written, ``OutputError`` when the path cannot be written (its folder must
    exist); nothing is left at a path destination on failure.
    """
    return write_plan(build_plan(tree, align, None), dest)


def encode_sfs_dict(tree: Mapping[str, Any], *, align: int = 64) -> bytes:
    """Return the .sfs encoding of ``tree`` as bytes (convenient for tests and small data)."""
    plan = build_plan(tree, align, None)
    buffer = io.BytesIO()
    plan.write_to(buffer)
    return buffer.getvalue()

