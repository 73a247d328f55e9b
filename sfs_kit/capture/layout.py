"""``open_capture``: recognise a capture's layout from its path and open it.

- a folder (or file) with ``capture.yaml``/``capture.yml``/``capture.json``: the sfs_kit layout;
- a folder with ``velodyne_points/`` (KITTI raw drive);
- a ``.msgpack``/``.mpk`` file: the msgpack capture stream;
- a ROS recording: a ``.bag`` or ``.mcap`` file, a ROS 2 bag folder (``metadata.yaml``), or a
  manifest whose ``recording`` key names one (``recording`` options override its keys).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sfs_kit.capture.base import Capture
from sfs_kit.capture.folder import read_capture_folder
from sfs_kit.capture.kitti_raw import is_kitti_raw, read_kitti_raw
from sfs_kit.capture.manifest import MANIFEST_NAMES
from sfs_kit.capture.msgpack_stream import read_msgpack_capture
from sfs_kit.errors import InputError

if TYPE_CHECKING:
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = ["MSGPACK_SUFFIXES", "RECORDING_SUFFIXES", "open_capture"]

MSGPACK_SUFFIXES = (".msgpack", ".mpk")
RECORDING_SUFFIXES = (".bag", ".mcap")


def _open_recording(
    path: Path, options: RecordingOptions | None, manifest: Path | None = None
) -> Capture:
    """A recording, or the one a manifest names (the manifest's keys, overridden by options)."""
    from sfs_kit.capture.recording.capture import open_recording
    from sfs_kit.capture.recording.manifest import load_recording_manifest, recording_path
    from sfs_kit.capture.recording.options import RecordingOptions

    if manifest is None:
        return open_recording(path, options)
    loaded = load_recording_manifest(manifest)
    if loaded is None:  # pragma: no cover - the caller checked
        raise InputError(f"{str(manifest)!r} names no recording.", source=str(manifest))
    keys = {"version", "name", "recording", "metadata"}
    base = loaded.model_dump(exclude=keys, exclude_unset=True)
    given = {} if options is None else options.model_dump(exclude_unset=True)
    merged = RecordingOptions.model_validate({**base, **given})
    return open_recording(recording_path(manifest, loaded), merged)


def _recording_manifest(p: Path) -> Path | None:
    """The manifest path when ``p`` (a manifest or a folder with one) points at a recording."""
    candidates = [p] if p.is_file() else [p / name for name in MANIFEST_NAMES]
    for c in candidates:
        if c.name in MANIFEST_NAMES and c.is_file():
            from sfs_kit.capture.recording.manifest import load_recording_manifest

            return c if load_recording_manifest(c) is not None else None
    return None


def open_capture(
    path: str | os.PathLike[str], *, recording: RecordingOptions | None = None
) -> Capture:
    """Open a capture of any supported layout; frames and images are loaded later, on demand.

    ``recording`` maps a ROS recording's topics (ignored for the other layouts).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"Capture {str(p)!r} does not exist.", source=str(p))
    from sfs_kit.capture.recording.bag import recording_kind

    if recording_kind(p) is not None:
        return _open_recording(p, recording)
    manifest = _recording_manifest(p)
    if manifest is not None:
        return _open_recording(p, recording, manifest)
    if p.is_file():
        if p.name in MANIFEST_NAMES:
            return read_capture_folder(p)
        if p.suffix.lower() in MSGPACK_SUFFIXES:
            return read_msgpack_capture(p)
        raise InputError(
            f"Cannot tell the capture layout of file {str(p)!r}: expected a capture.yaml/"
            f"capture.json manifest, a {'/'.join(MSGPACK_SUFFIXES)} stream or a "
            f"{'/'.join(RECORDING_SUFFIXES)} recording.",
            source=str(p),
        )
    if any((p / name).is_file() for name in MANIFEST_NAMES):
        return read_capture_folder(p)
    if is_kitti_raw(p):
        return read_kitti_raw(p)
    raise InputError(
        f"Cannot tell the capture layout of folder {str(p)!r}: it has no capture.yaml/capture.json "
        f"no KITTI 'velodyne_points/' folder and no ROS 2 bag metadata.yaml.",
        source=str(p),
    )
