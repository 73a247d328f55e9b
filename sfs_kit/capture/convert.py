"""Capture -> streamed ``.sfs``, streamed split_base64 frames, or an in-memory ``Scene``.

Memory grows with one frame, not with the capture: each lidar frame and image is loaded,
converted, written to the output (``SfsAppendWriter`` for .sfs, in place after a generously
reserved header, so each byte is written once; one file per frame for split_base64) and
released; only timestamps, poses and calibration are kept.

What the converter decides, once:

- **Coordinates.** Output points are always in the world frame (SFS compat mode D9 and split_base64
  both need it). Points given in the ``sensor`` frame are mapped by ``world_from_ego(t) @
  ego_from_sensor``, ``ego`` points by ``world_from_ego(t)``, ``world`` points are kept; ``t`` is
  the frame timestamp, poses are interpolated there (``sync.sample_poses``), all in float64, cast to
  float32 last. A capture without a pose file has a static ego at the world origin.
- **Recentring** (D15). ``recentre=True`` subtracts a whole-metre origin (the first lidar pose's
  translation, or the first frame's centre when the poses sit at the origin) in float64 before the
  float32 cast; ``"auto"`` does so when a pose or the first frame exceeds 10 km. The origin is
  recorded in ``metadata.sfs_kit.origin_offset``. Without a pose file the static ego is placed
  at that origin, so the recentred sensor poses stay beside the points.
- **Time** (D10). ``time_offset`` = the smallest frame or image timestamp (absolute µs); every
  timestamp is relative to it; per-point times become uint32 µs on that clock (D11). Sensor poses
  are written at their own content timestamps, so every frame lies inside its pose span.
- **Non-finite points.** NaN/inf positions (missing returns of organised clouds) are dropped per
  frame, counted in ``ConvertResult.notes``; ``keep_nonfinite=True`` keeps them (V-A7 then fails).
- **PCD VIEWPOINT** is not applied. PCL defines it as the acquisition viewpoint stored beside the
  points (``sensor_origin_``/``sensor_orientation_``, used e.g. to orient normals); PCL never
  moves the points by it, and the manifest's ``frame`` already says which frame they are in. A
  non-identity viewpoint often means the cloud was saved in another frame (a registered map),
  so each lidar with one gets a note naming the frames and the first viewpoint, for the user to
  check the declared ``frame`` and extrinsics.
- **Colours.** Point colours (uint8 sRGB from PCD, PLY, LAS) go into each .sfs lidar frame's
  ``colors`` (kept through the non-finite drop and downsampling); split_base64 has no colour
  field (spec 4.2), so there each coloured lidar gets a note (and a warning) saying they were
  dropped. Loaders' decisions (e.g. a LAS lidar's intensity scale) are notes too.
- **Validation.** Each frame is validated as it is produced (``validate_tree`` on a one-frame tree)
  and the whole scene's metadata at the end (a skeleton tree with empty frames); an error means
  nothing is written at the destination (``SceneValidationError`` carrying the issues).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sfs_kit._paths import contained
from sfs_kit._version import __version__
from sfs_kit.capture.base import CameraSource, Capture, LidarSource
from sfs_kit.capture.camera_video import camera_video_file, stream_path
from sfs_kit.capture.downsample import downsample_indices
from sfs_kit.capture.options import ConvertOptions, RecentreMode
from sfs_kit.capture.sync import match_nearest, sample_poses
from sfs_kit.codecs._output import check_output_file, check_output_folder, output_errors
from sfs_kit.codecs.frame_json import FrameImage, LidarFrameData, encode_frame, frame_file_name
from sfs_kit.codecs.sfs import SfsAppendWriter
from sfs_kit.codecs.video import even_size, fps_from_timestamps
from sfs_kit.errors import InputError, OutputError, SceneValidationError
from sfs_kit.models.calibration import DISTORTION_PARAM_NAMES
from sfs_kit.models.geometry import matrix_to_pose, pose_to_matrix, transform_points
from sfs_kit.models.scene import Scene
from sfs_kit.models.validate import Issue, validate_tree

__all__ = [
    "ConvertOptions",
    "ConvertResult",
    "Format",
    "ProgressCallback",
    "convert_capture",
    "read_capture_scene",
]

logger = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
Format = Literal["sfs", "split_base64"]
ProgressCallback = Callable[[int, int], None]
"""Called with (steps done, steps total) after every lidar frame and image."""

AUTO_RECENTRE_ABOVE_M = 1e4
IMAGE_GAP_WARN_US = 50_000  # D21
_UINT32_MAX = 2**32 - 1
_FRAME_CAMERA_MODELS = ("brown_conrady", "fisheye", "omnidirectional")


@dataclass(frozen=True)
class ConvertResult:
    """What a conversion wrote: paths, counts, the time base and origin used, and the report."""

    format: Format
    output: Path
    paths: tuple[Path, ...]
    frame_count: int
    point_count: int
    image_count: int
    time_offset_us: int
    origin_offset_m: tuple[float, float, float] | None
    issues: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = ()
    video_count: int = 0  # cameras stored as MP4 video (their frames are not in image_count)

    def to_dict(self) -> dict[str, Any]:
        """JSON view for ``sfs-kit convert --json``."""
        return {
            "format": self.format,
            "output": str(self.output),
            "files_written": len(self.paths),
            "frame_count": self.frame_count,
            "point_count": self.point_count,
            "image_count": self.image_count,
            "video_count": self.video_count,
            "time_offset_us": self.time_offset_us,
            "origin_offset_m": list(self.origin_offset_m) if self.origin_offset_m else None,
            "issues": [issue.to_dict() for issue in self.issues],
            "notes": list(self.notes),
        }


# --- planning: times, poses, origin (small metadata only) ------------------------------------


@dataclass
class _SensorPlan:
    """Absolute content times, ``world_from_sensor`` at each (unshifted), relative times."""

    times_us: npt.NDArray[np.int64]
    world_from_sensor: F64
    rel_us: list[int] = field(default_factory=list)
    poses: list[list[float]] = field(default_factory=list)


@dataclass
class _Plan:
    time_offset_us: int
    origin_m: F64 | None
    shift: F64  # 4x4: world -> recentred world
    lidars: list[_SensorPlan]
    cameras: list[_SensorPlan]
    keep_nonfinite: bool = False
    # (sensor id, frame index, points dropped) for each frame that had non-finite positions
    nonfinite: list[tuple[str, int, int]] = field(default_factory=list)
    # (sensor id, frame index, [tx, ty, tz, qx, qy, qz, qw]) for non-identity PCD viewpoints
    viewpoints: list[tuple[str, int, list[float]]] = field(default_factory=list)
    # distinct notes the frames' loaders made (e.g. each sensor's intensity scale), in order
    load_notes: dict[str, None] = field(default_factory=dict)
    # sensor id -> number of frames that had point colours (split_base64 drops them)
    coloured: dict[str, int] = field(default_factory=dict)


def _world_from_ego(capture: Capture, times_us: npt.NDArray[np.int64], names: list[str]) -> F64:
    if capture.ego_poses is None:
        identity: F64 = np.tile(np.eye(4), (len(times_us), 1, 1))
        return identity
    ego = capture.ego_poses
    samples = sample_poses(
        ego.timestamps_us,
        ego.positions_m,
        ego.quat_xyzw,
        times_us,
        names=names,
        source=ego.source,
        tolerance_us=capture.pose_tolerance_us,
    )
    return pose_to_matrix(np.concatenate([samples.positions_m, samples.quat_xyzw], axis=1))


def _sensor_plan(
    capture: Capture, times: list[int], names: list[str], ego_from_sensor: F64
) -> _SensorPlan:
    t = np.asarray(times, dtype=np.int64)
    world_from_ego = _world_from_ego(capture, t, names)
    return _SensorPlan(times_us=t, world_from_sensor=world_from_ego @ ego_from_sensor)


def _lidar_plan(capture: Capture, lidar: LidarSource) -> _SensorPlan:
    names = [
        f"lidar {lidar.sensor_id!r} frame {i} ({f.source})" for i, f in enumerate(lidar.frames)
    ]
    return _sensor_plan(
        capture, [f.timestamp_us for f in lidar.frames], names, lidar.ego_from_sensor
    )


def _camera_plan(capture: Capture, camera: CameraSource) -> _SensorPlan:
    if camera.video is not None:
        names = [
            f"camera {camera.sensor_id!r} video frame {i} ({camera.video.source})"
            for i in range(camera.content_count)
        ]
    else:
        names = [
            f"camera {camera.sensor_id!r} image {i} ({im.source})"
            for i, im in enumerate(camera.images)
        ]
    return _sensor_plan(capture, camera.content_timestamps_us, names, camera.ego_from_sensor)


def _points_matrix(lidar: LidarSource, plan: _SensorPlan, k: int) -> F64:
    """``world_from_points`` for frame k, by the frame the points are given in."""
    out: F64 = np.eye(4)
    if lidar.points_frame == "sensor":
        out = plan.world_from_sensor[k]
    elif lidar.points_frame == "ego":
        out = plan.world_from_sensor[k] @ np.linalg.inv(lidar.ego_from_sensor)
    return out


def _first_frame_centre(capture: Capture, plan: _SensorPlan) -> F64 | None:
    """Centre of the first lidar frame's bounding box in the world (float64), if it has points."""
    lidar = capture.lidars[0]
    pts = lidar.frames[0].load()
    if not pts.positions_m.shape[0]:
        return None
    m = _points_matrix(lidar, plan, 0) @ _translation(pts.origin_m)
    p = np.asarray(pts.positions_m, dtype=np.float64)
    lo = p.min(axis=0) @ m[:3, :3].T + m[:3, 3]
    hi = p.max(axis=0) @ m[:3, :3].T + m[:3, 3]
    centre: F64 = (lo + hi) / 2.0
    return centre


def _choose_origin(
    capture: Capture, lidar_plans: list[_SensorPlan], recentre: RecentreMode
) -> F64 | None:
    """D15: the first lidar pose translation in whole metres (or the first frame's centre)."""
    if recentre is False:
        return None
    first_pose = lidar_plans[0].world_from_sensor[0, :3, 3]
    all_t = np.concatenate([p.world_from_sensor[:, :3, 3] for p in lidar_plans])
    pose_far = float(np.abs(all_t).max()) > AUTO_RECENTRE_ABOVE_M
    pose_at_zero = float(np.abs(first_pose).max()) < 1.0
    centre = None
    if pose_at_zero and (recentre is True or not pose_far):
        centre = _first_frame_centre(capture, lidar_plans[0])
    points_far = centre is not None and float(np.abs(centre).max()) > AUTO_RECENTRE_ABOVE_M
    if recentre == "auto" and not (pose_far or points_far):
        return None
    base = centre if centre is not None else first_pose
    origin: F64 = np.round(base) + 0.0  # + 0.0 turns -0.0 into 0.0
    return origin


def _translation(offset: F64 | None) -> F64:
    m = np.eye(4)
    if offset is not None:
        m[:3, 3] = offset
    return m


def _plan(capture: Capture, recentre: RecentreMode) -> _Plan:
    if not capture.lidars:
        raise InputError(
            f"Capture {str(capture.path)!r} has no lidar; a scene needs at least one.",
            source=str(capture.path),
            field="lidars",
        )
    for lidar in capture.lidars:
        if not lidar.frames:
            raise InputError(
                f"Capture {str(capture.path)!r}: lidar {lidar.sensor_id!r} has no frames.",
                source=str(capture.path),
                field="lidars",
            )
    for camera in capture.cameras:
        if not camera.content_count:
            raise InputError(
                f"Capture {str(capture.path)!r}: camera {camera.sensor_id!r} has no images.",
                source=str(capture.path),
                field="cameras",
            )
    lidars = [_lidar_plan(capture, lidar) for lidar in capture.lidars]
    cameras = [_camera_plan(capture, camera) for camera in capture.cameras]
    offset = min(int(p.times_us[0]) for p in (*lidars, *cameras))
    origin = _choose_origin(capture, lidars, recentre)
    shift = _translation(None if origin is None else -origin)
    if (
        origin is not None
        and capture.ego_poses is None
        and capture.lidars[0].points_frame == "world"
    ):
        # without a pose file the static ego of a world-frame capture is a stand-in: place it at
        # the chosen origin, so recentring keeps it beside the points instead of moving it the
        # origin's distance away (world-frame points keep their place: their matrix has no ego)
        for p in (*lidars, *cameras):
            p.world_from_sensor = _translation(origin) @ p.world_from_sensor
    for p in (*lidars, *cameras):
        p.rel_us = [int(t) - offset for t in p.times_us]
        p.poses = matrix_to_pose(shift @ p.world_from_sensor).tolist()
    return _Plan(
        time_offset_us=offset, origin_m=origin, shift=shift, lidars=lidars, cameras=cameras
    )


# --- per-frame conversion ---------------------------------------------------------------------


@dataclass
class _FrameArrays:
    positions: npt.NDArray[np.float32]
    intensities: npt.NDArray[np.uint8] | None
    timestamps: npt.NDArray[np.uint32] | None
    points_in: int
    colors: npt.NDArray[np.uint8] | None = None


def _convert_frame(  # noqa: PLR0917
    lidar: LidarSource,
    k: int,
    plan: _Plan,
    sensor_plan: _SensorPlan,
    voxel_size_m: float | None,
    max_points: int | None,
) -> _FrameArrays:
    frame = lidar.frames[k]
    pts = frame.load()
    raw_positions, intensity, time_us = pts.positions_m, pts.intensity, pts.time_us
    colors = pts.colors
    for note in pts.notes:
        plan.load_notes.setdefault(note, None)
    if colors is not None:
        plan.coloured[str(lidar.sensor_id)] = plan.coloured.get(str(lidar.sensor_id), 0) + 1
    if pts.viewpoint is not None and not np.array_equal(pts.viewpoint, _IDENTITY_VIEWPOINT):
        plan.viewpoints.append((str(lidar.sensor_id), k, [float(v) for v in pts.viewpoint]))
    if not plan.keep_nonfinite and not np.isfinite(raw_positions.sum(dtype=np.float64)):
        # organised clouds (Ouster, PCL) mark missing returns with NaN rows: drop them here
        finite = np.isfinite(raw_positions).all(axis=1)
        plan.nonfinite.append((str(lidar.sensor_id), k, int(finite.size - finite.sum())))
        raw_positions = raw_positions[finite]
        intensity = None if intensity is None else intensity[finite]
        time_us = None if time_us is None else time_us[finite]
        colors = None if colors is None else colors[finite]
    matrix = plan.shift @ _points_matrix(lidar, sensor_plan, k) @ _translation(pts.origin_m)
    with np.errstate(invalid="ignore"):  # kept NaN/inf rows (keep_nonfinite): V-A7 reports them
        positions = transform_points(raw_positions, matrix)
    keep = downsample_indices(positions, voxel_size_m=voxel_size_m, max_points=max_points)
    if keep is not None:
        positions = positions[keep]
        intensity = None if intensity is None else intensity[keep]
        time_us = None if time_us is None else time_us[keep]
        colors = None if colors is None else colors[keep]
    stamps: npt.NDArray[np.uint32] | None = None
    if time_us is not None and time_us.size:
        offset = plan.time_offset_us
        lo, hi = int(time_us.min()) - offset, int(time_us.max()) - offset
        if lo < 0 or hi > _UINT32_MAX:
            raise InputError(
                f"{frame.source}: per-point times span [{lo}, {hi}] us relative to the scene start "
                f"{plan.time_offset_us} us; they must lie in [0, {_UINT32_MAX}] (check the point "
                f"time unit and reference in the manifest).",
                source=frame.source,
                field="time",
            )
        # in range, so one pass straight into uint32 (no int64 difference array in between)
        stamps = np.empty(time_us.shape, dtype=np.uint32)
        np.subtract(time_us, np.int64(offset), out=stamps, casting="unsafe")
    elif time_us is not None:
        stamps = None  # V-A10: omit a zero-length timestamps array
    if colors is not None:
        colors = np.ascontiguousarray(colors, dtype=np.uint8)
    for arr in (positions, intensity, stamps, colors):
        if arr is not None and arr.flags.writeable:
            arr.flags.writeable = False
    return _FrameArrays(
        positions=positions,
        intensities=intensity,
        timestamps=stamps,
        points_in=int(pts.positions_m.shape[0]),
        colors=colors,
    )


def _points_tree(
    arrays: _FrameArrays, put: Callable[[npt.NDArray[Any]], object]
) -> dict[str, object]:
    tree: dict[str, object] = {"positions": put(arrays.positions)}
    if arrays.colors is not None:
        tree["colors"] = put(arrays.colors)
    if arrays.intensities is not None:
        tree["intensities"] = put(arrays.intensities)
    if arrays.timestamps is not None:
        tree["timestamps"] = put(arrays.timestamps)
    return tree


def _intrinsics_tree(camera: CameraSource, *, for_sfs: bool) -> dict[str, object]:
    intr = camera.intrinsics
    if for_sfs and intr.skew != 0:
        raise InputError(
            f"{intr.source}: camera {camera.sensor_id!r} has skew {intr.skew!r}; SFS 1.0 cannot "
            f"express skew (D13), so it must be 0 for .sfs output.",
            source=intr.source,
            field="skew",
        )
    dist: dict[str, object] | None = None
    if intr.distortion_model is not None:
        dist = {
            "model": intr.distortion_model,
            "params": [float(v) for v in intr.distortion_params],
        }
    return {
        "fx": float(intr.fx),
        "fy": float(intr.fy),
        "cx": float(intr.cx),
        "cy": float(intr.cy),
        "width": int(intr.width),
        "height": int(intr.height),
        "distortion": dist,
    }


def _load_image(camera: CameraSource, k: int) -> npt.NDArray[np.uint8]:
    image = camera.images[k]
    loaded = image.load()
    intr = camera.intrinsics
    for name, found, want in (
        ("width", loaded.width, intr.width),
        ("height", loaded.height, intr.height),
    ):
        if found != want:
            raise InputError(
                f"{image.source}: the {loaded.format.upper()} image is "
                f"{loaded.width}x{loaded.height} but camera {camera.sensor_id!r} intrinsics "
                f"({intr.source}) say {intr.width}x{intr.height} ({name} differs).",
                source=image.source,
                field=name,
            )
    return np.frombuffer(loaded.content, dtype=np.uint8)


# --- validation -------------------------------------------------------------------------------


def _png_stub(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A 45-byte PNG (signature, IHDR with the size, IEND) standing in for the skeleton images."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    return np.frombuffer(data, dtype=np.uint8)


def _scene_head(plan: _Plan, capture: Capture) -> dict[str, object]:
    own: dict[str, object] = {"writer": f"sfs_kit {__version__}", "source_layout": capture.layout}
    if plan.origin_m is not None:
        own["origin_offset"] = [float(v) for v in plan.origin_m]
    metadata: dict[str, object] = {**dict(capture.metadata), "sfs_kit": own}
    return {"time_offset": plan.time_offset_us, "time_unit": "microseconds", "metadata": metadata}


_EMPTY_POSITIONS = np.zeros((0, 3), dtype=np.float32)
_EMPTY_POSITIONS.flags.writeable = False


def _lidar_tree(
    lidar: LidarSource, sp: _SensorPlan, frames: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "id": lidar.sensor_id,
        "type": "lidar",
        "poses": {"timestamps": sp.rel_us, "values": sp.poses},
        "frames": frames,
        "coordinates": "world",
    }


def _camera_tree(
    camera: CameraSource,
    sp: _SensorPlan,
    images: list[dict[str, object]] | None,
    *,
    for_sfs: bool,
    video: dict[str, object] | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, object]:
    """A camera's tree; ``size`` replaces the intrinsics' width and height (an even video)."""
    content: dict[str, object] = {"images": images} if video is None else {"video": video}
    intrinsics = _intrinsics_tree(camera, for_sfs=for_sfs)
    if size is not None:
        intrinsics["width"], intrinsics["height"] = size
    return {
        "id": camera.sensor_id,
        "type": "camera",
        "poses": {"timestamps": sp.rel_us, "values": sp.poses},
        "intrinsics": intrinsics,
        **content,
    }


@dataclass
class _VideoOut:
    """Cameras as MP4 (``--camera-video``): where temporary MP4s go and how a file is stored."""

    temp_prefix: Path  # "<folder>/.<name>.<token>": camera c encodes to "<prefix>.cam<c>.mp4"
    put_file: Callable[[Path], object]
    all_cameras: bool  # encode image cameras too (False: only cameras whose input is a video)
    temp_files: list[Path] = field(default_factory=list)
    passed_through: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    count: int = 0

    def cleanup(self) -> None:
        for path in self.temp_files:
            path.unlink(missing_ok=True)
        self.temp_files.clear()


def _refuse_video_input(camera: CameraSource) -> None:
    if camera.video is not None:
        raise InputError(
            f"Camera {camera.sensor_id!r}: its input is a video ({camera.video.source}); only "
            "a .sfs file can store it (split_base64 frames reference images, D21).",
            source=camera.video.source,
            field="video",
        )


def _video_camera(  # noqa: PLR0917
    camera: CameraSource,
    sp: _SensorPlan,
    c: int,
    video: _VideoOut,
    head: dict[str, object],
    counter: _Counter,
    issues: list[Issue],
) -> dict[str, object]:
    """Encode (or pass through) camera c's MP4, store it, and check it against V-C5."""
    temp = video.temp_prefix.with_name(f"{video.temp_prefix.name}.cam{c}.mp4")
    video.temp_files += [temp, stream_path(temp)]
    fps = fps_from_timestamps(sp.rel_us)
    made = camera_video_file(
        camera, temp, fps=fps, load_image=lambda k: _load_image(camera, k), step=counter.step
    )
    if made.passed_through:
        video.passed_through.append(camera.sensor_id)
    intr = camera.intrinsics
    size = even_size(intr.width, intr.height)
    if size != (intr.width, intr.height):
        video.notes.append(
            f"camera {camera.sensor_id!r}: its {intr.width}x{intr.height} pictures are stored as a "
            f"{size[0]}x{size[1]} video (H.264 4:2:0 needs even sides; the last "
            f"{'column' if size[0] != intr.width else 'row'} is cropped, fx/fy/cx/cy unchanged)."
        )
    content = np.memmap(made.path, dtype=np.uint8, mode="r")
    tree = {
        "version": "1.0",
        "sensors": [_video_camera_tree(camera, sp, size, content, fps)],
        **head,
    }
    prefix = f"sensors[{camera.sensor_id}].video"
    issues.extend(i for i in validate_tree(tree) if i.path.startswith(prefix))
    del content, tree
    video.count += 1
    stored = video.put_file(made.path)
    if made.temporary:
        made.path.unlink(missing_ok=True)
    return _video_camera_tree(camera, sp, size, stored, fps)


def _video_camera_tree(
    camera: CameraSource, sp: _SensorPlan, size: tuple[int, int], content: object, fps: float
) -> dict[str, object]:
    video = {"timestamps": sp.rel_us, "content": content, "fps": fps}
    return _camera_tree(camera, sp, None, for_sfs=True, video=video, size=size)


def _frame_issues(
    lidar: LidarSource, sp: _SensorPlan, k: int, arrays: _FrameArrays, head: dict[str, object]
) -> list[Issue]:
    """Array rules for frame k, checked in a one-frame tree (plus an empty next frame for V-A9)."""
    frames: list[dict[str, object]] = [
        {"timestamp": sp.rel_us[k], "points": _points_tree(arrays, lambda a: a)}
    ]
    if k + 1 < len(sp.rel_us):
        frames.append({"timestamp": sp.rel_us[k + 1], "points": {"positions": _EMPTY_POSITIONS}})
    # only this frame's pose: pose-path rules are the skeleton's job, and a short path keeps the
    # per-frame validation cost independent of the capture length
    sensor = {
        "id": lidar.sensor_id,
        "type": "lidar",
        "coordinates": "world",
        "frames": frames,
        "poses": {"timestamps": [sp.rel_us[k]], "values": [sp.poses[k]]},
    }
    tree = {"version": "1.0", "sensors": [sensor], **head}
    prefix = f"sensors[{lidar.sensor_id}].frames[0]"
    out = []
    for issue in validate_tree(tree):
        if issue.path == prefix or issue.path.startswith(prefix + "."):
            path = f"sensors[{lidar.sensor_id}].frames[{k}]" + issue.path[len(prefix) :]
            out.append(Issue(issue.code, issue.severity, path, issue.message))
    return out


def _skeleton_issues(
    capture: Capture, plan: _Plan, head: dict[str, object], *, for_sfs: bool
) -> list[Issue]:
    """Scene-level rules (ids, times, rates, poses, intrinsics) on a tree with empty frames."""
    sensors: list[dict[str, object]] = []
    for lidar, sp in zip(capture.lidars, plan.lidars, strict=True):
        frames: list[dict[str, object]] = [
            {"timestamp": t, "points": {"positions": _EMPTY_POSITIONS}} for t in sp.rel_us
        ]
        sensors.append(_lidar_tree(lidar, sp, frames))
    for camera, sp in zip(capture.cameras, plan.cameras, strict=True):
        stub = _png_stub(camera.intrinsics.width, camera.intrinsics.height)
        images: list[dict[str, object]] = [{"timestamp": t, "content": stub} for t in sp.rel_us]
        sensors.append(_camera_tree(camera, sp, images, for_sfs=for_sfs))
    return validate_tree({"version": "1.0", "sensors": sensors, **head})


def _check(issues: list[Issue], what: str) -> None:
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise SceneValidationError(
            f"The converted scene is invalid ({len(errors)} error(s), first: {errors[0]}); "
            f"nothing was written to {what}.",
            issues=issues,
        )


# --- the three outputs --------------------------------------------------------------------------


def _steps(capture: Capture) -> int:
    return capture.frame_count + sum(c.content_count for c in capture.cameras)


class _Counter:
    def __init__(self, total: int, on_progress: ProgressCallback | None) -> None:
        self.total, self.done, self.cb = total, 0, on_progress

    def step(self) -> None:
        self.done += 1
        if self.cb is not None:
            self.cb(self.done, self.total)


def _build_tree(
    capture: Capture,
    plan: _Plan,
    put: Callable[[npt.NDArray[Any]], object],
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: _Counter,
    video: _VideoOut | None = None,
) -> tuple[dict[str, Any], list[Issue], int]:
    """The scene tree with every array passed through ``put`` (spool or keep), one at a time.

    With ``video``, cameras become MP4s (images encoded, or a video input passed through) added
    with ``video.put_file``; a camera whose input is a video needs ``video`` (split_base64 and
    the in-memory scene without it refuse it).
    """
    head = _scene_head(plan, capture)
    issues = _skeleton_issues(capture, plan, head, for_sfs=True)
    _check(issues, "the output")  # metadata errors: fail before loading any frame
    points = 0
    sensors: list[dict[str, object]] = []
    for lidar, sp in zip(capture.lidars, plan.lidars, strict=True):
        frames: list[dict[str, object]] = []
        for k in range(len(lidar.frames)):
            arrays = _convert_frame(lidar, k, plan, sp, voxel_size_m, max_points)
            issues.extend(_frame_issues(lidar, sp, k, arrays, head))
            points += arrays.positions.shape[0]
            frames.append({"timestamp": sp.rel_us[k], "points": _points_tree(arrays, put)})
            counter.step()
        sensors.append(_lidar_tree(lidar, sp, frames))
    for c, (camera, sp) in enumerate(zip(capture.cameras, plan.cameras, strict=True)):
        _intrinsics_tree(camera, for_sfs=True)  # fail early on skew, before loading images
        if video is not None and (video.all_cameras or camera.video is not None):
            sensors.append(_video_camera(camera, sp, c, video, head, counter, issues))
            continue
        _refuse_video_input(camera)
        images: list[dict[str, object]] = []
        for k in range(len(camera.images)):
            images.append({"timestamp": sp.rel_us[k], "content": put(_load_image(camera, k))})
            counter.step()
        sensors.append(_camera_tree(camera, sp, images, for_sfs=True))
    return {"version": "1.0", "sensors": sensors, **head}, issues, points


_IDENTITY_VIEWPOINT = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


def _viewpoint_notes(plan: _Plan) -> list[str]:
    """One note per lidar whose PCD files carry a non-identity VIEWPOINT (not applied)."""
    by_sensor: dict[str, list[tuple[int, list[float]]]] = {}
    for sensor, k, viewpoint in plan.viewpoints:
        by_sensor.setdefault(sensor, []).append((k, viewpoint))
    notes = []
    for sensor, frames in by_sensor.items():
        first_k, first = frames[0]
        notes.append(
            f"lidar {sensor!r}: {len(frames)} frame(s) have a non-identity PCD VIEWPOINT "
            f"(frame {first_k}: {first!r} as [tx, ty, tz, qx, qy, qz, qw]); it is not applied "
            "(PCL keeps it as metadata beside the points): check the manifest's frame and "
            "extrinsics for this lidar."
        )
    for note in notes:
        logger.warning("%s", note)
    return notes


def _load_notes(plan: _Plan, *, colours_dropped: bool) -> list[str]:
    """The loaders' decisions (one note each) and, for split_base64, the dropped colours."""
    notes = list(plan.load_notes)
    for note in notes:
        logger.info("%s", note)
    if colours_dropped:
        for sensor, count in plan.coloured.items():
            note = (
                f"lidar {sensor!r}: {count} frame(s) have point colours, which split_base64 "
                "does not carry (spec 4.2): they were dropped; convert to .sfs to keep them."
            )
            logger.warning("%s", note)
            notes.append(note)
    return notes


def _nonfinite_notes(plan: _Plan) -> list[str]:
    """One note per lidar whose frames had non-finite positions dropped: per frame and total."""
    by_sensor: dict[str, list[tuple[int, int]]] = {}
    for sensor, k, count in plan.nonfinite:
        by_sensor.setdefault(sensor, []).append((k, count))
    notes = []
    for sensor, frames in by_sensor.items():
        total = sum(count for _, count in frames)
        shown = ", ".join(f"frame {k}: {count}" for k, count in frames[:10])
        more = f", ... ({len(frames) - 10} more frames)" if len(frames) > 10 else ""
        notes.append(
            f"lidar {sensor!r}: dropped {total} point(s) with NaN/inf positions in "
            f"{len(frames)} frame(s) ({shown}{more}); keep_nonfinite=True (--keep-nonfinite) "
            "refuses such frames instead."
        )
    for note in notes:
        logger.info("%s", note)
    return notes


def _read_file(path: Path) -> npt.NDArray[np.uint8]:
    data = np.fromfile(path, dtype=np.uint8)
    data.flags.writeable = False
    return data


def _as_capture(
    capture: Capture | str | os.PathLike[str],
    allow_outside: bool = False,
    frame_rate_hz: float | None = None,
) -> Capture:
    if isinstance(capture, Capture):
        return capture
    from sfs_kit.capture.layout import open_capture  # layout imports every reader

    return open_capture(
        capture, allow_outside_capture=allow_outside, frame_rate_hz=frame_rate_hz
    )


def read_capture_scene(
    capture: Capture | str | os.PathLike[str],
    *,
    options: ConvertOptions | None = None,
    recentre: RecentreMode | None = None,
    voxel_size_m: float | None = None,
    max_points_per_frame: int | None = None,
    keep_nonfinite: bool | None = None,
    camera_video: bool | None = None,
) -> Scene:
    """The whole capture as an in-memory ``Scene`` (small captures and tests; holds every array).

    ``options`` as in ``convert_capture`` (a keyword given here overrides it). Points with
    NaN/inf positions are dropped (logged) unless ``keep_nonfinite``. ``camera_video`` encodes
    every camera as an H.264 MP4 (D8); a camera whose input is a video is always stored as one.
    """
    opts = _options(options, recentre=recentre, voxel_size_m=voxel_size_m,
                    max_points_per_frame=max_points_per_frame, keep_nonfinite=keep_nonfinite,
                    camera_video=camera_video)
    cap = _as_capture(capture, opts.allow_outside_capture, opts.frame_rate_hz)
    plan = _plan(cap, opts.recentre)
    plan.keep_nonfinite = opts.keep_nonfinite
    with tempfile.TemporaryDirectory(prefix="sfs_kit-video-") as tmp:
        video = _VideoOut(
            temp_prefix=Path(tmp) / "scene", put_file=_read_file, all_cameras=opts.camera_video
        )
        try:
            tree, issues, _ = _build_tree(
                cap,
                plan,
                lambda a: a,
                voxel_size_m=opts.voxel_size_m,
                max_points=opts.max_points_per_frame,
                counter=_Counter(0, None),
                video=video,
            )
        finally:
            video.cleanup()
    _check(issues, "the scene")
    _load_notes(plan, colours_dropped=False)
    _nonfinite_notes(plan)
    _viewpoint_notes(plan)
    return Scene.model_validate(tree)


# upper bounds on the JSON of one lidar frame / image entry and one "$items" entry (20-digit
# numbers, the longest key names: 173 bytes), so only odd metadata can outgrow the reservation
_FRAME_JSON_BYTES = 160
_IMAGE_JSON_BYTES = 80
_ITEM_JSON_BYTES = 200


def _header_reserve(cap: Capture, plan: _Plan) -> int:
    """A generous estimate of the .sfs header length: the writer then needs no copy at finish."""
    size = 4096 + len(json.dumps(_scene_head(plan, cap), default=str))
    ids = [lidar.sensor_id for lidar in cap.lidars] + [cam.sensor_id for cam in cap.cameras]
    for sensor_id, sp in zip(ids, (*plan.lidars, *plan.cameras), strict=True):
        size += 1024 + 2 * len(json.dumps(sensor_id))
        size += len(json.dumps({"timestamps": sp.rel_us, "values": sp.poses}))
    for sp in plan.lidars:
        size += len(sp.rel_us) * (_FRAME_JSON_BYTES + 3 * _ITEM_JSON_BYTES)
    for sp in plan.cameras:
        size += len(sp.rel_us) * (_IMAGE_JSON_BYTES + _ITEM_JSON_BYTES)
    return size


def _convert_sfs(
    cap: Capture,
    plan: _Plan,
    out: Path,
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: _Counter,
    camera_video: bool = False,
) -> ConvertResult:
    with SfsAppendWriter(out, reserve_header_bytes=_header_reserve(cap, plan)) as writer:
        video = _VideoOut(
            temp_prefix=out.with_name(f".{out.name}.{secrets.token_hex(6)}"),
            put_file=writer.add_file,
            all_cameras=camera_video,
        )
        try:
            tree, issues, points = _build_tree(
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
        _check(issues, "the output")
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
        origin_offset_m=_origin_tuple(plan),
        issues=tuple(issues),
        notes=(
            *cap.notes,
            *notes,
            *_load_notes(plan, colours_dropped=False),
            *_nonfinite_notes(plan),
            *_viewpoint_notes(plan),
        ),
        video_count=video.count,
    )


def _origin_tuple(plan: _Plan) -> tuple[float, float, float] | None:
    if plan.origin_m is None:
        return None
    return (float(plan.origin_m[0]), float(plan.origin_m[1]), float(plan.origin_m[2]))


def _frame_camera(
    camera: CameraSource, sp: _SensorPlan, k: int, url: str, plan: _Plan
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
    plan: _Plan,
    out: _FramesOut,
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: _Counter,
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
        _refuse_video_input(camera)
    head = _scene_head(plan, cap)
    issues = _skeleton_issues(cap, plan, head, for_sfs=False)
    _check(issues, "the output")  # metadata errors: fail before loading any frame
    notes: list[str] = []
    matches = [match_nearest(cp.times_us, sp.times_us) for cp in plan.cameras]
    points = 0
    for k in range(len(lidar.frames)):
        arrays = _convert_frame(lidar, k, plan, sp, voxel_size_m, max_points)
        issues.extend(_frame_issues(lidar, sp, k, arrays, head))
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
                content = _load_image(camera, j)
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
        )
        name = frame_file_name(k)
        # images are referenced by relative path until upload gives them URLs
        encoded = encode_frame(data, allow_relative_image_urls=True, source=str(out.tmp / name))
        (out.tmp / name).write_bytes(encoded)
        out.paths.append(Path(name))
        points += arrays.positions.shape[0]
        counter.step()
    _check(issues, "the output")
    return issues, notes, points


def _convert_frames(
    cap: Capture,
    plan: _Plan,
    out_dir: Path,
    *,
    voxel_size_m: float | None,
    max_points: int | None,
    counter: _Counter,
    overwrite: bool = False,
) -> ConvertResult:
    _check_frames_folder(out_dir, overwrite=overwrite)
    tmp = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(6)}.tmp")
    with output_errors(out_dir, "folder"):
        tmp.mkdir()
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
    frames = sum(1 for p in out.paths if p.name.startswith("frame-"))
    return ConvertResult(
        format="split_base64",
        output=out_dir,
        paths=tuple(out_dir / p for p in out.paths),
        frame_count=frames,
        point_count=points,
        image_count=len(out.images),
        time_offset_us=plan.time_offset_us,
        origin_offset_m=_origin_tuple(plan),
        issues=tuple(issues),
        notes=(
            *cap.notes,
            *notes,
            *_load_notes(plan, colours_dropped=True),
            *_nonfinite_notes(plan),
            *_viewpoint_notes(plan),
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


def _check_frames_folder(out_dir: Path, *, overwrite: bool = False) -> None:
    """A split_base64 output folder: its parent exists; it is new or an empty folder (or any
    folder, with ``overwrite``)."""
    check_output_folder(out_dir)
    if not overwrite and out_dir.exists() and any(out_dir.iterdir()):
        raise OutputError(
            f"Output folder {str(out_dir)!r} exists and is not empty; choose a new one. "
            f"(overwrite=True, or --overwrite, replaces it.)",
            path=str(out_dir),
        )


def convert_capture(
    capture_path: Capture | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: Format,
    options: ConvertOptions | None = None,
    on_progress: ProgressCallback | None = None,
    recentre: RecentreMode | None = None,
    voxel_size_m: float | None = None,
    max_points_per_frame: int | None = None,
    keep_nonfinite: bool | None = None,
    overwrite: bool = False,
    camera_video: bool | None = None,
) -> ConvertResult:
    """Convert a capture to ``out`` (a .sfs file or a split_base64 folder), streaming frames.

    ``options`` (``ConvertOptions``) says how: recentring, thinning, non-finite points, ...; the
    keywords ``recentre``, ``voxel_size_m``, ``max_points_per_frame`` and ``keep_nonfinite``
    override single fields of it (None: keep ``options``' value). A .sfs file is replaced
    atomically; an existing non-empty frames folder is refused unless ``overwrite``, which swaps
    in the new folder only once it is complete.

    Raises ``OutputError`` before reading anything when ``out`` cannot be written (its folder
    must exist; a .sfs may not be a folder, a frames folder must be new or empty), ``InputError``
    for bad input and ``SceneValidationError`` (with ``issues``) when the result would be invalid;
    in every case nothing is written at ``out``. Warnings are returned in ``ConvertResult.issues``.

    Points whose position is NaN/inf (the missing returns of organised clouds) are dropped, with
    a note per lidar giving the count per frame and the total; ``keep_nonfinite=True`` keeps
    them, so such a frame fails validation (V-A7) and nothing is written.

    ``camera_video`` (.sfs only) stores each camera as one H.264 MP4 (``video``: Scale's encoder
    settings, D8, fps from the timestamps), encoded one image at a time into a temporary file that
    the writer copies in. A camera whose input is already a video is always stored as video:
    unchanged when it is H.264 in MP4, re-encoded otherwise. Needs the ``video`` extra (PyAV).
    """
    if format not in ("sfs", "split_base64"):
        raise InputError(f"format must be 'sfs' or 'split_base64', got {format!r}.", field="format")
    opts = _options(options, recentre=recentre, voxel_size_m=voxel_size_m,
                    max_points_per_frame=max_points_per_frame, keep_nonfinite=keep_nonfinite,
                    camera_video=camera_video)
    opts.check_format(format)
    if format == "sfs":
        check_output_file(out)
    else:
        _check_frames_folder(Path(os.fspath(out)), overwrite=overwrite)
    cap = _as_capture(capture_path, opts.allow_outside_capture, opts.frame_rate_hz)
    plan = _plan(cap, opts.recentre)
    plan.keep_nonfinite = opts.keep_nonfinite
    counter = _Counter(_steps(cap), on_progress)
    dest = Path(os.fspath(out))
    if format == "sfs":
        return _convert_sfs(
            cap,
            plan,
            dest,
            voxel_size_m=opts.voxel_size_m,
            max_points=opts.max_points_per_frame,
            counter=counter,
            camera_video=opts.camera_video,
        )
    return _convert_frames(
        cap, plan, dest, voxel_size_m=opts.voxel_size_m, max_points=opts.max_points_per_frame,
        counter=counter, overwrite=overwrite,
    )


def _options(options: ConvertOptions | None, **overrides: Any) -> ConvertOptions:
    """``options`` (default ``ConvertOptions()``) with the keyword overrides that are not None."""
    base = options if options is not None else ConvertOptions()
    given = {name: value for name, value in overrides.items() if value is not None}
    return replace(base, **given) if given else base
