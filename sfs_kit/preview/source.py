"""What ``preview`` can open: a ``.sfs`` file, a split_base64 frames folder, or any capture.

``open_preview_scene(path)`` is a context manager yielding a ``PreviewInput`` whose ``scene``
reads lazily: a ``.sfs`` is memory-mapped (ours or Scale-written, arrays stay zero-copy views, so
only the frames drawn are paged in); a frames folder is read with ``read_frames_scene`` keeping
points only for the frames asked for; anything else is opened with ``open_capture`` (our folder
layout, KITTI raw, msgpack streams, ROS 1 / ROS 2 / MCAP recordings) and streamed into a
temporary ``.sfs`` that is memory-mapped and deleted on exit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sfs_kit.codecs.scene_from_frames import find_frame_files, read_frames_scene
from sfs_kit.codecs.scene_io import read_sfs
from sfs_kit.errors import InputError
from sfs_kit.models.scene import Scene
from sfs_kit.preview.render import PreviewOptions, frames_drawn

if TYPE_CHECKING:
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = ["InputKind", "PreviewInput", "input_kind", "open_preview_scene"]

InputKind = Literal["sfs", "frames", "capture"]


@dataclass(frozen=True)
class PreviewInput:
    """An opened input: its ``scene``, what ``kind`` it was and notes from opening it."""

    path: Path
    kind: InputKind
    scene: Scene
    notes: tuple[str, ...] = ()


def _is_sfs_file(path: Path) -> bool:
    if path.suffix.lower() == ".sfs":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(1) == b"{"  # an .sfs header is a JSON object; manifests are YAML/JSON
    except OSError:
        return False


def input_kind(path: str | os.PathLike[str]) -> InputKind:
    """Which kind of input ``path`` is (without reading more than a byte)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"Input {str(p)!r} does not exist.", source=str(p))
    if p.is_file() and _is_sfs_file(p) and not p.name.startswith("capture."):
        return "sfs"
    if p.is_dir() and find_frame_files(p):
        return "frames"
    return "capture"


@contextmanager
def open_preview_scene(
    path: str | os.PathLike[str],
    *,
    keep_frames: Collection[int] | None = None,
    max_points_per_frame: int | None = None,
    recording: RecordingOptions | None = None,
    options: PreviewOptions | None = None,
) -> Iterator[PreviewInput]:
    """Open ``path`` for preview; the scene stays valid inside the ``with`` block.

    ``keep_frames`` and ``max_points_per_frame`` bound what a frames folder keeps in memory
    (a ``.sfs`` needs no bound: it is memory-mapped); given the preview's ``options`` instead,
    only the frames it draws keep their points, at most ``options.max_points`` each. A capture
    is converted with at most that many points per frame. ``recording`` maps a ROS recording's
    topics, as for ``convert``.
    """
    p = Path(path)
    kind = input_kind(p)
    if options is not None and max_points_per_frame is None:
        max_points_per_frame = options.max_points
    if kind == "sfs":
        yield PreviewInput(p, kind, read_sfs(p, lenient=True))
        return
    if kind == "frames":
        if keep_frames is None and options is not None:
            keep_frames = frames_drawn(len(find_frame_files(p)), options)
        scene = read_frames_scene(p, keep_points=keep_frames, max_points=max_points_per_frame)
        yield PreviewInput(p, kind, scene)
        return
    from sfs_kit.capture import convert_capture, open_capture  # only for captures

    capture = open_capture(p, recording=recording)
    with tempfile.TemporaryDirectory(prefix="sfs-kit-preview-") as tmp:
        out = Path(tmp) / "preview.sfs"
        result = convert_capture(capture, out, format="sfs",
                                 max_points_per_frame=max_points_per_frame)
        yield PreviewInput(p, kind, read_sfs(out), tuple(result.notes))
