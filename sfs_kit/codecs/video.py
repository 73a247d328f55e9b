"""Camera video: encode images one at a time to an H.264 MP4 file (D8), probe it, decode frame i.

PyAV (the optional ``video`` extra, FFmpeg in its wheel; no binary on the PATH) is imported on
first use. ``Mp4Encoder`` holds one decoded frame at a time (two with ``add_images``, which
decodes the next JPEG on a worker thread while x264 encodes; plus x264's bounded lookahead), so
memory stays flat however long the camera's sequence is; the MP4 goes to a file that the .sfs
writer copies in (``SfsAppendWriter.add_file``). Settings are Scale's own (spec 2.6, D8): libx264,
yuv420p, a keyframe every 2 frames with scene-cut detection off, crf 24, preset fast; only the
frame rate comes from the data. Pixels are stored in limited ("TV") range with BT.601 matrix,
both tagged in the stream, which is what FFmpeg's own JPEG -> yuv420p conversion produces (so
Scale's ffmpeg-based reader, OpenCV and browsers agree on the colours).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from sfs_kit.codecs._sfs_read import SfsIndex
from sfs_kit.errors import InputError
from sfs_kit.models._imagesize import JPEG_MAGIC, PNG_MAGIC
from sfs_kit.models._video import (
    VideoData,
    VideoInfo,
    have_av,
    load_av,
    open_video,
    probe_video,
)

__all__ = [
    "D8_SETTINGS",
    "STREAM_FORMATS",
    "Mp4Encoder",
    "StreamWritten",
    "VideoInfo",
    "VideoSettings",
    "decode_frame",
    "even_size",
    "fps_from_timestamps",
    "have_av",
    "iter_frames",
    "probe_sfs_videos",
    "probe_video",
    "write_stream",
]

_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG (= swscale's ColorRange.MPEG): limited (16-235) range
_AVCOL_SPC_SMPTE170M = 6  # the stream's tag for the BT.601 matrix JPEG uses
_SWS_CS_ITU601 = 5  # the same matrix, as swscale numbers it
_PICT_TYPE_NONE = 0  # AV_PICTURE_TYPE_NONE: let the encoder choose the frame type
_DEFAULT_FPS = 10.0  # Scale's encoder default, for a one-frame camera


@dataclass(frozen=True)
class VideoSettings:
    """x264 settings; the defaults are Scale's (D8). ``threads`` 0 lets x264 choose."""

    crf: int = 24
    preset: str = "fast"
    keyint: int = 2
    threads: int = 0

    def options(self) -> dict[str, str]:
        """The libx264 private options, as Scale's ``ffmpeg`` command line passes them."""
        return {
            "crf": str(self.crf),
            "preset": self.preset,
            "x264-params": f"keyint={self.keyint}:scenecut=0",
        }


D8_SETTINGS = VideoSettings()


def even_size(width: int, height: int) -> tuple[int, int]:
    """The video size for pictures of ``width`` x ``height``: H.264 in 4:2:0 needs even sides,
    so an odd side loses its last column or row (1242x375 KITTI images -> 1242x374)."""
    return width - width % 2, height - height % 2


def fps_from_timestamps(timestamps_us: npt.ArrayLike) -> float:
    """The frame rate the data implies: 1e6 / median interval (10 Hz for a single frame)."""
    stamps = np.asarray(timestamps_us, dtype=np.float64)
    if stamps.size < 2:
        return _DEFAULT_FPS
    median = float(np.median(np.diff(stamps)))
    return 1e6 / median if median > 0 else _DEFAULT_FPS


def _rate(fps: float) -> Fraction:
    """A rational frame rate for the stream: 10 -> 10/1, 29.97 -> 2997/100 (denominator <= 1001)."""
    return Fraction(fps).limit_denominator(1001)


class Mp4Encoder:
    """Write an H.264 MP4 to ``path`` from frames given one at a time.

    ``add_image(jpeg_or_png_bytes)`` decodes one image with FFmpeg's own decoders and encodes it;
    ``add_frame(frame)`` takes an ``av.VideoFrame`` (re-encoding another video) or an RGB uint8
    array (H, W, 3). Every picture must be ``width`` x ``height``; an odd side is cropped by its
    last column or row (``even_size``; the video is ``video_size``), so the pixels that remain
    keep their coordinates and the intrinsics need only the new size. ``close()`` flushes the
    encoder and finishes the file (returns the frame count); leaving a ``with`` block on an
    exception removes the partial file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        fps: float,
        settings: VideoSettings = D8_SETTINGS,
        source: str = "camera video",
    ) -> None:
        self._av = load_av("Encoding cameras as video")
        if width < 2 or height < 2:
            raise InputError(
                f"{source}: a video needs pictures of at least 2x2 pixels, not {width}x{height}.",
                source=source,
                field="width" if width < 2 else "height",
            )
        if not (np.isfinite(fps) and fps > 0):
            raise InputError(
                f"{source}: fps must be > 0, found {fps!r}.", source=source, field="fps"
            )
        self.path = Path(path)
        self.width, self.height, self.source = width, height, source
        self.video_size = even_size(width, height)
        self.frames = 0
        self._decoders: dict[str, Any] = {}
        self._out = self._av.open(os.fspath(self.path), mode="w", format="mp4")
        stream = self._out.add_stream("libx264", rate=_rate(fps))
        stream.width, stream.height = self.video_size
        stream.pix_fmt = "yuv420p"
        stream.thread_count = settings.threads
        stream.options = settings.options()
        ctx = stream.codec_context
        ctx.color_range = _MPEG_RANGE
        ctx.colorspace = _AVCOL_SPC_SMPTE170M
        self._stream = stream
        self._time_base = 1 / _rate(fps)
        self._open = True

    def __enter__(self) -> Mp4Encoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _decoder(self, codec: str) -> Any:
        if codec not in self._decoders:
            self._decoders[codec] = self._av.CodecContext.create(codec, "r")
        return self._decoders[codec]

    def add_image(self, data: bytes | memoryview, *, source: str | None = None) -> None:
        """Decode one JPEG or PNG file's bytes and encode it as the next frame."""
        name = source or f"{self.source} image {self.frames}"
        self._encode(self._picture(self._decode_image(data, name), name))

    def add_images(
        self,
        images: Iterable[tuple[bytes | memoryview, str]],
        *,
        on_frame: Callable[[], None] | None = None,
    ) -> None:
        """Encode ``(bytes, source)`` images in order, as ``add_image`` does, while the next one
        is read and decoded on a worker thread (FFmpeg runs without the GIL): the JPEG decoding
        overlaps x264's encoding, and at most two pictures are decoded at a time. ``images`` is
        iterated on that thread; ``on_frame`` is called (here) after each frame is encoded."""
        items = iter(images)

        def prepare() -> Any:
            item = next(items, None)
            if item is None:
                return None
            data, name = item
            return self._picture(self._decode_image(data, name), name)

        with ThreadPoolExecutor(1, thread_name_prefix="sfs_kit-decode") as pool:
            pending = pool.submit(prepare)
            while (picture := pending.result()) is not None:
                pending = pool.submit(prepare)
                self._encode(picture)
                if on_frame is not None:
                    on_frame()

    def add_frame(self, frame: Any, *, source: str | None = None) -> None:
        """Encode one ``av.VideoFrame`` or RGB uint8 array (H, W, 3) as the next frame."""
        self._encode(self._picture(frame, source or f"{self.source} frame {self.frames}"))

    def _decode_image(self, data: bytes | memoryview, name: str) -> Any:
        """One JPEG or PNG file's bytes as a decoded ``av.VideoFrame`` (FFmpeg's decoders)."""
        head = bytes(data[:8])
        if head.startswith(JPEG_MAGIC):
            codec = "mjpeg"
        elif head.startswith(PNG_MAGIC):
            codec = "png"
        else:
            raise InputError(
                f"{name}: is neither a JPEG nor a PNG file.", source=name, field="content"
            )
        try:
            decoded = self._decoder(codec).decode(self._av.Packet(bytes(data)))
        except self._av.FFmpegError as err:
            raise InputError(f"{name}: cannot decode the image: {err}.", source=name) from err
        if len(decoded) != 1:
            raise InputError(
                f"{name}: the image decoded to {len(decoded)} pictures, expected 1.", source=name
            )
        return decoded[0]

    def _picture(self, frame: Any, name: str) -> Any:
        """``frame`` (a VideoFrame or RGB array) checked against the camera's size, cropped to
        the video size and converted to the stream's yuv420p (limited range, BT.601)."""
        if isinstance(frame, np.ndarray):
            frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        if (frame.width, frame.height) != (self.width, self.height):
            raise InputError(
                f"{name}: the picture is {frame.width}x{frame.height} but the camera is "
                f"{self.width}x{self.height} (intrinsics).",
                source=name,
                field="width" if frame.width != self.width else "height",
            )
        if self.video_size != (self.width, self.height):
            rgb = frame.to_ndarray(format="rgb24")[: self.video_size[1], : self.video_size[0]]
            frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        return frame.reformat(
            format="yuv420p", dst_colorspace=_SWS_CS_ITU601, dst_color_range=_MPEG_RANGE
        )

    def _encode(self, picture: Any) -> None:
        picture.pts = self.frames  # frame k at k / fps: a decoded frame's own clock is dropped
        picture.time_base = self._time_base
        # a decoded JPEG is an I picture, and libx264 honours a frame's type as a forced
        # keyframe: clear it so the GOP is x264's (keyint 2), not all-intra
        picture.pict_type = _PICT_TYPE_NONE
        self._mux(picture)
        self.frames += 1

    def _mux(self, picture: Any) -> None:
        try:
            for packet in self._stream.encode(picture):
                self._out.mux(packet)
        except self._av.FFmpegError as err:
            raise InputError(
                f"{self.source}: the H.264 encoder failed at frame {self.frames}: {err}.",
                source=self.source,
            ) from err

    def close(self) -> int:
        """Flush the encoder and finish the MP4; returns the number of frames written."""
        if self._open:
            self._open = False
            try:
                self._mux(None)
            finally:
                self._out.close()
        return self.frames

    def abort(self) -> None:
        """Stop and remove the partial file (safe to call twice)."""
        if self._open:
            self._open = False
            with contextlib.suppress(Exception):  # the file is removed either way
                self._out.close()
        self.path.unlink(missing_ok=True)


def _frames(container: Any) -> Iterator[Any]:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    yield from container.decode(stream)


def iter_frames(data: VideoData, *, source: str = "video content") -> Iterator[Any]:
    """Every frame of the first video stream, in presentation order, as ``av.VideoFrame``."""
    av = load_av("Decoding a camera video")
    container = open_video(data, source=source)
    try:
        if not container.streams.video:
            raise InputError(f"{source} holds no video stream.", source=source, field="content")
        yield from _frames(container)
    except av.FFmpegError as err:
        raise InputError(f"{source}: decoding failed: {err}.", source=source) from err
    finally:
        container.close()


def decode_frame(
    data: VideoData, index: int, *, max_width: int | None = None, source: str = "video content"
) -> npt.NDArray[np.uint8]:
    """Frame ``index`` (0-based, presentation order) as RGB uint8 (H, W, 3).

    Seeks to the nearest keyframe before it (every second frame in a D8 video), so reading one
    frame of a long video decodes at most a GOP, not the whole stream. A frame wider than
    ``2 * max_width`` is scaled down by a power of two (1/2..1/8), as preview draws JPEGs.
    """
    av = load_av("Decoding a camera video")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InputError(
            f"{source}: frame index must be an int >= 0, not {index!r}.",
            source=source,
            field="index",
        )
    container = open_video(data, source=source)
    try:
        if not container.streams.video:
            raise InputError(f"{source} holds no video stream.", source=source, field="content")
        stream = container.streams.video[0]
        stamps = sorted(p.pts for p in container.demux(stream) if p.size and p.pts is not None)
        if index >= len(stamps):
            raise InputError(
                f"{source}: frame {index} asked for, but the video has {len(stamps)} frames.",
                source=source,
                field="index",
            )
        target = stamps[index]
        container.seek(target, backward=True, any_frame=False, stream=stream)
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts >= target:
                scale = 1
                if max_width is not None and frame.width > 2 * max_width:
                    scale = min(8, 1 << max(0, (frame.width // max_width).bit_length() - 1))
                out: npt.NDArray[np.uint8] = frame.to_ndarray(
                    format="rgb24", width=frame.width // scale, height=frame.height // scale
                )
                return out
        raise InputError(f"{source}: frame {index} could not be decoded.", source=source)
    except av.FFmpegError as err:
        raise InputError(f"{source}: decoding frame {index} failed: {err}.", source=source) from err
    finally:
        container.close()


def probe_sfs_videos(
    path: str | os.PathLike[str], index: SfsIndex
) -> dict[int, VideoInfo | InputError]:
    """Probe each camera video of an indexed .sfs file: sensor index -> ``VideoInfo`` (or the
    ``InputError`` saying why it cannot be read). Maps only the video items' bytes."""
    out: dict[int, VideoInfo | InputError] = {}
    for item in index.items:
        keys = item.keys
        if (
            len(keys) == 4
            and keys[0] == "sensors"
            and isinstance(keys[1], int)
            and tuple(keys[2:]) == ("video", "content")
            and item.length > 0
        ):
            data = np.memmap(
                path,
                dtype=np.uint8,
                mode="r",
                offset=index.header_length + item.offset,
                shape=(item.length,),
            )
            try:
                out[keys[1]] = probe_video(data, source=f"sensors[{keys[1]}].video")
            except InputError as err:
                out[keys[1]] = err
            finally:
                del data
    return out


STREAM_FORMATS = ("h264", "h265", "vp9", "av1")
"""The picture formats of a ``foxglove_msgs/CompressedVideo`` message, as its ``format`` says."""

_ANNEX_B_DEMUXERS = {"h264": "h264", "h265": "hevc"}
_IVF_FOURCCS = {"vp9": b"VP90", "av1": b"AV01"}


@dataclass(frozen=True)
class StreamWritten:
    """What ``write_stream`` stored: ``frames`` pictures, after leaving out the ``dropped``
    leading ones that came before the stream's first keyframe (no decoder can show those)."""

    frames: int
    dropped: int


def write_stream(
    units: Iterable[bytes],
    dest: str | os.PathLike[str],
    *,
    fmt: str,
    fps: float,
    source: str,
) -> StreamWritten:
    """Store compressed pictures, one per unit as a ROS ``CompressedVideo`` carries them, as a
    container file at ``dest`` without re-encoding (frame k at k / fps).

    ``h264`` and ``h265`` units (Annex B access units) are muxed into an MP4; ``vp9`` frames and
    ``av1`` temporal units (low-overhead OBUs) go into an IVF file. A recording that starts
    between keyframes begins with pictures that reference frames it does not hold: they are left
    out (``dropped``), so every stored frame decodes and frame k is unit ``dropped + k``. The
    converter then passes an H.264 MP4 through and re-encodes the others (D8). Empty units are
    skipped. The raw stream goes through a temporary file beside ``dest``.
    """
    if fmt not in _ANNEX_B_DEMUXERS and fmt not in _IVF_FOURCCS:
        raise InputError(
            f"{source}: the video format is {fmt!r}; a CompressedVideo stream is one of "
            f"{', '.join(STREAM_FORMATS)}.",
            source=source,
            field="format",
        )
    av = load_av("Reading a camera video stream")
    dest = Path(dest)
    raw = dest.with_name(dest.name + ".es")
    try:
        with raw.open("wb") as f:
            if fmt in _IVF_FOURCCS:
                _write_ivf(f, (u for u in units if u), fourcc=_IVF_FOURCCS[fmt], fps=fps)
            else:
                for unit in units:
                    f.write(unit)
        if fmt in _IVF_FOURCCS:
            return _drop_to_keyframe_ivf(
                av, raw, dest, fourcc=_IVF_FOURCCS[fmt], fps=fps, source=source
            )
        return _mux_annex_b(av, raw, dest, demuxer=_ANNEX_B_DEMUXERS[fmt], fps=fps, source=source)
    except BaseException as err:
        dest.unlink(missing_ok=True)
        if isinstance(err, av.FFmpegError):
            raise InputError(
                f"{source}: the {fmt.upper()} stream cannot be read: {err}.", source=source
            ) from err
        if isinstance(err, OSError):
            raise InputError(
                f"{source}: cannot write {dest}: {err.strerror}.", source=source
            ) from err
        raise
    finally:
        raw.unlink(missing_ok=True)


def _no_keyframe(source: str) -> InputError:
    return InputError(
        f"{source}: the video stream holds no keyframe, so none of its pictures can be decoded.",
        source=source,
        field="data",
    )


def _write_ivf(f: BinaryIO, frames: Iterable[bytes], *, fourcc: bytes, fps: float) -> int:
    """IVF (a 32-byte file header, then a 12-byte size + pts header per frame): the container
    FFmpeg reads VP9 and AV1 frames from as they are; the frame count is patched in at the end."""
    rate = _rate(fps)
    header = struct.pack("<HH4sHHIII4x", 0, 32, fourcc, 0, 0, rate.numerator, rate.denominator, 0)
    f.write(b"DKIF" + header)
    count = 0
    for frame in frames:
        f.write(struct.pack("<IQ", len(frame), count))
        f.write(frame)
        count += 1
    f.seek(24)
    f.write(struct.pack("<I", count))
    return count


def _ivf_frames(f: BinaryIO) -> Iterator[bytes]:
    """The frames of an IVF file ``_write_ivf`` wrote."""
    f.seek(32)
    while head := f.read(12):
        (size,) = struct.unpack("<I", head[:4])
        yield f.read(size)


def _drop_to_keyframe_ivf(
    av: Any, raw: Path, dest: Path, *, fourcc: bytes, fps: float, source: str
) -> StreamWritten:
    """Copy the IVF at ``raw`` to ``dest`` from its first keyframe on (FFmpeg's parser says
    which frames are keyframes)."""
    with av.open(str(raw), mode="r", format="ivf") as inp:
        keys = [p.is_keyframe for p in inp.demux(inp.streams.video[0]) if p.size]
    if True not in keys:
        raise _no_keyframe(source)
    first = keys.index(True)
    with raw.open("rb") as src, dest.open("wb") as out:
        frames = _ivf_frames(src)
        for _ in range(first):
            next(frames)
        count = _write_ivf(out, frames, fourcc=fourcc, fps=fps)
    return StreamWritten(frames=count, dropped=first)


def _mux_annex_b(
    av: Any, raw: Path, dest: Path, *, demuxer: str, fps: float, source: str
) -> StreamWritten:
    """An Annex B elementary stream (H.264 or H.265) at ``raw`` into an MP4 at ``dest``, from
    its first keyframe on."""
    time_base = 1 / _rate(fps)
    count = dropped = 0
    with av.open(str(raw), mode="r", format=demuxer) as inp:
        if not inp.streams.video:
            raise _no_keyframe(source)
        ist = inp.streams.video[0]
        with av.open(os.fspath(dest), mode="w", format="mp4") as out:
            ost = out.add_stream_from_template(ist)
            ost.time_base = time_base
            for packet in inp.demux(ist):
                if not packet.size:
                    continue
                if count == 0 and not packet.is_keyframe:
                    dropped += 1
                    continue
                packet.stream = ost
                packet.time_base = time_base
                packet.pts = packet.dts = count
                packet.duration = 1
                out.mux(packet)
                count += 1
    if count == 0:
        raise _no_keyframe(source)
    return StreamWritten(frames=count, dropped=dropped)
