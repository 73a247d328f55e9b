"""``inspect_recording``: every topic (type, count, rate, span), the TF tree, the default mapping.

One pass over the recording (TF and CameraInfo decoded; other messages only counted and their
header frame read); the mapping report says which lidar, camera, CameraInfo and pose sources
``open_recording`` would use with these options, why, and what it left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sfs_kit.capture.recording.bag import Bag
from sfs_kit.capture.recording.capture import default_world_frame
from sfs_kit.capture.recording.mapping import CAMERA_TYPES, POINTCLOUD2_TYPE, choose_mapping
from sfs_kit.capture.recording.options import RecordingOptions
from sfs_kit.capture.recording.scan import scan_recording
from sfs_kit.capture.recording.tf import TfBuffer
from sfs_kit.errors import InputError

__all__ = ["inspect_recording", "recording_lines"]


def _link(tf: TfBuffer, target: str, source: str | None) -> str:
    """``"ok"`` or why there is no TF path (for the mapping report)."""
    if not source:
        return "no frame_id"
    try:
        tf.path(target, source, what="inspect", times_ns=np.zeros(0, np.int64))
    except InputError:
        return f"no TF path from {source!r} to {target!r}"
    return "static" if tf.is_static(target, source) else "through dynamic /tf"


def inspect_recording(
    path: str | os.PathLike[str], options: RecordingOptions | None = None
) -> dict[str, Any]:
    """A JSON-ready report of the recording (see the module docstring)."""
    options = options or RecordingOptions()
    with Bag(Path(path)) as bag:
        topics = bag.topics()
        sensor_topics = [
            t for t, i in topics.items() if i.msgtype in (POINTCLOUD2_TYPE, *CAMERA_TYPES)
        ]
        scan = scan_recording(
            bag,
            sensor_topics=sensor_topics,
            info_topics=[],
            pose_topic=options.pose_topic,
            all_topics=True,
        )
        start = bag.start_ns
        rows = []
        for name, info in topics.items():
            tt = scan.times.get(name)
            span = (tt.last_ns - tt.first_ns) / 1e9 if tt else 0.0
            rows.append(
                {
                    "topic": name,
                    "type": info.msgtype,
                    "count": info.count,
                    "rate_hz": round((info.count - 1) / span, 3) if tt and span > 0 else None,
                    "first_s": round((tt.first_ns - start) / 1e9, 6) if tt else None,
                    "last_s": round((tt.last_ns - start) / 1e9, 6) if tt else None,
                    "frame_id": scan.sensors[name].frame_id if name in scan.sensors else None,
                }
            )
        tf = scan.tf
        frames = [
            {"frame": child, "parent": e.parent, "static": e.static, "transforms": len(e.times_ns)}
            for child, e in sorted(tf.edges.items())
        ]
        roots = sorted({e.parent for e in tf.edges.values()} - set(tf.edges))
        mapping: dict[str, Any]
        try:
            chosen = choose_mapping(topics, options, bag.name)
        except InputError as err:
            mapping = {"error": str(err)}
        else:
            world = options.world_frame or default_world_frame(tf)
            ego = options.ego_frame

            def frame_of(topic: str) -> str | None:
                return scan.sensors[topic].frame_id if topic in scan.sensors else None

            poses: dict[str, str | None]
            if options.pose_topic:
                poses = {"source": options.pose_topic, "reason": "given"}
            elif world is None:
                poses = {"source": None, "reason": "no map/odom frame in TF: static ego"}
            else:
                poses = {
                    "source": f"tf {world} -> {ego}",
                    "reason": "given" if options.world_frame else f"{world!r} is in TF",
                    "link": _link(tf, world, ego),
                }
            mapping = {
                "lidars": [
                    {
                        "id": c.sensor_id,
                        "topic": c.topic,
                        "reason": c.reason,
                        "frame_id": frame_of(c.topic),
                        "mounting": _link(tf, ego, frame_of(c.topic)),
                    }
                    for c in chosen.lidars
                ],
                "cameras": [
                    {
                        "id": c.sensor_id,
                        "topic": c.topic,
                        "camera_info": c.info_topic,
                        "reason": c.reason,
                        "frame_id": frame_of(c.topic),
                        "mounting": _link(tf, ego, frame_of(c.topic)),
                    }
                    for c in chosen.cameras
                ],
                "poses": poses,
                "world_frame": world,
                "ego_frame": ego,
                "time_source": options.time_source,
                "skipped": chosen.skipped,
            }
        return {
            "kind": "ros_recording",
            "path": bag.name,
            "format": bag.kind,
            "start_ns": start,
            "duration_s": round((bag.end_ns - start) / 1e9, 6) if topics else 0.0,
            "messages": sum(i.count for i in topics.values()),
            "topics": rows,
            "tf": {"frames": frames, "roots": roots},
            "mapping": mapping,
        }


def recording_lines(report: dict[str, Any]) -> list[str]:
    """The human-readable form of ``inspect_recording``'s report."""
    lines = [
        f"{report['path']}: ROS recording ({report['format']}), {report['messages']:,} "
        f"messages, {report['duration_s']:.3f} s"
    ]
    width = max((len(r["topic"]) for r in report["topics"]), default=0)
    lines.append("  topics:")
    for r in report["topics"]:
        rate = f"{r['rate_hz']:.2f} Hz" if r["rate_hz"] else "-"
        span = "-" if r["first_s"] is None else f"{r['first_s']:.3f}..{r['last_s']:.3f} s"
        lines.append(
            f"    {r['topic']:<{width}}  {r['type']:<34} {r['count']:>7}  {rate:>10}  {span}"
        )
    lines.append("  tf:")
    for f in report["tf"]["frames"]:
        kind = "static" if f["static"] else f"dynamic ({f['transforms']})"
        lines.append(f"    {f['parent']} -> {f['frame']}  {kind}")
    mapping = report["mapping"]
    lines.append("  default capture:")
    if "error" in mapping:
        lines.append(f"    cannot build: {mapping['error']}")
        return lines
    for lidar in mapping["lidars"]:
        lines.append(
            f"    lidar  {lidar['id']}: {lidar['topic']} ({lidar['reason']}; frame "
            f"{lidar['frame_id']}, mounting {lidar['mounting']})"
        )
    for cam in mapping["cameras"]:
        lines.append(
            f"    camera {cam['id']}: {cam['topic']} + {cam['camera_info']} "
            f"({cam['reason']}; frame {cam['frame_id']}, mounting {cam['mounting']})"
        )
    poses = mapping["poses"]
    link = f", {poses['link']}" if "link" in poses else ""
    lines.append(f"    poses  {poses['source']} ({poses['reason']}{link})")
    for topic, why in mapping["skipped"].items():
        lines.append(f"    not used: {topic}: {why}")
    return lines
