"""The ROS recording flags of ``inspect``, ``convert`` and ``run`` -> ``RecordingOptions``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sfs_kit.errors import InputError

if TYPE_CHECKING:
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = ["add_recording_arguments", "recording_options"]


def add_recording_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the recording flags (all optional: without them the mapping is automatic)."""
    group = parser.add_argument_group(
        "ROS recordings (.bag, .mcap, ROS 2 bag folder; default: automatic mapping)"
    )
    group.add_argument(
        "--lidar-topic",
        action="append",
        dest="lidar_topics",
        metavar="TOPIC",
        help="a PointCloud2 topic to use as a lidar (repeatable; first = frames)",
    )
    group.add_argument(
        "--camera-topic",
        action="append",
        dest="camera_topics",
        metavar="IMAGE[=INFO]",
        help="an Image/CompressedImage topic, optionally =its CameraInfo topic (repeatable)",
    )
    group.add_argument(
        "--world-frame",
        metavar="FRAME",
        help="TF world frame (default: the first of map, odom in TF)",
    )
    group.add_argument("--ego-frame", metavar="FRAME", help="TF ego frame (default base_link)")
    group.add_argument(
        "--pose-topic",
        metavar="TOPIC",
        help="ego poses from a nav_msgs/Odometry or PoseStamped topic, not TF",
    )
    group.add_argument(
        "--time-source",
        choices=("header", "log"),
        help="message time: header.stamp (default) or the recording's log time",
    )
    group.add_argument(
        "--start", type=float, dest="start_s", metavar="S", help="seconds from the recording start"
    )
    group.add_argument(
        "--end", type=float, dest="end_s", metavar="S", help="seconds from the recording start"
    )
    group.add_argument("--every", type=int, metavar="N", help="keep every N-th lidar sweep")
    group.add_argument(
        "--image-tolerance-ms",
        type=float,
        metavar="MS",
        help="largest frame-image gap (default half the sweep period)",
    )
    group.add_argument(
        "--intensity-max",
        action="append",
        dest="intensity_max",
        metavar="TOPIC=VALUE",
        help="raw intensity that becomes 255 for a lidar topic (repeatable)",
    )
    group.add_argument(
        "--sweep-stamp",
        action="append",
        dest="sweep_stamp",
        metavar="TOPIC=start|end",
        help="where a lidar topic's stamp lies in its sweep (default start; ROS 1 velodyne: end)",
    )


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise InputError(f"{flag} expects NAME=VALUE, got {text!r}.", field=flag)
    return name, value


def recording_options(args: argparse.Namespace) -> RecordingOptions | None:
    """The options the flags give, or ``None`` when no recording flag was used."""
    from pydantic import ValidationError

    from sfs_kit.capture.recording.options import RecordingOptions

    given: dict[str, Any] = {}
    for name in (
        "world_frame",
        "ego_frame",
        "pose_topic",
        "time_source",
        "start_s",
        "end_s",
        "every",
        "image_tolerance_ms",
    ):
        value = getattr(args, name, None)
        if value is not None:
            given[name] = value
    if getattr(args, "lidar_topics", None):
        given["lidar_topics"] = tuple(args.lidar_topics)
    if getattr(args, "camera_topics", None):
        cams = []
        for text in args.camera_topics:
            image, _, info = text.partition("=")
            cams.append({"image": image, "info": info or None})
        given["cameras"] = cams
    if getattr(args, "intensity_max", None):
        pairs = [_pair(t, "--intensity-max") for t in args.intensity_max]
        try:
            given["intensity_max"] = {name: float(value) for name, value in pairs}
        except ValueError as err:
            raise InputError(f"--intensity-max: {err}.", field="--intensity-max") from err
    if getattr(args, "sweep_stamp", None):
        given["sweep_stamp"] = dict(_pair(t, "--sweep-stamp") for t in args.sweep_stamp)
    if not given:
        return None
    try:
        return RecordingOptions.model_validate(given)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"Recording option {where!r}: {first['msg']}.", field=where) from err
