"""Capture -> a split_base64 frames folder (one JSON per lidar frame, images beside them),
built in a temporary folder and swapped in whole."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sfs_kit._atomic import hold
from sfs_kit._paths import contained
from sfs_kit.capture.base import CameraSource, Capture
from sfs_kit.capture.convert.frame import convert_frame, load_image
from sfs_kit.capture.convert.notes import load_notes, nonfinite_notes, viewpoint_notes
from sfs_kit.capture.convert.plan import Plan, SensorPlan, origin_tuple
from sfs_kit.capture.convert.progress import Counter
from sfs_kit.capture.convert.radar import frame_radar
from sfs_kit.capture.convert.result import ConvertResult
from sfs_kit.capture.convert.trees import check_issues, frame_issues, scene_head, skeleton_issues
from sfs_kit.capture.convert.video import refuse_video_input
from sfs_kit.capture.sync import match_nearest
from sfs_kit.codecs._output import check_output_folder, output_errors
from sfs_kit.codecs.frame_json import FrameImage, LidarFrameData, encode_frame, frame_file_name
from sfs_kit.errors import InputError, OutputError
from sfs_kit.models.calibration import DISTORTION_PARAM_NAMES
from sfs_kit.models.validate import Issue

IMAGE_GAP_WARN_US = 50_000  # D21


_FRAME_CAMERA_MODELS = ("brown_conrady", "fisheye", "omnidirectional")


def _frame_camera(
    camera: CameraSource, sp: SensorPlan, k: int, url: str, plan: Plan
) -> FrameImage:
    intr = camera.intrinsics
    model = intr.distortion_model or "brown_conrady"
    if model not in _FRAME_CAMERA_MODELS:
        raise InputError(
            f"{intr.source}: camera {camera.sensor_id!r} uses distortion model {model!r}; "
            f"split_base64 camera objects carry only {_FRAME_CAMERA_MODELS!r} (D21).",
            source=intr.source,
            field="distortion_model",
        )
    params = dict(zip(DISTORTION_PARAM_NAMES[model], intr.distortion_params, strict=False))
    pose = sp.poses[k]
    names = ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6", "lx", "ly", "xi")
    kwargs = {name: float(params.get(name, 0.0)) for name in names}
    return FrameImage(
        image_url=url,
        position_m=(pose[0], pose[1], pose[2]),
        heading_quat_xyzw=(pose[3], pose[4], pose[5], pose[6]),
        camera_model=model,  # type: ignore[arg-type]
        fx=intr.fx,
        fy=intr.fy,
        cx=intr.cx,
        cy=intr.cy,
        skew=intr.skew,
        timestamp_ns=(plan.time_offset_us + sp.rel_us[k]) * 1000,
        **kwargs,
    )


@dataclass
class _FramesOut:
    tmp: Path
    paths: list[Path] = field(default_factory=list)
    images: dict[tuple[int, int], str] = field(default_factory=dict)


def _write_frames(
    cap: Capture,
    plan: Plan,
    out: _FramesOut,
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: Counter,
) -> tuple[list[Issue], list[str], int]:
    if len(cap.lidars) != 1:
        raise InputError(
            f"split_base64 export needs exactly one lidar (D23); capture {str(cap.path)!r} has "
            f"{len(cap.lidars)}.",
            source=str(cap.path),
            field="lidars",
        )
    lidar, sp = cap.lidars[0], plan.lidars[0]
    for camera in cap.cameras:
        refuse_video_input(camera)
    head = scene_head(plan, cap)
    issues = skeleton_issues(cap, plan, head, for_sfs=False)
    check_issues(issues, "the output")  # metadata errors: fail before loading any frame
    notes: list[str] = []
    matches = [match_nearest(cp.times_us, sp.times_us) for cp in plan.cameras]
    points = 0
    radar = frame_radar(cap, plan, sp, head)
    for k in range(len(lidar.frames)):
        arrays = convert_frame(lidar, k, plan, sp, voxel_size_m, max_points)
        issues.extend(frame_issues(lidar, sp, k, arrays, head))
        radar_points, radar_issues = next(radar)
        issues.extend(radar_issues)
        images = []
        for c, (camera, cp) in enumerate(zip(cap.cameras, plan.cameras, strict=True)):
            j = int(matches[c].indices[k])
            gap = int(matches[c].gap_us[k])
            if gap > IMAGE_GAP_WARN_US:
                notes.append(
                    f"frame {k}: the nearest image of camera {camera.sensor_id!r} is "
                    f"{gap / 1000:.1f} ms away (D21 warns above 50 ms)."
                )
            if (c, j) not in out.images:
                content = load_image(camera, j)
                ext = "png" if content[:4].tobytes() == b"\x89PNG" else "jpg"
                rel = f"images/{camera.sensor_id}/{j:05d}.{ext}"
                target = contained(out.tmp, rel)  # ids are checked; this proves it
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content.tobytes())
                out.paths.append(Path(rel))
                out.images[(c, j)] = rel
            images.append(_frame_camera(camera, cp, j, out.images[(c, j)], plan))
        pose = sp.poses[k]
        intens = (
            None
            if arrays.intensities is None
            else np.divide(arrays.intensities, np.float32(255), dtype=np.float32)
        )
        data = LidarFrameData(
            points_world=arrays.positions,
            device_position_m=(pose[0], pose[1], pose[2]),
            device_heading_quat_xyzw=(pose[3], pose[4], pose[5], pose[6]),
            timestamp_ns=(plan.time_offset_us + sp.rel_us[k]) * 1000,
            intensities=intens,
            images=images,
            radar=radar_points,
        )
        name = frame_file_name(k)
        # images are referenced by relative path until upload gives them URLs
        encoded = encode_frame(data, allow_relative_image_urls=True, source=str(out.tmp / name))
        (out.tmp / name).write_bytes(encoded)
        out.paths.append(Path(name))
        points += arrays.positions.shape[0]
        counter.step()
    check_issues(issues, "the output")
    return issues, notes, points


def convert_frames(
    cap: Capture,
    plan: Plan,
    out_dir: Path,
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: Counter,
    overwrite: bool = False,
) -> ConvertResult:
    check_frames_folder(out_dir, overwrite=overwrite)
    tmp = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(6)}.tmp")
    with output_errors(out_dir, "folder"):
        tmp.mkdir()
        lock = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
    hold(lock)  # until the folder is swapped in: a killed run's folder is then known stale
    out = _FramesOut(tmp=tmp)
    try:
        counter.total = cap.frame_count  # images are counted as they are first referenced
        with output_errors(out_dir, "folder"):  # readers raise InputError, not OSError
            issues, notes, points = _write_frames(
                cap, plan, out, voxel_size_m=voxel_size_m, max_points=max_points, counter=counter
            )
            _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock)
    frames = sum(1 for p in out.paths if p.name.startswith("frame-"))
    return ConvertResult(
        format="split_base64",
        output=out_dir,
        paths=tuple(out_dir / p for p in out.paths),
        frame_count=frames,
        point_count=points,
        image_count=len(out.images),
        time_offset_us=plan.time_offset_us,
        origin_offset_m=origin_tuple(plan),
        issues=tuple(issues),
        notes=(
            *cap.notes,
            *notes,
            *load_notes(plan, colours_dropped=True),
            *nonfinite_notes(plan),
            *viewpoint_notes(plan),
        ),
    )


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Put the finished folder ``tmp`` at ``out_dir``; an old folder there is moved aside first
    and removed only after the rename, so ``out_dir`` is always either the old or the new one."""
    if not out_dir.exists():
        tmp.rename(out_dir)
        return
    if not any(out_dir.iterdir()):
        out_dir.rmdir()
        tmp.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(6)}.old")
    out_dir.rename(old)
    try:
        tmp.rename(out_dir)
    except BaseException:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_frames_folder(out_dir: Path, *, overwrite: bool = False) -> None:
    """A split_base64 output folder: its parent exists; it is new or an empty folder (or any
    folder, with ``overwrite``)."""
    check_output_folder(out_dir)
    if not overwrite and out_dir.exists() and any(out_dir.iterdir()):
        raise OutputError(
            f"Output folder {str(out_dir)!r} exists and is not empty; choose a new one. "
            f"(overwrite=True, or --overwrite, replaces it.)",
            path=str(out_dir),
        )
