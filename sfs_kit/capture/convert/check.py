"""What a capture will convert into, and whether it would convert, without writing anything.

``describe_capture`` reads only metadata (manifest, timestamps, calibration, poses; at most the
first lidar frame, to choose a recentring origin) and lists sensors, frames, the time span and
the scene-level warnings: it is ``sfs-kit inspect CAPTURE``. ``check_capture`` is a dry
conversion: every frame and image is loaded, converted and validated as ``convert_capture`` does,
then dropped (memory of one frame), so ``sfs-kit validate CAPTURE`` finds what the conversion
would refuse without its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sfs_kit.capture.base import Capture, LidarSource, RadarSource
from sfs_kit.capture.convert.build import build_tree
from sfs_kit.capture.convert.notes import load_notes, nonfinite_notes, viewpoint_notes
from sfs_kit.capture.convert.plan import Plan, make_plan
from sfs_kit.capture.convert.progress import Counter
from sfs_kit.capture.convert.trees import scene_head, skeleton_issues
from sfs_kit.capture.options import ConvertOptions
from sfs_kit.errors import SfsKitError
from sfs_kit.models.validate import Issue

__all__ = ["CaptureReport", "check_capture", "describe_capture"]


@dataclass
class CaptureReport:
    """A capture's summary (``describe_capture``) and what checking it found."""

    summary: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Number of error issues."""
        return sum(1 for i in self.issues if i.severity == "error")


def _span(times: list[int]) -> list[int] | None:
    return [min(times), max(times)] if times else None


def _points_sensor(sensor: LidarSource | RadarSource) -> dict[str, Any]:
    return {
        "id": sensor.sensor_id,
        "frames": len(sensor.frames),
        "points_frame": sensor.points_frame,
        "time_span_us": _span([f.timestamp_us for f in sensor.frames]),
    }


def _summary(cap: Capture, plan: Plan | None) -> dict[str, Any]:
    lidars = [_points_sensor(lidar) for lidar in cap.lidars]
    cameras = [
        {
            "id": cam.sensor_id,
            "content": "video" if cam.video is not None else "images",
            "count": cam.content_count,
            "size": [cam.intrinsics.width, cam.intrinsics.height],
            "distortion_model": cam.intrinsics.distortion_model,
            "time_span_us": _span(cam.content_timestamps_us),
        }
        for cam in cap.cameras
    ]
    radars = [_points_sensor(radar) for radar in cap.radars]
    every = [f.timestamp_us for lidar in cap.lidars for f in lidar.frames]
    every += [t for cam in cap.cameras for t in cam.content_timestamps_us]
    every += [f.timestamp_us for radar in cap.radars for f in radar.frames]
    poses = cap.ego_poses
    return {
        "kind": "capture",
        "path": str(cap.path),
        "layout": cap.layout,
        "lidars": lidars,
        "cameras": cameras,
        "radars": radars,
        "ego_poses": None if poses is None else {"count": len(poses.timestamps_us),
                                                 "source": poses.source},
        "time_span_us": _span(every),
        "origin_offset_m": None if plan is None or plan.origin_m is None
        else [float(v) for v in plan.origin_m],
        "notes": list(cap.notes),
    }


def describe_capture(cap: Capture, options: ConvertOptions | None = None) -> CaptureReport:
    """Sensors, frames, time span, origin and the scene-level issues of ``cap`` (no frame is
    converted). A capture that cannot be planned (no lidar, poses not covering the frames) has
    its reason as one C-1 error."""
    opts = options or ConvertOptions()
    try:
        plan = make_plan(cap, opts.recentre)
    except SfsKitError as err:
        return CaptureReport(_summary(cap, None), [Issue("C-1", "error", "", str(err))])
    issues = skeleton_issues(cap, plan, scene_head(plan, cap), for_sfs=True)
    return CaptureReport(_summary(cap, plan), issues)


def check_capture(cap: Capture, options: ConvertOptions | None = None) -> CaptureReport:
    """Convert every frame and image of ``cap`` in memory, one at a time, validating each as
    ``convert_capture`` would, and keep only the issues and notes (nothing is written).

    Cameras whose input is a video are described but not decoded (their content is checked
    when converted); a frame the converter refuses ends the check with one C-1 error."""
    opts = options or ConvertOptions()
    report = describe_capture(cap, opts)
    if report.errors:
        return report
    videos = [c.sensor_id for c in cap.cameras if c.video is not None]
    images_only = replace(cap, cameras=tuple(c for c in cap.cameras if c.video is None))
    plan = make_plan(images_only, opts.recentre)
    plan.keep_nonfinite = opts.keep_nonfinite
    try:
        _, issues, _ = build_tree(images_only, plan, lambda _a: None,
                                  voxel_size_m=opts.voxel_size_m,
                                  max_points=opts.max_points_per_frame,
                                  counter=Counter(0, None))
    except SfsKitError as err:
        report.issues.append(Issue("C-1", "error", "", str(err)))
        return report
    known = {(i.code, i.path) for i in report.issues}
    report.issues += [i for i in issues if (i.code, i.path) not in known]
    report.notes = [*cap.notes, *load_notes(plan, colours_dropped=False),
                    *nonfinite_notes(plan), *viewpoint_notes(plan)]
    report.notes += [f"camera {c!r}: its video input is checked when it is converted."
                     for c in videos]
    return report
