"""MP4 probing with PyAV (the optional ``video`` extra): codec, size, frames, duration, bit rate.

PyAV (``av``) ships the FFmpeg libraries in its wheel, so no ``ffprobe`` binary is needed. It is
imported on first use only (``sfs_kit.models`` stays light), and ``load_av`` turns its absence into
a ``MissingDependencyError`` naming the extra. Content is read through a zero-copy view of the
bytes (a memory-mapped .sfs item stays mapped); the frame count is the number of packets of the
first video stream, as ``ffprobe -count_packets`` gives it, not the container's claim.
"""

from __future__ import annotations

import importlib
import io
import os
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError, MissingDependencyError

__all__ = ["VideoInfo", "have_av", "load_av", "open_video", "probe_video"]

VideoData = bytes | bytearray | memoryview | npt.NDArray[np.uint8] | str | os.PathLike[str]
"""MP4 content: bytes, a 1-D uint8 array (e.g. an .sfs item) or a file path."""

INSTALL_HINT = "pip install 'sfs_kit[video]'"


def have_av() -> bool:
    """Whether PyAV can be imported (the ``video`` extra is installed)."""
    try:
        load_av("probe")
    except MissingDependencyError:
        return False
    return True


def load_av(purpose: str) -> ModuleType:
    """The ``av`` module, or ``MissingDependencyError`` naming the ``video`` extra."""
    try:
        return importlib.import_module("av")
    except ImportError as err:
        raise MissingDependencyError(
            f"{purpose} needs PyAV (the 'video' extra): {INSTALL_HINT}.", field="video"
        ) from err


class _BufferReader(io.RawIOBase):
    """A seekable read-only file over a buffer, without copying it (what PyAV's ``open`` needs)."""

    def __init__(self, buf: memoryview) -> None:
        super().__init__()
        self._buf = buf.cast("B") if buf.format != "B" or buf.ndim != 1 else buf
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        out = memoryview(b).cast("B")
        n = max(0, min(len(out), len(self._buf) - self._pos))
        out[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._buf)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def _as_file(data: VideoData) -> str | io.RawIOBase:
    if isinstance(data, str | os.PathLike):
        return os.fspath(data)
    if isinstance(data, np.ndarray):
        return _BufferReader(np.ascontiguousarray(data).reshape(-1).data)
    return _BufferReader(memoryview(data))


def open_video(data: VideoData, *, source: str, purpose: str = "Reading a camera video") -> Any:
    """An opened PyAV input container for ``data``; ``InputError`` naming ``source`` if not."""
    av = load_av(purpose)
    try:
        return av.open(_as_file(data), mode="r")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise InputError(
            f"{source} cannot be read as a video: {_reason(err)}.", source=source, field="content"
        ) from err


def _reason(err: BaseException) -> str:
    """FFmpeg's own words (``Invalid data found when processing input``), without errno noise."""
    text = getattr(err, "strerror", None)
    return str(text) if text else str(err)


@dataclass(frozen=True)
class VideoInfo:
    """What a probe found in the first video stream of a container."""

    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str | None
    frame_count: int
    duration_s: float | None
    bit_rate: int | None
    average_rate: float | None
    first_keyframe: int | None = 0
    """Index (decode order) of the first keyframe packet; no decoder shows the frames before it."""

    def to_dict(self) -> dict[str, object]:
        """JSON view (``sfs-kit inspect --json``)."""
        return {
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "frame_count": self.frame_count,
            "duration_s": self.duration_s,
            "bit_rate": self.bit_rate,
            "average_rate": self.average_rate,
            "first_keyframe": self.first_keyframe,
        }


def _container_name(demuxer: str, data: VideoData) -> str:
    """``mp4`` or ``mov`` (FFmpeg's one demuxer reads both), from the ``ftyp`` major brand."""
    if not demuxer.startswith("mov,mp4"):
        return demuxer
    if isinstance(data, str | os.PathLike):
        with open(data, "rb") as f:
            head = f.read(12)
    elif isinstance(data, np.ndarray):
        head = data.reshape(-1)[:12].tobytes()
    else:
        head = bytes(data[:12])
    return "mov" if head[4:12] == b"ftypqt  " else "mp4"


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe_video(data: VideoData, *, source: str = "video content") -> VideoInfo:
    """Codec, size, pixel format, frame count (packets), duration, bit rate and first keyframe
    of ``data``.

    Raises ``MissingDependencyError`` without PyAV and ``InputError`` (naming ``source``) when the
    bytes are not a readable container with a video stream.
    """
    av = load_av("Checking a camera video")
    container = open_video(data, source=source)
    try:
        streams = container.streams.video
        if not streams:
            raise InputError(f"{source} holds no video stream.", source=source, field="content")
        stream = streams[0]
        if stream.codec_context is None:  # PyAV's <nocodec>: a codec id FFmpeg does not know
            raise InputError(f"{source} has a video stream of an unknown codec.", source=source,
                             field="content")
        frames = 0
        last_end: int | None = None
        first: int | None = None
        first_key: int | None = None
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            if first_key is None and packet.is_keyframe:
                first_key = frames
            frames += 1
            if packet.pts is not None:
                first = packet.pts if first is None else min(first, packet.pts)
                end = packet.pts + (packet.duration or 0)
                last_end = end if last_end is None else max(last_end, end)
        duration = _seconds(stream.duration, stream.time_base)
        if duration is None and first is not None and last_end is not None:
            duration = _seconds(last_end - first, stream.time_base)
        if duration is None and container.duration is not None:
            duration = container.duration / 1e6
        ctx = stream.codec_context
        bit_rate = stream.bit_rate or container.bit_rate or None
        rate = stream.average_rate
        return VideoInfo(
            container=_container_name(str(container.format.name), data),
            codec=str(ctx.name),
            width=int(ctx.width),
            height=int(ctx.height),
            pix_fmt=None if ctx.pix_fmt is None else str(ctx.pix_fmt),
            frame_count=frames,
            duration_s=duration,
            bit_rate=None if bit_rate is None else int(bit_rate),
            average_rate=None if not rate else float(rate),
            first_keyframe=first_key,
        )
    except av.FFmpegError as err:
        raise InputError(
            f"{source} cannot be read as a video: {_reason(err)}.", source=source, field="content"
        ) from err
    finally:
        container.close()
