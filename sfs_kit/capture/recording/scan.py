"""One pass over a recording's chosen topics: TF, CameraInfo, poses and each sensor's times.

Big messages (clouds, images) are not deserialised here: their ``header.stamp`` and
``frame_id`` are read from the first bytes (``bag.header_of``), so memory holds a few integers per
message, never a message. Small ones (``/tf``, ``/tf_static``, CameraInfo, odometry) are decoded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sfs_kit.capture.recording.bag import Bag, header_of
from sfs_kit.capture.recording.mapping import TF_TYPE
from sfs_kit.capture.recording.tf import TfBuffer

__all__ = ["PoseSample", "RecordingScan", "SensorTimes", "TopicTimes", "scan_recording"]

TF_TOPICS = ("/tf", "/tf_static")


@dataclass
class SensorTimes:
    """Log and header times (ns) of every message of a sensor topic, and its first frame_id."""

    topic: str
    msgtype: str
    log_ns: list[int] = field(default_factory=list)
    stamp_ns: list[int] = field(default_factory=list)
    frame_id: str | None = None


@dataclass(frozen=True)
class PoseSample:
    """One pose message: time (ns), parent and child frames, translation, quaternion xyzw."""

    stamp_ns: int
    log_ns: int
    frame_id: str
    child_frame_id: str | None
    translation: tuple[float, float, float]
    quat_xyzw: tuple[float, float, float, float]


@dataclass
class TopicTimes:
    """First and last log time and count of one topic (for inspect)."""

    count: int = 0
    first_ns: int = 0
    last_ns: int = 0


@dataclass
class RecordingScan:
    """What the pass found."""

    tf: TfBuffer
    sensors: dict[str, SensorTimes]
    camera_info: dict[str, tuple[int, Any]]
    poses: list[PoseSample]
    times: dict[str, TopicTimes]


def _add_tf(tf: TfBuffer, msg: Any, *, static: bool, topic: str) -> None:
    for ts in msg.transforms:
        t, r = ts.transform.translation, ts.transform.rotation
        stamp = int(ts.header.stamp.sec) * 1_000_000_000 + int(ts.header.stamp.nanosec)
        tf.add(
            ts.header.frame_id,
            ts.child_frame_id,
            stamp,
            (float(t.x), float(t.y), float(t.z)),
            (float(r.x), float(r.y), float(r.z), float(r.w)),
            static=static,
            topic=topic,
        )


def _pose(msg: Any, msgtype: str, log_ns: int) -> PoseSample:
    stamped = msgtype.endswith(("Odometry", "PoseWithCovarianceStamped"))
    pose = msg.pose.pose if stamped else msg.pose
    p, q = pose.position, pose.orientation
    stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
    child = getattr(msg, "child_frame_id", None)
    return PoseSample(
        stamp,
        log_ns,
        str(msg.header.frame_id).lstrip("/"),
        str(child).lstrip("/") if child else None,
        (float(p.x), float(p.y), float(p.z)),
        (float(q.x), float(q.y), float(q.z), float(q.w)),
    )


def scan_recording(
    bag: Bag,
    *,
    sensor_topics: Iterable[str],
    info_topics: Iterable[str],
    pose_topic: str | None,
    all_topics: bool = False,
    window_ns: tuple[int | None, int | None] = (None, None),
) -> RecordingScan:
    """Read the TF topics and the chosen topics once, in log-time order.

    ``window_ns`` (log time) limits the sensor topics; TF, CameraInfo and poses are read whole.
    ``all_topics`` also counts every other topic (inspect).
    """
    tf = TfBuffer(bag.name)
    sensors = {t: SensorTimes(t, "") for t in sensor_topics}
    infos = set(info_topics)
    topics = bag.topics()
    small = {t for t in (*TF_TOPICS, *infos, *([pose_topic] if pose_topic else [])) if t in topics}
    small |= {t for t, i in topics.items() if i.msgtype == TF_TYPE}
    camera_info: dict[str, tuple[int, Any]] = {}
    poses: list[PoseSample] = []
    times: dict[str, TopicTimes] = {}
    start, stop = window_ns
    streams = [bag.messages(sorted(small))]
    big = [t for t in sensors if t in topics] if not all_topics else sorted(set(topics) - small)
    streams.append(bag.messages(big, start_ns=start, stop_ns=stop))
    for stream in streams:
        for topic, msgtype, log_ns, raw in stream:
            tt = times.setdefault(topic, TopicTimes(0, log_ns, log_ns))
            tt.count += 1
            tt.last_ns = max(tt.last_ns, log_ns)
            tt.first_ns = min(tt.first_ns, log_ns)
            where = f"{bag.name}: {topic} at {log_ns} ns"
            if topic in sensors:
                st = sensors[topic]
                stamp, frame = header_of(raw, cdr=bag.cdr, where=where)
                st.msgtype = msgtype
                st.log_ns.append(log_ns)
                st.stamp_ns.append(stamp)
                if st.frame_id is None:
                    st.frame_id = frame.lstrip("/")
            elif msgtype == TF_TYPE:
                msg = bag.deserialize(raw, msgtype, where=where)
                _add_tf(tf, msg, static=topic.endswith("_static"), topic=topic)
            elif topic in infos and topic not in camera_info:
                camera_info[topic] = (log_ns, bag.deserialize(raw, msgtype, where=where))
            elif topic == pose_topic:
                poses.append(_pose(bag.deserialize(raw, msgtype, where=where), msgtype, log_ns))
    return RecordingScan(tf=tf, sensors=sensors, camera_info=camera_info, poses=poses, times=times)
