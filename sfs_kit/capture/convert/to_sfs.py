"""Capture -> one streamed ``.sfs`` file, written in place after a generously reserved header."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sfs_kit.capture.base import Capture
from sfs_kit.capture.convert.build import build_tree
from sfs_kit.capture.convert.notes import load_notes, nonfinite_notes, viewpoint_notes
from sfs_kit.capture.convert.plan import Plan, origin_tuple
from sfs_kit.capture.convert.progress import Counter
from sfs_kit.capture.convert.result import ConvertResult
from sfs_kit.capture.convert.trees import check_issues, scene_head
from sfs_kit.capture.convert.video import VideoOut
from sfs_kit.codecs.sfs import SfsAppendWriter

# upper bounds on the JSON of one lidar frame / image entry and one "$items" entry (20-digit
# numbers, the longest key names: 173 bytes), so only odd metadata can outgrow the reservation
_FRAME_JSON_BYTES = 160
_IMAGE_JSON_BYTES = 80
_ITEM_JSON_BYTES = 200


def _header_reserve(cap: Capture, plan: Plan) -> int:
    """A generous estimate of the .sfs header length: the writer then needs no copy at finish."""
    size = 4096 + len(json.dumps(scene_head(plan, cap), default=str))
    ids = [lidar.sensor_id for lidar in cap.lidars] + [cam.sensor_id for cam in cap.cameras]
    ids += [radar.sensor_id for radar in cap.radars]
    for sensor_id, sp in zip(ids, (*plan.lidars, *plan.cameras, *plan.radars), strict=True):
        size += 1024 + 2 * len(json.dumps(sensor_id))
        size += len(json.dumps({"timestamps": sp.rel_us, "values": sp.poses}))
    for sp in (*plan.lidars, *plan.radars):
        size += len(sp.rel_us) * (_FRAME_JSON_BYTES + 4 * _ITEM_JSON_BYTES)
    for sp in plan.cameras:
        size += len(sp.rel_us) * (_IMAGE_JSON_BYTES + _ITEM_JSON_BYTES)
    return size


def convert_sfs(
    cap: Capture,
    plan: Plan,
    out: Path,
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: Counter,
    camera_video: bool = False,
) -> ConvertResult:
    with SfsAppendWriter(out, reserve_header_bytes=_header_reserve(cap, plan)) as writer:
        video = VideoOut(
            temp_prefix=out.with_name(f".{out.name}.{secrets.token_hex(6)}"),
            put_file=writer.add_file,
            all_cameras=camera_video,
        )
        try:
            tree, issues, points = build_tree(
                cap,
                plan,
                writer.add_array,
                voxel_size_m=voxel_size_m,
                max_points=max_points,
                counter=counter,
                video=video,
            )
        finally:
            video.cleanup()
        check_issues(issues, "the output")
        writer.finish(tree)
    notes = [
        f"camera {cam!r}: its H.264 video input was stored without re-encoding."
        for cam in video.passed_through
    ] + video.notes
    video_images = sum(len(c.images) for c in cap.cameras) if camera_video else 0
    return ConvertResult(
        format="sfs",
        output=out,
        paths=(out,),
        frame_count=cap.frame_count,
        point_count=points,
        image_count=sum(len(c.images) for c in cap.cameras) - video_images,
        time_offset_us=plan.time_offset_us,
        origin_offset_m=origin_tuple(plan),
        issues=tuple(issues),
        notes=(
            *cap.notes,
            *notes,
            *load_notes(plan, colours_dropped=False),
            *nonfinite_notes(plan),
            *viewpoint_notes(plan),
        ),
        video_count=video.count,
    )
