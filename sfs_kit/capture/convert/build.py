"""The whole scene tree, every array passed through a ``put`` (the .sfs writer, or kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy.typing as npt

from sfs_kit.capture.base import Capture
from sfs_kit.capture.convert.frame import convert_frame, convert_radar_frame, load_image
from sfs_kit.capture.convert.plan import Plan
from sfs_kit.capture.convert.progress import Counter
from sfs_kit.capture.convert.trees import (
    camera_tree,
    check_issues,
    frame_issues,
    intrinsics_tree,
    lidar_tree,
    points_tree,
    radar_points_tree,
    scene_head,
    skeleton_issues,
)
from sfs_kit.capture.convert.video import VideoOut, refuse_video_input, video_camera
from sfs_kit.models.validate import Issue


def build_tree(
    capture: Capture,
    plan: Plan,
    put: Callable[[npt.NDArray[Any]], object],
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: Counter,
    video: VideoOut | None = None,
) -> tuple[dict[str, Any], list[Issue], int]:
    """The scene tree with every array passed through ``put`` (spool or keep), one at a time.

    With ``video``, cameras become MP4s (images encoded, or a video input passed through) added
    with ``video.put_file``; a camera whose input is a video needs ``video`` (split_base64 and
    the in-memory scene without it refuse it).
    """
    head = scene_head(plan, capture)
    issues = skeleton_issues(capture, plan, head, for_sfs=True)
    check_issues(issues, "the output")  # metadata errors: fail before loading any frame
    points = 0
    sensors: list[dict[str, object]] = []
    for lidar, sp in zip(capture.lidars, plan.lidars, strict=True):
        frames: list[dict[str, object]] = []
        for k in range(len(lidar.frames)):
            arrays = convert_frame(lidar, k, plan, sp, voxel_size_m, max_points)
            issues.extend(frame_issues(lidar, sp, k, arrays, head))
            points += arrays.positions.shape[0]
            frames.append({"timestamp": sp.rel_us[k], "points": points_tree(arrays, put)})
            counter.step()
        sensors.append(lidar_tree(lidar, sp, frames))
    for c, (camera, sp) in enumerate(zip(capture.cameras, plan.cameras, strict=True)):
        intrinsics_tree(camera, for_sfs=True)  # fail early on skew, before loading images
        if video is not None and (video.all_cameras or camera.video is not None):
            sensors.append(video_camera(camera, sp, c, video, head, counter, issues))
            continue
        refuse_video_input(camera)
        images: list[dict[str, object]] = []
        for k in range(len(camera.images)):
            images.append({"timestamp": sp.rel_us[k], "content": put(load_image(camera, k))})
            counter.step()
        sensors.append(camera_tree(camera, sp, images, for_sfs=True))
    for radar, sp in zip(capture.radars, plan.radars, strict=True):
        radar_frames: list[dict[str, object]] = []
        for k in range(len(radar.frames)):
            radar_arrays = convert_radar_frame(radar, k, plan, sp)
            issues.extend(frame_issues(radar, sp, k, radar_arrays, head))
            radar_frames.append(
                {"timestamp": sp.rel_us[k], "points": radar_points_tree(radar_arrays, put)}
            )
        sensors.append(lidar_tree(radar, sp, radar_frames))
    return {"version": "1.0", "sensors": sensors, **head}, issues, points
