"""One pass over a recording's chosen topics: TF, CameraInfo, poses and each sensor's times.

Big messages (clouds, images) are not deserialised here: their ``header.stamp`` and
``frame_id`` are read from the first bytes (``bag.header_of``), so memory holds a few integers per
message, never a message. Small ones (``/tf``, ``/tf_static``, odometry) are decoded; CameraInfo
messages only when their calibration bytes differ from the previous one's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sfs_kit.capture.recording.bag import Bag, header_of
from sfs_kit.capture.recording.direct import MessageRef
from sfs_kit.capture.recording.mapping import TF_TYPE
from sfs_kit.capture.recording.tf import TfBuffer
from sfs_kit.errors import InputError

__all__ = [
    "MAX_CALIBRATIONS",
    "PoseSample",
    "RecordingScan",
    "SensorTimes",
    "TopicTimes",
    "calibration_key",
    "scan_recording",
]

TF_TOPICS = ("/tf", "/tf_static")


@dataclass
class SensorTimes:
    """Log and header times (ns) of every message of a sensor topic, and its first frame_id."""

    topic: str
    msgtype: str
    log_ns: list[int] = field(default_factory=list)
    stamp_ns: list[int] = field(default_factory=list)
    frame_id: str | None = None
    refs: list[MessageRef] = field(default_factory=list)  # direct reads (uncompressed storage)


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
    camera_info: dict[str, list[tuple[int, Any]]]  # per topic: the first, then each change
    poses: list[PoseSample]
    times: dict[str, TopicTimes]


MAX_CALIBRATIONS = 1024
"""Distinct calibrations a CameraInfo topic may hold (beyond: an error, not unbounded memory)."""


def calibration_key(msg: Any) -> tuple[Any, ...]:
    """What of a ``CameraInfo`` the scene uses: size, model, D, K and P."""
    def arr(name: str) -> tuple[float, ...]:
        value = getattr(msg, name) if hasattr(msg, name) else getattr(msg, name.upper())
        return tuple(float(v) for v in value)

    return (int(msg.width), int(msg.height), str(msg.distortion_model), arr("d"), arr("k"),
            arr("p"))


def _header_end(raw: bytes, cdr: bool) -> int:
    """Where the bytes after a serialised ``std_msgs/Header`` start (its stamp and seq vary)."""
    if len(raw) < 16:
        return 0  # too short for a header: compared whole, and deserialising it names it
    size = int.from_bytes(raw[12:16], "big" if cdr and raw[1] == 0 else "little")
    return 16 + size


class _Calibrations:
    """Each CameraInfo topic's first message and every later change of its calibration.

    A message whose bytes after the header equal the last kept one's is skipped without being
    deserialised, so a recording's thousands of identical CameraInfo messages cost a compare each.
    """

    def __init__(self, bag: Bag) -> None:
        self.bag = bag
        self.kept: dict[str, list[tuple[int, Any]]] = {}
        self._tail: dict[str, bytes] = {}

    def add(self, topic: str, msgtype: str, log_ns: int, raw: bytes, where: str) -> None:
        tail = bytes(raw[_header_end(raw, self.bag.cdr):])
        if self._tail.get(topic) == tail:
            return
        self._tail[topic] = tail
        msg = self.bag.deserialize(raw, msgtype, where=where)
        timeline = self.kept.setdefault(topic, [])
        if timeline and calibration_key(timeline[-1][1]) == calibration_key(msg):
            return
        if len(timeline) >= MAX_CALIBRATIONS:
            raise InputError(
                f"{where}: CameraInfo topic {topic} changes its calibration more than "
                f"{MAX_CALIBRATIONS} times; a scene holds one calibration per camera.",
                source=self.bag.name,
                field=topic,
            )
        timeline.append((log_ns, msg))


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


def _index_directly(
    bag: Bag,
    sensors: dict[str, SensorTimes],
    window_ns: tuple[int | None, int | None],
    times: dict[str, TopicTimes],
) -> set[str]:
    """Sensor topics indexed from the container's own index (header bytes only); their names."""
    direct = bag.direct()
    if direct is None:
        return set()
    topics = bag.topics()
    start, stop = window_ns
    done: set[str] = set()
    for topic, st in sensors.items():
        refs = direct.refs(topic) if topic in topics else None
        if refs is None:
            continue
        st.msgtype = topics[topic].msgtype
        if refs:
            times[topic] = TopicTimes(len(refs), refs[0][0], refs[-1][0])
        for ref in refs:
            log_ns = ref[0]
            if (start is not None and log_ns < start) or (stop is not None and log_ns >= stop):
                continue
            where = f"{bag.name}: {topic} at {log_ns} ns"
            stamp, frame = header_of(direct.head(ref, topic), cdr=bag.cdr, where=where)
            st.log_ns.append(log_ns)
            st.stamp_ns.append(stamp)
            st.refs.append(ref)
            if st.frame_id is None:
                st.frame_id = frame.lstrip("/")
        done.add(topic)
    return done


def _direct_small(
    bag: Bag,
    small: list[str],
    infos: set[str],
    others: list[str],
    times: dict[str, TopicTimes],
) -> Iterator[tuple[str, str, int, bytes]] | None:
    """TF, pose and CameraInfo messages read at their places (counts from the index).

    ``None`` when the storage has no direct reads; ``others`` are only counted (inspect).
    """
    direct = bag.direct()
    if direct is None:
        return None
    found = {t: direct.refs(t) for t in (*small, *others)}
    if any(refs is None for refs in found.values()):
        return None
    events: list[tuple[MessageRef, str]] = []
    for topic, refs in found.items():
        assert refs is not None
        if refs:
            times[topic] = TopicTimes(len(refs), refs[0][0], refs[-1][0])
        if topic in others:
            continue
        events.extend((ref, topic) for ref in refs)
    events.sort()
    msgtypes = {t: i.msgtype for t, i in bag.topics().items()}
    return ((t, msgtypes[t], ref[0], direct.data(ref, t)) for ref, t in events)


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
    calibrations = _Calibrations(bag)
    poses: list[PoseSample] = []
    times: dict[str, TopicTimes] = {}
    start, stop = window_ns
    fast = _index_directly(bag, sensors, window_ns, times)
    others = sorted(set(topics) - small - set(sensors)) if all_topics else []
    counted = set(fast)
    direct = _direct_small(bag, sorted(small), infos, others, times)
    if direct is not None:
        counted |= {*small, *others}
        streams: list[Iterator[tuple[str, str, int, bytes]]] = [direct]
    else:
        streams = [bag.messages(sorted(small))]
    big = [t for t in sensors if t in topics and t not in fast]
    big += [t for t in others if t not in counted]
    streams.append(bag.messages(big, start_ns=start, stop_ns=stop))
    for stream in streams:
        for topic, msgtype, log_ns, raw in stream:
            if topic not in counted:
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
            elif topic in infos:
                calibrations.add(topic, msgtype, log_ns, raw, where)
            elif topic == pose_topic:
                poses.append(_pose(bag.deserialize(raw, msgtype, where=where), msgtype, log_ns))
    return RecordingScan(
        tf=tf, sensors=sensors, camera_info=calibrations.kept, poses=poses, times=times
    )
