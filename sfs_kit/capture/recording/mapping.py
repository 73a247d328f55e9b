"""Which topics of a recording become which sensors: the automatic mapping and explicit choices.

Automatic: every ``PointCloud2`` topic is a lidar; an ``Image``/``CompressedImage`` topic is a
camera when a ``CameraInfo`` topic shares its camera namespace
(``/cam/front/image_raw[/compressed]`` and ``/cam/front/camera_info``); when a namespace has
both, the compressed one is used (its bytes pass through). A ``foxglove_msgs/CompressedVideo``
topic (H.264, H.265, VP9 or AV1) with a CameraInfo is a camera too, stored as video. Explicit
topics are checked to exist and to have a usable type. Sensor ids are derived from topic names
(``/sensing/lidar/top/points`` -> ``sensing_lidar_top``): safe as folder names and
unique; the topic itself is kept in the scene metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sfs_kit._paths import check_name
from sfs_kit.capture.recording.bag import TopicInfo
from sfs_kit.capture.recording.options import RecordingOptions
from sfs_kit.errors import InputError

__all__ = [
    "CAMERA_INFO_TYPE",
    "CAMERA_TYPES",
    "IMAGE_TYPES",
    "POINTCLOUD2_TYPE",
    "POSE_TYPES",
    "VIDEO_TYPES",
    "CameraChoice",
    "Mapping",
    "SensorChoice",
    "camera_namespace",
    "choose_mapping",
    "sensor_id_for",
]

POINTCLOUD2_TYPE = "sensor_msgs/msg/PointCloud2"
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
VIDEO_TYPES = ("foxglove_msgs/msg/CompressedVideo",)  # H.264/H.265/VP9/AV1: a camera video
CAMERA_TYPES = IMAGE_TYPES + VIDEO_TYPES
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
POSE_TYPES = (
    "nav_msgs/msg/Odometry",
    "geometry_msgs/msg/PoseStamped",
    "geometry_msgs/msg/PoseWithCovarianceStamped",
)
TF_TYPE = "tf2_msgs/msg/TFMessage"
_IMAGE_TAILS = frozenset(
    {
        "image_raw",
        "image_color",
        "image_rect",
        "image_rect_color",
        "image_mono",
        "image",
        "compressed",
        "compressed_video",
        "video",
        "h264",
        "raw",
        "camera_info",
    }
)
_LIDAR_TAILS = frozenset(
    {"points", "points_raw", "pointcloud", "point_cloud", "cloud", "pointcloud2", "raw"}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SensorChoice:
    """A lidar topic, its sensor id and why it was chosen."""

    topic: str
    sensor_id: str
    reason: str


@dataclass(frozen=True)
class CameraChoice:
    """A camera: image topic, CameraInfo topic, sensor id, why."""

    topic: str
    info_topic: str
    sensor_id: str
    reason: str


@dataclass
class Mapping:
    """The sensors of the capture and the topics left out (with why)."""

    lidars: list[SensorChoice]
    cameras: list[CameraChoice]
    pose_topic: str | None
    skipped: dict[str, str] = field(default_factory=dict)


def camera_namespace(topic: str) -> str:
    """``/cam/front/image_raw/compressed`` and ``/cam/front/camera_info`` -> ``/cam/front``."""
    parts = topic.strip("/").split("/")
    while len(parts) > 1 and parts[-1] in _IMAGE_TAILS:
        parts.pop()
    return "/" + "/".join(parts)


def sensor_id_for(topic: str, tails: frozenset[str], taken: set[str]) -> str:
    """A readable id from the topic (``[A-Za-z0-9_-]``, at most 64 characters), unique in taken.

    Always a safe name by the project's id rule (``_paths.check_name``): it becomes a folder.
    """
    parts = [p for p in topic.strip("/").split("/") if p]
    while len(parts) > 1 and parts[-1] in tails:
        parts.pop()
    base = _UNSAFE.sub("_", "_".join(parts)).strip("_-")[:64] or "sensor"
    if not base[0].isalnum():
        base = "s" + base[:63]
    sensor_id, n = base, 2
    while sensor_id in taken:
        sensor_id, n = f"{base[:60]}_{n}", n + 1
    taken.add(sensor_id)
    return check_name(sensor_id, what="sensor id", source=topic)


def _require(
    topics: dict[str, TopicInfo], topic: str, types: tuple[str, ...], role: str, source: str
) -> TopicInfo:
    info = topics.get(topic)
    if info is None:
        raise InputError(
            f"Recording {source!r} has no topic {topic!r} (asked for as {role}); its topics are "
            f"{sorted(topics)}.",
            source=source,
            field=topic,
        )
    if info.msgtype not in types:
        raise InputError(
            f"Recording {source!r}: topic {topic!r} has message type {info.msgtype!r}; a {role} "
            f"topic must be {' or '.join(types)}.",
            source=source,
            field=topic,
        )
    return info


def choose_mapping(topics: dict[str, TopicInfo], options: RecordingOptions, source: str) -> Mapping:
    """The lidars, cameras and pose topic, explicit where given, automatic otherwise."""
    taken: set[str] = set()
    skipped: dict[str, str] = {}
    if options.lidar_topics:
        lidar_topics = list(options.lidar_topics)
        for t in lidar_topics:
            _require(topics, t, (POINTCLOUD2_TYPE,), "lidar", source)
        reason = "given"
    else:
        lidar_topics = [t for t, i in topics.items() if i.msgtype == POINTCLOUD2_TYPE]
        reason = "PointCloud2"
    lidars = [SensorChoice(t, sensor_id_for(t, _LIDAR_TAILS, taken), reason) for t in lidar_topics]
    infos = {camera_namespace(t): t for t, i in topics.items() if i.msgtype == CAMERA_INFO_TYPE}
    cameras: list[CameraChoice] = []
    if options.cameras:
        for cam in options.cameras:
            _require(topics, cam.image, CAMERA_TYPES, "camera", source)
            info_topic = cam.info or infos.get(camera_namespace(cam.image))
            if info_topic is None:
                raise InputError(
                    f"Recording {source!r}: camera topic {cam.image!r} has no CameraInfo (no "
                    f"{camera_namespace(cam.image)}/camera_info topic); give its info topic "
                    f"(--camera-topic IMAGE=INFO).",
                    source=source,
                    field=cam.image,
                )
            _require(topics, info_topic, (CAMERA_INFO_TYPE,), "camera_info", source)
            cameras.append(
                CameraChoice(
                    cam.image, info_topic, sensor_id_for(cam.image, _IMAGE_TAILS, taken), "given"
                )
            )
    else:
        by_ns: dict[str, list[str]] = {}
        for t, i in topics.items():
            if i.msgtype in CAMERA_TYPES:
                by_ns.setdefault(camera_namespace(t), []).append(t)
        for ns, image_topics in sorted(by_ns.items()):
            compressed = [t for t in image_topics if topics[t].msgtype.endswith("CompressedImage")]
            videos = [t for t in image_topics if topics[t].msgtype in VIDEO_TYPES]
            pick = (compressed or videos or image_topics)[0]
            for t in image_topics:
                if t != pick:
                    skipped[t] = f"another image topic of camera namespace {ns} is used ({pick})"
            if ns not in infos:
                skipped[pick] = f"no CameraInfo topic in namespace {ns}"
                continue
            cameras.append(
                CameraChoice(
                    pick,
                    infos[ns],
                    sensor_id_for(pick, _IMAGE_TAILS, taken),
                    f"{topics[pick].msgtype.rsplit('/', 1)[-1]} with CameraInfo {infos[ns]}",
                )
            )
    if not lidars:
        raise InputError(
            f"Recording {source!r} has no PointCloud2 topic; a scene needs at least one lidar "
            f"(topics: {sorted(topics)}).",
            source=source,
            field="lidar_topics",
        )
    if options.pose_topic is not None:
        _require(topics, options.pose_topic, POSE_TYPES, "pose", source)
    used = {*lidar_topics, *(c.topic for c in cameras), *(c.info_topic for c in cameras)}
    for t, i in topics.items():
        if t not in used and t not in skipped and t != options.pose_topic and i.msgtype != TF_TYPE:
            skipped[t] = f"{i.msgtype} is not a sensor the scene uses"
    return Mapping(lidars=lidars, cameras=cameras, pose_topic=options.pose_topic, skipped=skipped)
