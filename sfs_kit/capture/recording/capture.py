"""A ROS recording as a ``Capture``: one pass to index it, then frames loaded one at a time.

Opening scans TF, CameraInfo, the pose topic and the sensor topics' header times once
(``scan.scan_recording``); then lidar frames follow the primary lidar's sweeps (inside
``start_s``/``end_s``, every ``every``-th), and each camera (and any further lidar) contributes
the message nearest to each frame time within a tolerance (default half the sweep period) -- a
frame without one is an ``InputError`` naming the recording, topic and time, never a silent far
pairing. Sensor mountings come from static TF (``ego_frame`` <- sensor frame), ego poses from TF
``world_frame`` <- ``ego_frame`` (slerp at each frame and image time) or a pose topic. Each
``load`` reads one message through a per-topic forward cursor, so memory holds one message.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.capture.base import (
    CameraSource,
    Capture,
    EgoPoses,
    FramePoints,
    ImageSource,
    LidarFrameSource,
    LidarSource,
    LoadedImage,
    MetadataValue,
)
from sfs_kit.capture.recording.bag import Bag, header_of
from sfs_kit.capture.recording.camera import (
    BODY_FROM_OPTICAL,
    camera_intrinsics,
    image_from_message,
    is_optical_frame,
)
from sfs_kit.capture.recording.direct import MessageRef
from sfs_kit.capture.recording.mapping import VIDEO_TYPES, Mapping, choose_mapping
from sfs_kit.capture.recording.options import RecordingOptions
from sfs_kit.capture.recording.pointcloud2 import CloudMapping, PointTime, decode_cloud
from sfs_kit.capture.recording.scan import (
    RecordingScan,
    SensorTimes,
    calibration_key,
    scan_recording,
)
from sfs_kit.capture.recording.tf import TfBuffer
from sfs_kit.capture.recording.video import video_source
from sfs_kit.capture.sync import match_nearest
from sfs_kit.errors import InputError
from sfs_kit.models.geometry import matrix_to_pose, pose_to_matrix

__all__ = ["default_world_frame", "open_recording"]

F64 = npt.NDArray[np.float64]
_WORLD_FRAMES = ("map", "odom")
_DEFAULT_PERIOD_NS = 100_000_000
_WINDOW_MARGIN_NS = 2_000_000_000


def default_world_frame(tf: TfBuffer) -> str | None:
    """The first of ``map``, ``odom`` present in the TF tree."""
    frames = set(tf.frames())
    return next((f for f in _WORLD_FRAMES if f in frames), None)


class _Cursors:
    """One forward cursor per topic over the open recording; a load reads one message."""

    def __init__(self, bag: Bag) -> None:
        self.bag = bag
        self._at: dict[str, tuple[Iterator[tuple[str, str, int, bytes]], int]] = {}
        self._next: dict[MessageRef, MessageRef] = {}

    def expect(self, picks: list[_Pick]) -> None:
        """The order a topic's chosen messages will be loaded in (each one's successor is read
        ahead while it is converted)."""
        refs = [p.ref for p in picks]
        self._next.update(
            (a, b) for a, b in pairwise(refs) if a is not None and b is not None
        )

    def read(self, topic: str, pick: _Pick) -> tuple[str, bytes]:
        """The chosen message of ``topic``: by its place in the file, or by a forward cursor."""
        direct = self.bag.direct()
        if pick.ref is not None and direct is not None:
            return pick.msgtype, direct.data(pick.ref, topic, then=self._next.get(pick.ref))
        return self._read(topic, pick.log_ns, pick.stamp_ns)

    def _read(self, topic: str, log_ns: int, stamp_ns: int) -> tuple[str, bytes]:
        """The message of ``topic`` logged at ``log_ns`` whose header stamp is ``stamp_ns``."""
        held = self._at.get(topic)
        if held is None or log_ns < held[1]:
            held = (self.bag.messages([topic], start_ns=log_ns), log_ns)
        gen = held[0]
        for _, msgtype, t, raw in gen:
            if t > log_ns:
                break
            if t == log_ns and header_of(raw, cdr=self.bag.cdr, where=topic)[0] == stamp_ns:
                self._at[topic] = (gen, t)
                return msgtype, raw
        self._at.pop(topic, None)
        raise InputError(
            f"{self.bag.name}: {topic} has no message logged at {log_ns} ns with stamp "
            f"{stamp_ns} ns any more (did the recording change since it was opened?).",
            source=self.bag.name,
            field=topic,
        )


def _release(held: dict[str, tuple[Iterator[Any], int]], bag: Bag) -> None:
    """Close the open cursors, then the recording (when the capture is garbage-collected)."""
    for gen, _ in held.values():
        gen.close()  # type: ignore[attr-defined]
    held.clear()
    with contextlib.suppress(Exception):  # a finaliser must not raise; the file is read-only
        bag.close()


@dataclass(frozen=True)
class _Pick:
    """A chosen message of a sensor topic: log time, header stamp, the time used (ns)."""

    log_ns: int
    stamp_ns: int
    time_ns: int
    msgtype: str
    ref: MessageRef | None


def _times(st: SensorTimes, options: RecordingOptions) -> npt.NDArray[np.int64]:
    """The topic's message times on the declared clock; an end-stamped sweep's moved back by the
    topic's sweep period (the median stamp step), to the sweep's start."""
    src = st.stamp_ns if options.time_source == "header" else st.log_ns
    t = np.asarray(src, dtype=np.int64)
    if options.sweep_stamp.get(st.topic) == "end":
        steps = np.diff(np.sort(t))
        t = t - (int(np.median(steps)) if steps.size else _DEFAULT_PERIOD_NS)
    return t


def _picks(st: SensorTimes, options: RecordingOptions, idx: npt.NDArray[np.intp]) -> list[_Pick]:
    t = _times(st, options)
    return [
        _Pick(st.log_ns[i], st.stamp_ns[i], int(t[i]), st.msgtype, st.refs[i] if st.refs else None)
        for i in idx
    ]


def _primary_frames(
    st: SensorTimes, options: RecordingOptions, bag: Bag
) -> tuple[npt.NDArray[np.intp], int]:
    """Indices (time order) of the primary lidar's kept sweeps, and its sweep period (ns)."""
    t = _times(st, options)
    order = np.argsort(t, kind="stable")
    if order.size > 1 and np.any(np.diff(t[order]) == 0):
        i = int(order[np.flatnonzero(np.diff(t[order]) == 0)[0] + 1])
        raise InputError(
            f"{bag.name}: {st.topic} has two sweeps at {int(t[i])} ns ({options.time_source} "
            f"time); frames need distinct times (a driver that leaves header.stamp unset needs "
            f"--time-source log).",
            source=bag.name,
            field=st.topic,
        )
    period = int(np.median(np.diff(t[order]))) if order.size > 1 else _DEFAULT_PERIOD_NS
    rel_s = (t[order] - bag.start_ns) / 1e9
    keep = np.ones(order.size, dtype=bool)
    if options.start_s is not None:
        keep &= rel_s >= options.start_s
    if options.end_s is not None:
        keep &= rel_s <= options.end_s
    kept = order[keep][:: options.every]
    if not kept.size:
        raise InputError(
            f"{bag.name}: {st.topic} has no sweep in the window [{options.start_s}, "
            f"{options.end_s}] s from the recording start ({order.size} sweeps in total).",
            source=bag.name,
            field=st.topic,
        )
    return kept, period


def _pair(
    st: SensorTimes,
    frame_ns: npt.NDArray[np.int64],
    *,
    tolerance_ns: int,
    options: RecordingOptions,
    bag: Bag,
    primary: str,
) -> npt.NDArray[np.intp]:
    """For each frame time the nearest message of ``st`` within the tolerance (unique, sorted)."""
    t = _times(st, options)
    if not t.size:
        raise InputError(
            f"{bag.name}: {st.topic} has no message near the frames of {primary}.",
            source=bag.name,
            field=st.topic,
        )
    order = np.argsort(t, kind="stable")
    nearest, gap = match_nearest(t[order], frame_ns)
    far = np.flatnonzero(gap > tolerance_ns)
    if far.size:
        k = int(far[0])
        raise InputError(
            f"{bag.name}: {st.topic} has no message within {tolerance_ns / 1e6:.1f} ms of frame "
            f"{k} of {primary} at {int(frame_ns[k])} ns (nearest {int(gap[k]) / 1e6:.1f} ms away; "
            f"{far.size} frame(s) affected); set image_tolerance_ms or a time window.",
            source=bag.name,
            field=st.topic,
        )
    picked: npt.NDArray[np.intp] = _sorted_unique(order[nearest])
    return picked


def _sorted_unique(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.unique`` of a 1-D integer array, without loading ``numpy.ma`` (~15 ms at start-up:
    ``np.unique`` asks it whether the array is masked)."""
    ordered = np.sort(values.reshape(-1))
    keep = np.ones(ordered.shape, dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def _note_unpaired(
    st: SensorTimes,
    idx: npt.NDArray[np.intp],
    frame_ns: npt.NDArray[np.int64],
    *,
    tolerance_ns: int,
    options: RecordingOptions,
    sensor_id: str,
    primary: str,
    notes: list[str],
) -> None:
    """Say so when a further lidar has sweeps in the frames' span that no frame uses (it runs
    faster than the first lidar, or ``every`` thinned the frames): they are left out."""
    t = _times(st, options)
    inside = int(np.count_nonzero(
        (t >= int(frame_ns.min()) - tolerance_ns) & (t <= int(frame_ns.max()) + tolerance_ns)
    ))
    if inside > idx.size:
        notes.append(
            f"lidar {sensor_id!r} ({st.topic}): {idx.size} of its {inside} sweeps in the frames' "
            f"span are used, the one nearest each frame of {primary}; a scene's frames follow the "
            f"first lidar, so the other {inside - idx.size} are left out."
        )


def _static_mount(tf: TfBuffer, ego: str, frame: str, t_ns: int, topic: str) -> F64:
    """``ego_from_sensor`` from static TF; a path through /tf (moving) is an error."""
    times = np.asarray([t_ns], dtype=np.int64)
    up_s, up_t = tf.path(ego, frame, what=f"mounting of {topic}", times_ns=times)
    moving = [f for f in (*up_s, *up_t) if not tf.edges[f].static]
    if moving:
        raise InputError(
            f"{tf.source}: frame {frame!r} of {topic} reaches ego frame {ego!r} through the "
            f"dynamic /tf edge {tf.edges[moving[0]].parent!r} -> {moving[0]!r}; sensor mountings "
            f"must come from /tf_static.",
            source=tf.source,
            field=topic,
        )
    mount: F64 = tf.lookup(ego, frame, times, what=f"mounting of {topic}")[0]
    return mount


def _ego_poses(
    scan: RecordingScan,
    options: RecordingOptions,
    *,
    world: str | None,
    times_us: npt.NDArray[np.int64],
    bag: Bag,
    notes: list[str],
) -> EgoPoses | None:
    ego = options.ego_frame
    if options.pose_topic is not None:
        samples = sorted(scan.poses, key=lambda p: p.stamp_ns)
        if not samples:
            raise InputError(
                f"{bag.name}: pose topic {options.pose_topic} has no message.",
                source=bag.name,
                field=options.pose_topic,
            )
        t_ns = np.asarray(
            [p.stamp_ns if options.time_source == "header" else p.log_ns for p in samples],
            dtype=np.int64,
        )
        rows = np.asarray([(*p.translation, *p.quat_xyzw) for p in samples], dtype=np.float64)
        m = pose_to_matrix(rows)
        child = samples[0].child_frame_id
        if child and child != ego:
            m = m @ _static_mount(scan.tf, child, ego, int(t_ns[0]), options.pose_topic)
        t_us, first = np.unique(t_ns // 1000, return_index=True)
        pose = matrix_to_pose(m[first])
        return EgoPoses(
            timestamps_us=t_us.astype(np.int64),
            positions_m=pose[:, :3],
            quat_xyzw=pose[:, 3:],
            source=f"{bag.name}:{options.pose_topic}",
        )
    if world is None:
        notes.append(
            f"TF has no world frame ({'/'.join(_WORLD_FRAMES)}) and no pose topic was given: the "
            f"ego is static at the world origin."
        )
        return None
    unique_us = _sorted_unique(times_us)
    m = scan.tf.lookup(world, ego, unique_us * 1000, what=f"the ego pose {world!r} <- {ego!r}")
    pose = matrix_to_pose(m)
    return EgoPoses(
        timestamps_us=unique_us.astype(np.int64),
        positions_m=pose[:, :3],
        quat_xyzw=pose[:, 3:],
        source=f"{bag.name}:tf {world}->{ego}",
    )


def _cloud_mapping(topic: str, options: RecordingOptions) -> CloudMapping:
    pt = options.point_time.get(topic)
    return CloudMapping(
        intensity_field=options.intensity_field.get(topic),
        point_time=None if pt is None else PointTime(pt.field, pt.unit, pt.reference),
        intensity_max=options.intensity_max.get(topic),
        sweep_end=options.sweep_stamp.get(topic) == "end",
    )


def _lidar_loader(
    cursors: _Cursors, topic: str, pick: _Pick, mapping: CloudMapping, clock_ns: int
) -> Any:
    """Load one sweep; ``clock_ns`` is its time on the declared clock (not moved to the start)."""
    def load() -> FramePoints:
        msgtype, raw = cursors.read(topic, pick)
        where = f"{cursors.bag.name}: {topic} at {pick.stamp_ns} ns"
        msg = cursors.bag.deserialize(raw, msgtype, where=where)
        return decode_cloud(
            msg, stamp_us=pick.stamp_ns // 1000, frame_us=clock_ns // 1000, where=where,
            mapping=mapping,
        )

    return load


def _image_loader(cursors: _Cursors, topic: str, pick: _Pick) -> Any:
    def load() -> LoadedImage:
        msgtype, raw = cursors.read(topic, pick)
        where = f"{cursors.bag.name}: {topic} at {pick.stamp_ns} ns"
        msg = cursors.bag.deserialize(raw, msgtype, where=where)
        return image_from_message(msg, msgtype, where=where)

    return load


def _calibration_for(
    timeline: list[tuple[int, Any]], picks: list[_Pick], topic: str, info_topic: str, bag: Bag
) -> tuple[int, Any]:
    """The CameraInfo in effect over the camera's chosen images (log time); a calibration that
    changes among them is an ``InputError`` (a scene holds one per camera), naming both times."""
    first = min(p.log_ns for p in picks)
    last = max(p.log_ns for p in picks)
    before = [entry for entry in timeline if entry[0] <= first]
    chosen = before[-1] if before else timeline[0]
    later = [entry for entry in timeline if chosen[0] < entry[0] <= last]
    if later:
        old, new = calibration_key(chosen[1]), calibration_key(later[0][1])
        names = ("size", "size", "distortion_model", "D", "K", "P")
        changed = sorted({n for n, a, b in zip(names, old, new, strict=True) if a != b})
        raise InputError(
            f"{bag.name}: camera {topic}: CameraInfo {info_topic} changes its calibration "
            f"({', '.join(changed)}) at {later[0][0]} ns, between the camera's images at {first} "
            f"and {last} ns ({len(later)} change(s)); a scene holds one calibration per camera: "
            f"convert the parts before and after the change separately (--start/--end).",
            source=bag.name,
            field=info_topic,
        )
    return chosen


def _frame_id(st: SensorTimes, bag: Bag) -> str:
    if not st.frame_id:
        raise InputError(
            f"{bag.name}: {st.topic} messages have an empty header.frame_id; the "
            f"sensor cannot be placed on the ego.",
            source=bag.name,
            field=st.topic,
        )
    return st.frame_id


def _check_types(bag: Bag, mapping: Mapping) -> None:
    topics = bag.topics()
    chosen = [c.topic for c in mapping.lidars] + [c.topic for c in mapping.cameras]
    chosen += [c.info_topic for c in mapping.cameras]
    chosen += [mapping.pose_topic] if mapping.pose_topic else []
    for topic in chosen:
        if not bag.has_type(topics[topic].msgtype):
            raise InputError(
                f"Recording {bag.name!r}: topic {topic!r} has message type "
                f"{topics[topic].msgtype!r}, which has no definition in the file or "
                f"in rosbags' ROS types.",
                source=bag.name,
                field=topic,
            )


def open_recording(
    path: str | os.PathLike[str],
    options: RecordingOptions | None = None,
    *,
    metadata: AnyMapping[str, MetadataValue] | None = None,
) -> Capture:
    """Open a ``.bag``, ``.mcap`` or ROS 2 bag folder as a ``Capture`` (frames load on demand).

    ``metadata`` (a manifest's) goes into the scene beside what the recording says (topics,
    frames, time source); on a shared key the given value wins.
    """
    options = options or RecordingOptions()
    bag = Bag(Path(path))
    try:
        return _build(bag, options, dict(metadata or {}))
    except BaseException:
        bag.close()
        raise


def _window(bag: Bag, options: RecordingOptions) -> tuple[int | None, int | None]:
    start = None if options.start_s is None else bag.start_ns + int(options.start_s * 1e9)
    stop = None if options.end_s is None else bag.start_ns + int(options.end_s * 1e9)
    return (
        None if start is None else start - _WINDOW_MARGIN_NS,
        None if stop is None else stop + _WINDOW_MARGIN_NS,
    )


def _build(bag: Bag, options: RecordingOptions, given: dict[str, MetadataValue]) -> Capture:
    mapping = choose_mapping(bag.topics(), options, bag.name)
    _check_types(bag, mapping)
    sensor_topics = [c.topic for c in mapping.lidars] + [c.topic for c in mapping.cameras]
    scan = scan_recording(
        bag,
        sensor_topics=sensor_topics,
        info_topics=[c.info_topic for c in mapping.cameras],
        pose_topic=options.pose_topic,
        window_ns=_window(bag, options),
    )
    notes: list[str] = []
    world = options.world_frame or default_world_frame(scan.tf)
    primary = scan.sensors[mapping.lidars[0].topic]
    if not primary.log_ns:
        raise InputError(
            f"{bag.name}: lidar topic {primary.topic} has no message.",
            source=bag.name,
            field=primary.topic,
        )
    kept, period = _primary_frames(primary, options, bag)
    frame_ns = _times(primary, options)[kept]
    tolerance = (
        int(options.image_tolerance_ms * 1e6)
        if options.image_tolerance_ms is not None
        else period // 2
    )
    cursors = _Cursors(bag)
    weakref.finalize(cursors, _release, cursors._at, bag)
    ego = options.ego_frame
    lidars: list[LidarSource] = []
    metadata: dict[str, MetadataValue] = {
        "recording": bag.path.name,
        "recording_format": bag.kind,
        "time_source": "header.stamp" if options.time_source == "header" else "log_time",
        "ego_frame": ego,
        "world_frame": world,
    }
    all_us: list[npt.NDArray[np.int64]] = []
    for n, choice in enumerate(mapping.lidars):
        st = scan.sensors[choice.topic]
        idx = (
            kept
            if n == 0
            else _pair(
                st,
                frame_ns,
                tolerance_ns=tolerance,
                options=options,
                bag=bag,
                primary=primary.topic,
            )
        )
        if n:
            _note_unpaired(st, idx, frame_ns, tolerance_ns=tolerance, options=options,
                           sensor_id=choice.sensor_id, primary=primary.topic, notes=notes)
        picks = _picks(st, options, idx)
        cursors.expect(picks)
        frame = _frame_id(st, bag)
        mount = _static_mount(scan.tf, ego, frame, picks[0].time_ns, choice.topic)
        cloud = _cloud_mapping(choice.topic, options)
        frames = tuple(
            LidarFrameSource(
                timestamp_us=p.time_ns // 1000,
                source=f"{bag.name}:{choice.topic}@{p.stamp_ns}",
                load=_lidar_loader(
                    cursors, choice.topic, p, cloud,
                    p.stamp_ns if options.time_source == "header" else p.log_ns,
                ),
            )
            for p in picks
        )
        all_us.append(np.asarray([f.timestamp_us for f in frames], dtype=np.int64))
        lidars.append(
            LidarSource(
                sensor_id=choice.sensor_id,
                frames=frames,
                points_frame="sensor",
                ego_from_sensor=mount,
            )
        )
        metadata[f"topic.{choice.sensor_id}"] = choice.topic
        metadata[f"frame_id.{choice.sensor_id}"] = frame
    cameras: list[CameraSource] = []
    for cam in mapping.cameras:
        st = scan.sensors[cam.topic]
        if cam.info_topic not in scan.camera_info:
            raise InputError(
                f"{bag.name}: camera {cam.topic} has CameraInfo topic "
                f"{cam.info_topic} but it holds no message.",
                source=bag.name,
                field=cam.info_topic,
            )
        if st.msgtype in VIDEO_TYPES:  # every frame of a video: they depend on each other
            picks = _picks(st, options, np.argsort(_times(st, options), kind="stable"))
        else:
            idx = _pair(
                st, frame_ns, tolerance_ns=tolerance, options=options, bag=bag,
                primary=primary.topic,
            )
            picks = _picks(st, options, idx)
        info_log, info = _calibration_for(scan.camera_info[cam.info_topic], picks, cam.topic,
                                          cam.info_topic, bag)
        rectified = any(part.startswith("image_rect") for part in cam.topic.split("/"))
        intr = camera_intrinsics(
            info, where=f"{bag.name}: {cam.info_topic} at {info_log} ns", rectified=rectified
        )
        frame = _frame_id(st, bag)
        mount = _static_mount(scan.tf, ego, frame, picks[0].time_ns, cam.topic)
        if not is_optical_frame(frame):
            mount = mount @ BODY_FROM_OPTICAL
            notes.append(
                f"camera {cam.sensor_id!r} ({cam.topic}): frame {frame!r} is not an "
                f"optical frame, so it is taken as a body frame (x forward, z up) and "
                f"rotated to the camera frame (z forward, x right, y down)."
            )
        if st.msgtype in VIDEO_TYPES:
            stamps_us = [p.time_ns // 1000 for p in picks]
            video = video_source(bag, cam.topic, [p.log_ns for p in picks], stamps_us)
            all_us.append(np.asarray(stamps_us, dtype=np.int64))
            cameras.append(
                CameraSource(
                    sensor_id=cam.sensor_id,
                    intrinsics=intr,
                    ego_from_sensor=mount,
                    images=(),
                    video=video,
                )
            )
        else:
            cursors.expect(picks)
            images = tuple(
                ImageSource(
                    timestamp_us=p.time_ns // 1000,
                    source=f"{bag.name}:{cam.topic}@{p.stamp_ns}",
                    load=_image_loader(cursors, cam.topic, p),
                )
                for p in picks
            )
            all_us.append(np.asarray([im.timestamp_us for im in images], dtype=np.int64))
            cameras.append(
                CameraSource(
                    sensor_id=cam.sensor_id, intrinsics=intr, ego_from_sensor=mount, images=images
                )
            )
        metadata[f"topic.{cam.sensor_id}"] = cam.topic
        metadata[f"camera_info.{cam.sensor_id}"] = cam.info_topic
        metadata[f"frame_id.{cam.sensor_id}"] = frame
    poses = _ego_poses(
        scan, options, world=world, times_us=np.concatenate(all_us), bag=bag, notes=notes
    )
    return Capture(
        path=bag.path,
        layout="ros_recording",
        lidars=tuple(lidars),
        cameras=tuple(cameras),
        ego_poses=poses,
        metadata={**metadata, **given},
        notes=tuple(notes),
    )
