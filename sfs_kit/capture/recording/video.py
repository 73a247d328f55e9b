"""A recording's ``foxglove_msgs/CompressedVideo`` topic as a camera video (no re-encoding).

Each message carries one picture in ``data``: an H.264 or H.265 access unit (Annex B), a VP9
frame or an AV1 temporal unit, as ``format`` (``h264``, ``h265``, ``vp9``, ``av1``) says. When the
camera is converted, the messages of the topic, in log order, are written to one container file
without re-encoding (``sfs_kit.codecs.video.write_stream``): an H.264 stream is then stored as it
was recorded, the others are re-encoded to H.264 (D8), one timestamp per message either way. A
recording that starts between keyframes loses its first pictures up to the first keyframe (no
decoder can show them), with their timestamps. ROS 1
bags are refused: there the message has no ``std_msgs/Header`` layout to read its stamp from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sfs_kit.capture.base import VideoFileSource
from sfs_kit.capture.recording.bag import Bag
from sfs_kit.errors import InputError

__all__ = ["video_source"]


def video_source(
    bag: Bag, topic: str, log_ns: list[int], timestamps_us: list[int]
) -> VideoFileSource:
    """The camera video of ``topic``: the messages logged at ``log_ns`` (scanned, in order)."""
    # the video codec (and its thread pool) loads only for a recording with a video topic
    from sfs_kit.codecs.video import STREAM_FORMATS, fps_from_timestamps, write_stream

    where = f"{bag.name}:{topic}"
    if not bag.cdr:
        raise InputError(
            f"{where}: foxglove_msgs/CompressedVideo is read from ROS 2 and MCAP recordings only "
            "(in a ROS 1 bag it has no header stamp to read).",
            source=bag.name,
            field=topic,
        )
    if len(set(timestamps_us)) != len(timestamps_us):
        raise InputError(
            f"{where}: two video frames have the same timestamp (µs); a video needs one time per "
            "frame.",
            source=bag.name,
            field=topic,
        )

    def messages() -> Iterator[tuple[str, int, bytes]]:
        wanted = set(log_ns)
        for _, msgtype, t, raw in bag.messages([topic], start_ns=log_ns[0], stop_ns=log_ns[-1] + 1):
            if t in wanted:
                msg = bag.deserialize(raw, msgtype, where=f"{where} at {t} ns")
                yield str(msg.format).strip().lower(), t, bytes(msg.data)

    def write(dest: Path) -> int:
        stream = messages()
        head = next(stream, None)
        if head is None:
            raise InputError(
                f"{where}: the video topic has no messages left to read.",
                source=bag.name,
                field=topic,
            )
        fmt, t, first = head
        if fmt not in STREAM_FORMATS:
            raise InputError(
                f"{where} at {t} ns: the video format is {fmt!r}; a CompressedVideo topic is one "
                f"of {', '.join(STREAM_FORMATS)}.",
                source=bag.name,
                field="format",
            )

        def units() -> Iterator[bytes]:
            yield first
            for other, t, data in stream:
                if other != fmt:
                    raise InputError(
                        f"{where} at {t} ns: the video format changes from {fmt!r} to "
                        f"{other!r}; a camera video is one stream.",
                        source=bag.name,
                        field="format",
                    )
                yield data

        fps = fps_from_timestamps(timestamps_us)
        return write_stream(units(), dest, fmt=fmt, fps=fps, source=where).dropped

    return VideoFileSource(path=None, timestamps_us=tuple(timestamps_us), source=where, write=write)
