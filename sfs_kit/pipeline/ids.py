"""Stable identities: the content hash of a run's attachments and the task ``unique_id`` from it.

The task ``unique_id`` (spec §5.5 item 6) is derived from the project and the content hash, so a
re-run, or a run whose journal was lost, reuses the same id and can never create a second task.
For split_base64 the hash covers the frames as written *before* presigned image URLs are put in
(they change on every re-sign) plus every image, so re-signing keeps the id.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["UNIQUE_ID_PREFIX", "content_sha256", "derive_unique_id", "tree_fingerprint"]

UNIQUE_ID_PREFIX = "sfs-kit-"
_ID_HEX_CHARS = 40


def content_sha256(files: Iterable[tuple[str, str]]) -> str:
    """Hex SHA-256 over ``(name, sha256)`` pairs in the order given (frame order matters)."""
    digest = hashlib.sha256(b"sfs-kit content v1\n")
    for name, sha in files:
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()


def derive_unique_id(project: str | None, batch: str | None, content: str) -> str:
    """``sfs-kit-<40 hex>`` from the project (or, without one, the batch) and the content hash."""
    owner = f"project:{project}" if project is not None else f"batch:{batch or ''}"
    digest = hashlib.sha256(f"sfs-kit unique_id v1\n{owner}\n{content}".encode())
    return UNIQUE_ID_PREFIX + digest.hexdigest()[:_ID_HEX_CHARS]


def tree_fingerprint(path: str | os.PathLike[str], *, exclude: Path | None = None) -> str:
    """A cheap fingerprint of a file or directory tree: relative paths, sizes and mtimes.

    Used to notice that a capture changed between runs without reading it; any edit, addition
    or removal changes it. ``exclude`` skips one subtree (an output directory inside the capture).
    """
    root = Path(path)
    digest = hashlib.sha256(b"sfs-kit tree v1\n")
    if root.is_file():
        st = root.stat()
        digest.update(f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()
    skip = exclude.resolve() if exclude is not None else None
    entries: list[tuple[str, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if skip is not None:
            dirnames[:] = [d for d in dirnames if (here / d).resolve() != skip]
        dirnames.sort()
        for name in filenames:
            file = here / name
            st = file.stat()
            entries.append((file.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    for rel, size, mtime_ns in sorted(entries):
        digest.update(f"{rel}\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()
