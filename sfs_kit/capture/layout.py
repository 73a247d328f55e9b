"""``open_capture``: recognise a capture's layout from its path and open it.

- a folder (or file) with ``capture.yaml``/``capture.yml``/``capture.json``: the sfs_kit layout;
- a folder with ``velodyne_points/`` (KITTI raw drive);
- a folder with ``pointcloud/`` of .ply/.pcd files (scale-lidar-toolkit's ``scale_format``);
- a ``.msgpack``/``.mpk`` file: the msgpack capture stream;
- a ROS recording: a ``.bag`` or ``.mcap`` file, a ROS 2 bag folder (``metadata.yaml``), or a
  manifest whose ``recording`` key names one (``recording`` options override its keys).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sfs_kit._excerpt import excerpt
from sfs_kit.capture.base import Capture, MetadataValue
from sfs_kit.capture.options import RadarFrame
from sfs_kit.errors import InputError

if TYPE_CHECKING:
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = [
    "MSGPACK_SUFFIXES",
    "RECORDING_SUFFIXES",
    "RecordingTarget",
    "open_capture",
    "recording_target",
]

MSGPACK_SUFFIXES = (".msgpack", ".mpk")
RECORDING_SUFFIXES = (".bag", ".mcap")


class RecordingTarget(NamedTuple):
    """A recording to open: its path, the mapping options, and a manifest's scene metadata."""

    path: Path
    options: RecordingOptions | None
    metadata: dict[str, MetadataValue]


def recording_target(
    path: Path, options: RecordingOptions | None = None
) -> RecordingTarget | None:
    """The recording ``path`` is or names (a manifest with ``recording:``), with its options.

    A manifest's keys are overridden by ``options``; its ``metadata`` (and ``name``, as
    ``capture_name``) go into the scene as a capture folder's do. ``None`` when ``path`` is no
    recording.
    """
    from sfs_kit.capture.recording.bag import recording_kind

    if recording_kind(path) is not None:
        return RecordingTarget(path, options, {})
    from sfs_kit.capture.manifest import MANIFEST_NAMES  # YAML, pydantic: not for a recording

    candidates = [path] if path.is_file() else [path / name for name in MANIFEST_NAMES]
    manifest = next((c for c in candidates if c.name in MANIFEST_NAMES and c.is_file()), None)
    if manifest is None:
        return None
    from sfs_kit.capture.recording.manifest import load_recording_manifest, recording_path
    from sfs_kit.capture.recording.options import RecordingOptions

    loaded = load_recording_manifest(manifest)
    if loaded is None:
        return None
    keys = {"version", "name", "recording", "metadata"}
    base = loaded.model_dump(exclude=keys, exclude_unset=True)
    given = {} if options is None else options.model_dump(exclude_unset=True)
    merged = RecordingOptions.model_validate({**base, **given})
    metadata: dict[str, MetadataValue] = dict(loaded.metadata)
    if loaded.name is not None:
        metadata.setdefault("capture_name", loaded.name)
    return RecordingTarget(recording_path(manifest, loaded), merged, metadata)


def open_capture(
    path: str | os.PathLike[str],
    *,
    recording: RecordingOptions | None = None,
    allow_outside_capture: bool = False,
    frame_rate_hz: float | None = None,
    radar_frame: RadarFrame = "world",
) -> Capture:
    """Open a capture of any supported layout; frames and images are loaded later, on demand.

    ``recording`` maps a ROS recording's topics (ignored for the other layouts);
    ``allow_outside_capture`` lets a capture folder's manifest (or a scale-lidar-toolkit
    folder's symlinks) reference files outside it;
    ``frame_rate_hz`` times the frames of layouts whose files carry no time stamps (Scale's
    toolkit folder named 1.ply, 2.ply, ...); other layouts ignore it, as they ignore
    ``radar_frame``, the frame of the toolkit's ``radar_points`` (``"world"``, as scale-lidar-io
    writes them, or ``"ego"``).
    """
    p = Path(path)
    try:
        found = p.exists()
    except (OSError, ValueError) as err:  # a name too long, a NUL
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise InputError(f"Cannot open capture {excerpt(str(p), 200)}: {reason}.",
                         source=str(p)) from err
    if not found:
        raise InputError(f"Capture {str(p)!r} does not exist.", source=str(p))
    target = recording_target(p, recording)
    if target is not None:
        from sfs_kit.capture.recording.capture import open_recording  # rosbags, lazily

        return open_recording(target.path, target.options, metadata=target.metadata)
    # each layout's readers load when its capture is opened (a recording needs none of them)
    from sfs_kit.capture.folder import read_capture_folder
    from sfs_kit.capture.kitti_raw import is_kitti_raw, read_kitti_raw
    from sfs_kit.capture.manifest import MANIFEST_NAMES
    from sfs_kit.capture.msgpack_stream import read_msgpack_capture
    from sfs_kit.capture.scale_folder import is_scale_folder, read_scale_folder

    if p.is_file():
        if p.name in MANIFEST_NAMES:
            return read_capture_folder(p, allow_outside_capture=allow_outside_capture)
        if p.suffix.lower() in MSGPACK_SUFFIXES:
            return read_msgpack_capture(p)
        raise InputError(
            f"Cannot tell the capture layout of file {str(p)!r}: expected a capture.yaml/"
            f"capture.json manifest, a {'/'.join(MSGPACK_SUFFIXES)} stream or a "
            f"{'/'.join(RECORDING_SUFFIXES)} recording.",
            source=str(p),
        )
    if any(os.path.lexists(p / name) for name in MANIFEST_NAMES):
        return read_capture_folder(p, allow_outside_capture=allow_outside_capture)
    if is_kitti_raw(p):
        return read_kitti_raw(p)
    if is_scale_folder(p):
        return read_scale_folder(
            p,
            frame_rate_hz=frame_rate_hz,
            allow_outside_capture=allow_outside_capture,
            radar_frame=radar_frame,
        )
    raise InputError(
        f"Cannot tell the capture layout of folder {str(p)!r}: it has no capture.yaml/"
        f"capture.json, no KITTI 'velodyne_points/' folder, no scale-lidar-toolkit 'pointcloud/' "
        f"folder and no ROS 2 bag metadata.yaml.",
        source=str(p),
    )
