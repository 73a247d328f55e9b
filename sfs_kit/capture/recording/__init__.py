"""ROS recordings (ROS 1 ``.bag``, ROS 2 bag folders, ``.mcap``) as captures, via ``rosbags``.

``open_recording(path, options)`` returns a ``Capture`` for the one streaming converter;
``inspect_recording`` reports topics, the TF tree and the mapping it would use. ``rosbags`` (the
``ros`` extra) is imported only when a recording is opened.
"""

from __future__ import annotations

from sfs_kit.capture.recording.bag import recording_kind
from sfs_kit.capture.recording.capture import open_recording
from sfs_kit.capture.recording.options import CameraTopics, RecordingManifest, RecordingOptions

__all__ = [
    "CameraTopics",
    "RecordingManifest",
    "RecordingOptions",
    "open_recording",
    "recording_kind",
]
