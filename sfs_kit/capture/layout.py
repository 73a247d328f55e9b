"""``open_capture``: recognise a capture's layout from its path and open it.

- a folder (or file) with ``capture.yaml``/``capture.yml``/``capture.json``: the sfs_kit layout;
- a folder with ``velodyne_points/`` (KITTI raw drive);
- a ``.msgpack``/``.mpk`` file: the msgpack capture stream.
"""

from __future__ import annotations

import os
from pathlib import Path

from sfs_kit.capture.base import Capture
from sfs_kit.capture.folder import read_capture_folder
from sfs_kit.capture.kitti_raw import is_kitti_raw, read_kitti_raw
from sfs_kit.capture.manifest import MANIFEST_NAMES
from sfs_kit.capture.msgpack_stream import read_msgpack_capture
from sfs_kit.errors import InputError

__all__ = ["MSGPACK_SUFFIXES", "open_capture"]

MSGPACK_SUFFIXES = (".msgpack", ".mpk")


def open_capture(path: str | os.PathLike[str]) -> Capture:
    """Open a capture of any supported layout; frames and images are loaded later, on demand."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"Capture {str(p)!r} does not exist.", source=str(p))
    if p.is_file():
        if p.name in MANIFEST_NAMES:
            return read_capture_folder(p)
        if p.suffix.lower() in MSGPACK_SUFFIXES:
            return read_msgpack_capture(p)
        raise InputError(
            f"Cannot tell the capture layout of file {str(p)!r}: expected a capture.yaml/"
            f"capture.json manifest or a {'/'.join(MSGPACK_SUFFIXES)} stream.",
            source=str(p),
        )
    if any((p / name).is_file() for name in MANIFEST_NAMES):
        return read_capture_folder(p)
    if is_kitti_raw(p):
        return read_kitti_raw(p)
    raise InputError(
        f"Cannot tell the capture layout of folder {str(p)!r}: it has no capture.yaml/capture.json "
        f"and no KITTI 'velodyne_points/' folder.",
        source=str(p),
    )
