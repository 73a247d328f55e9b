"""A recording's ``foxglove_msgs/CompressedVideo`` topic as a camera video (no re-encoding).

Each message carries one H.264 access unit (Annex B) in ``data``, ``format`` ``"h264"``; the
messages of the topic, in log order, are put into an MP4 when the camera is converted
(``sfs_kit.codecs.video.mux_h264``), so the scene stores the recorded stream as it is, one
timestamp per message. Other formats (h265, vp9, av1) are refused by name. ROS 1 bags are refused
too: there the message has no ``std_msgs/Header`` layout to read its stamp from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sfs_kit.capture.base import VideoFileSource
from sfs_kit.capture.recording.bag import Bag
from sfs_kit.codecs.video import fps_from_timestamps, mux_h264
from sfs_kit.errors import InputError

__all__ = ["video_source"]


def video_source(
    bag: Bag, topic: str, log_ns: list[int], timestamps_us: list[int]
) -> VideoFileSource:
    """The camera video of ``topic``: the messages logged at ``log_ns`` (scanned, in order)."""
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

    def units() -> Iterator[bytes]:
        wanted = set(log_ns)
        for _, msgtype, t, raw in bag.messages([topic], start_ns=log_ns[0], stop_ns=log_ns[-1] + 1):
            if t not in wanted:
                continue
            msg = bag.deserialize(raw, msgtype, where=f"{where} at {t} ns")
            fmt = str(msg.format).lower()
            if fmt != "h264":
                raise InputError(
                    f"{where} at {t} ns: the video format is {msg.format!r}; only 'h264' "
                    "CompressedVideo topics can be stored (re-encode the recording).",
                    source=bag.name,
                    field="format",
                )
            yield bytes(msg.data)

    def write(dest: Path) -> int:
        return mux_h264(units(), dest, fps=fps_from_timestamps(timestamps_us), source=where)

    return VideoFileSource(path=None, timestamps_us=tuple(timestamps_us), source=where, write=write)
