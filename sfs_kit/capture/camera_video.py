"""One camera's content as an MP4 file for the converter: images encoded, or a video input.

Images are decoded and encoded one at a time into a temporary MP4 beside the output (D8 settings,
``sfs_kit.codecs.video``); the .sfs writer then copies that file in. A camera whose input is
already a video passes through unchanged when it is H.264 in an MP4 container with a
browser-playable pixel format (yuv420p), and is re-encoded frame by frame otherwise. Either way
its frame count and size are checked against the timestamps and intrinsics first, and a
mismatch is an ``InputError`` naming the camera.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sfs_kit.capture.base import CameraSource
from sfs_kit.codecs.video import Mp4Encoder, VideoInfo, iter_frames, probe_video
from sfs_kit.errors import InputError
from sfs_kit.models._imagesize import is_mp4

__all__ = ["CameraVideoFile", "camera_video_file", "stream_path"]

logger = logging.getLogger(__name__)

_PASS_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})


@dataclass(frozen=True)
class CameraVideoFile:
    """The MP4 to store for one camera; ``temporary`` files are ours to delete afterwards.
    ``dropped`` leading timestamps have no frame (a stream that started between keyframes)."""

    path: Path
    frame_count: int
    passed_through: bool
    temporary: bool
    dropped: int = 0


def _check_input(camera: CameraSource, info: VideoInfo, source: str, dropped: int) -> None:
    intr = camera.intrinsics
    want = camera.content_count - dropped
    if info.first_keyframe != 0 and info.frame_count:
        raise InputError(
            f"{source}: camera {camera.sensor_id!r}: the video does not start with a keyframe "
            f"(its first keyframe: {_frame_or_none(info.first_keyframe)}), so the frames before "
            "it cannot be decoded and would not line up with the timestamps; cut it at a "
            "keyframe.",
            source=source,
            field="video",
        )
    if info.frame_count != want:
        raise InputError(
            f"{source}: camera {camera.sensor_id!r}: the video has {info.frame_count} frames but "
            f"there are {want} timestamps for them; they must pair one to one.",
            source=source,
            field="timestamps",
        )
    if (info.width, info.height) != (intr.width, intr.height):
        raise InputError(
            f"{source}: camera {camera.sensor_id!r}: the video is {info.width}x{info.height} but "
            f"the intrinsics ({intr.source}) say {intr.width}x{intr.height}.",
            source=source,
            field="width" if info.width != intr.width else "height",
        )


def _frame_or_none(index: int | None) -> str:
    return "it has none" if index is None else f"frame {index}"


def _passes_through(info: VideoInfo, path: Path) -> bool:
    with path.open("rb") as f:
        head = np.frombuffer(f.read(8), dtype=np.uint8)
    return info.codec == "h264" and is_mp4(head) and info.pix_fmt in _PASS_PIX_FMTS


def stream_path(temp_path: Path) -> Path:
    """Where a video stream (no file of its own) is written before it is checked (an MP4 or an
    IVF file: PyAV tells them apart by their first bytes)."""
    return temp_path.with_name(temp_path.name + ".in")


def camera_video_file(
    camera: CameraSource,
    temp_path: Path,
    *,
    fps: float,
    load_image: Callable[[int], npt.NDArray[np.uint8]],
    step: Callable[[], None],
) -> CameraVideoFile:
    """The camera's MP4: pass-through, re-encoded input video, or its images encoded at ``fps``.

    ``temp_path`` is where an encoded file goes (removed again if encoding fails), and a video
    stream is first written to ``stream_path(temp_path)``; ``load_image`` returns image k's
    encoded bytes (size-checked; called on the encoder's decoding thread); ``step`` is called
    after each frame.
    """
    video = camera.video
    if video is None:
        images = ((load_image(k).data, im.source) for k, im in enumerate(camera.images))
        with _encoder(camera, temp_path, fps, f"camera {camera.sensor_id!r}") as enc:
            enc.add_images(images, on_frame=step)
        return CameraVideoFile(temp_path, enc.frames, passed_through=False, temporary=True)
    path, written, dropped = video.path, False, 0
    if path is None:  # a stream (a recording topic): written out as a container file first
        if video.write is None:
            raise InputError(f"{video.source}: the video has no file.", source=video.source)
        path, written = stream_path(temp_path), True
        dropped = video.write(path)
    info = probe_video(path, source=video.source)
    _check_input(camera, info, video.source, dropped)
    if _passes_through(info, path):
        for _ in range(camera.content_count):
            step()
        return CameraVideoFile(path, info.frame_count, True, temporary=written, dropped=dropped)
    logger.info(
        "camera %r: re-encoding %s (%s, %s) to H.264 MP4 (D8).",
        camera.sensor_id,
        video.source,
        info.codec,
        info.pix_fmt,
    )
    source = f"camera {camera.sensor_id!r} ({video.source})"
    with _encoder(camera, temp_path, fps, source) as enc:
        for frame in iter_frames(path, source=video.source):
            enc.add_frame(frame)
            step()
        if enc.frames != info.frame_count:
            raise InputError(
                f"{source}: only {enc.frames} of the video's {info.frame_count} frames could be "
                "decoded, so the pictures would not line up with the timestamps.",
                source=video.source,
                field="video",
            )
    if written:
        path.unlink(missing_ok=True)
    return CameraVideoFile(temp_path, enc.frames, False, temporary=True, dropped=dropped)


def _encoder(camera: CameraSource, temp_path: Path, fps: float, source: str) -> Mp4Encoder:
    intr = camera.intrinsics
    return Mp4Encoder(temp_path, width=intr.width, height=intr.height, fps=fps, source=source)
