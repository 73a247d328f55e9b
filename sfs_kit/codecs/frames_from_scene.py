"""SFS ``Scene`` -> per-frame split_base64 LiDAR JSON (spec §4.3-§4.5, D21-D23).

One ``LidarFrameData`` per frame of the scene's only lidar, produced lazily (one frame in memory at
a time):

- points in the **world** frame: ``ego`` points are moved with the lidar pose interpolated at the
  frame time (float64 maths, then float32); the device pose is that interpolated lidar pose;
- intensities uint8 -> float32 ``v / 255``; time: ``(time_offset + t) * 1000`` ns for microsecond
  scenes (``time_offset + t`` for nanosecond ones), for frames, point timestamps and images;
- per camera, the image nearest the frame time (a gap above 50 ms warns once per camera), posed by
  the camera pose interpolated at the image time; distortion params are mapped by name, and only
  ``brown_conrady``, ``fisheye`` and ``omnidirectional`` (or no distortion) can be exported;
- per radar, the radar frame nearest the frame time when this frame is also the lidar frame
  nearest to it, so each radar sweep goes into one frame only (a radar with one sweep is not
  repeated in every frame; ties go to the earlier frame); ``ego`` positions are transformed and
  directions rotated (not translated); ``lengths`` become ``size``.

Dropped data (point colours) and large camera gaps are reported with ``warnings.warn``
(``FrameFieldDroppedWarning`` / ``FrameTimingWarning``), once per sensor. Scenes this export cannot
represent raise ``SceneValidationError``. Recentring (V-O1) is the caller's step, done before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from sfs_kit.codecs._output import check_output_folder, output_errors
from sfs_kit.codecs.frame_json import (
    CAMERA_MODELS,
    CameraModel,
    FrameFieldDroppedWarning,
    FrameImage,
    LidarFrameData,
    RadarPointsWorld,
    encode_frame,
    frame_file_name,
)
from sfs_kit.errors import OutputError, SceneValidationError
from sfs_kit.models import CameraSensor, LidarSensor, PosePath, RadarFrame, RadarSensor, Scene
from sfs_kit.models.geometry import (
    interpolate_pose,
    pose_to_matrix,
    rotate_vectors,
    transform_points,
)

__all__ = ["FrameTimingWarning", "scene_to_frames", "write_frames"]

ImageUrlFor = Callable[[str, int], str]
"""``image_url_for(camera_id, image_index) -> url``: the URL of ``camera.images[image_index]``."""

_MAX_IMAGE_GAP_MS: Final[int] = 50
_UINT64_LIMIT: Final[int] = 2**64


class FrameTimingWarning(UserWarning):
    """A camera image chosen for a frame is more than 50 ms away from the frame time."""


def _pose_at(
    path: PosePath, timestamp: int
) -> tuple[tuple[float, float, float], npt.NDArray[np.float64]]:
    """Interpolated position and the 7-vector pose at one scene timestamp (float64)."""
    position, quat = interpolate_pose(path, [timestamp])
    pose = np.concatenate([position[0], quat[0]])
    return (float(position[0, 0]), float(position[0, 1]), float(position[0, 2])), pose


def _quat_tuple(pose: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    return (float(pose[3]), float(pose[4]), float(pose[5]), float(pose[6]))


def _nearest(timestamps: npt.NDArray[np.int64], t: int) -> int:
    return int(np.argmin(np.abs(timestamps - t)))


class _Camera:
    """What a camera contributes to every frame: checked intrinsics and its image times."""

    def __init__(self, camera: CameraSensor) -> None:
        self.sensor = camera
        self.id = str(camera.id)
        if camera.images is None:
            raise SceneValidationError(
                f"Camera {self.id!r} holds a video; frame export needs images "
                "(decode the video to JPEG first)."
            )
        if not camera.images:
            raise SceneValidationError(f"Camera {self.id!r} has no images to attach to frames.")
        distortion = camera.intrinsics.distortion
        model = "brown_conrady" if distortion is None else distortion.model
        if model not in CAMERA_MODELS:
            raise SceneValidationError(
                f"Camera {self.id!r} uses distortion model {model!r}; frame export supports only "
                f"{', '.join(CAMERA_MODELS)} (D21)."
            )
        self.model = cast(CameraModel, model)
        self.params = {} if distortion is None else distortion.by_name()
        self.times = np.array([image.timestamp for image in camera.images], dtype=np.int64)
        self.warned = False

    def param(self, name: str) -> float:
        """A distortion parameter by name; 0 when the model lacks it (spec §4.3)."""
        return float(self.params.get(name, 0.0))


def _radar_sweeps(radar: RadarSensor, lidar_times: npt.NDArray[np.int64]) -> dict[int, int]:
    """``{lidar frame index: radar frame index}``: each lidar frame's nearest radar frame, kept
    when that lidar frame is also the one nearest to the radar frame (mutual nearest)."""
    times = np.array([f.timestamp for f in radar.frames], dtype=np.int64)
    home = [_nearest(lidar_times, int(t)) for t in times]  # each sweep's nearest lidar frame
    picks = {}
    for index, t in enumerate(lidar_times):
        sweep = _nearest(times, int(t))
        if home[sweep] == index:
            picks[index] = sweep
    return picks


def _radar_points(
    radar: RadarSensor, frame: RadarFrame
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None, npt.NDArray[np.float32] | None]:
    points = frame.points
    positions, directions = points.positions, points.directions
    if radar.coordinates == "ego":
        _, pose = _pose_at(radar.poses, frame.timestamp)
        world_from_radar = pose_to_matrix(pose)
        positions = transform_points(positions, world_from_radar)
        if directions is not None:
            directions = rotate_vectors(directions, world_from_radar)
    return positions, directions, points.lengths


def _merge_radar(
    chunks: list[
        tuple[
            npt.NDArray[np.float32], npt.NDArray[np.float32] | None, npt.NDArray[np.float32] | None
        ]
    ],
    radar_ids: list[str],
) -> RadarPointsWorld | None:
    if not chunks:
        return None
    positions = np.concatenate([c[0] for c in chunks]).astype(np.float32)
    merged: list[npt.NDArray[np.float32] | None] = []
    for index, name in ((1, "directions"), (2, "lengths")):
        present = [c[index] is not None for c in chunks]
        if any(present) and not all(present):
            raise SceneValidationError(
                f"Radars {', '.join(map(repr, radar_ids))} disagree on {name!r}: some frames "
                "have it and some do not, so radar_points cannot be merged."
            )
        arrays = [c[index] for c in chunks]
        merged.append(
            np.concatenate([a for a in arrays if a is not None]).astype(np.float32)
            if all(present)
            else None
        )
    return RadarPointsWorld(positions=positions, directions=merged[0], sizes=merged[1])


def scene_to_frames(
    scene: Scene,
    *,
    image_url_for: ImageUrlFor,
    include_point_timestamps: bool = False,
) -> Iterator[LidarFrameData]:
    """Yield one world-frame ``LidarFrameData`` per lidar frame, in frame order (a generator).

    ``image_url_for(camera_id, image_index)`` gives the fetchable URL of that camera image (the
    index is into ``camera.images``). Raises ``SceneValidationError`` when the scene has not
    exactly one lidar, a camera cannot be exported (video, no images, unsupported model), or
    point timestamps are asked for but missing.
    """
    lidars = [s for s in scene.sensors if isinstance(s, LidarSensor)]
    if len(lidars) != 1:
        ids = ", ".join(repr(str(s.id)) for s in lidars) or "none"
        raise SceneValidationError(
            f"Frame export needs exactly one lidar sensor, found {len(lidars)} ({ids}); merge "
            "lidars first (D23)."
        )
    lidar = lidars[0]
    cameras = [_Camera(s) for s in scene.sensors if isinstance(s, CameraSensor)]
    radars = [s for s in scene.sensors if isinstance(s, RadarSensor)]
    lidar_times = np.array([f.timestamp for f in lidar.frames], dtype=np.int64)
    sweeps = [_radar_sweeps(r, lidar_times) for r in radars]
    offset = scene.time_offset or 0
    to_ns = 1000 if scene.time_unit == "microseconds" else 1
    max_gap = _MAX_IMAGE_GAP_MS * 1_000_000 // to_ns  # in scene units

    colour_frames = sum(1 for f in lidar.frames if f.points.colors is not None)
    if colour_frames:
        warnings.warn(
            f"Lidar {str(lidar.id)!r}: point colours in {colour_frames} frame(s) are not part of "
            "the split_base64 format and were dropped.",
            FrameFieldDroppedWarning,
            stacklevel=2,
        )

    for index, frame in enumerate(lidar.frames):
        t = frame.timestamp
        position, pose = _pose_at(lidar.poses, t)
        points = frame.points.positions
        if lidar.coordinates == "ego":
            points = transform_points(points, pose_to_matrix(pose))
        intensities = None
        if frame.points.intensities is not None:
            intensities = frame.points.intensities.astype(np.float32) / np.float32(255.0)
        stamps = None
        if include_point_timestamps:
            raw = frame.points.timestamps
            if raw is None:
                raise SceneValidationError(
                    f"Lidar {str(lidar.id)!r} frame {index} has no point timestamps, but "
                    "include_point_timestamps=True was asked for."
                )
            if len(raw) and (offset + int(raw.max())) * to_ns >= _UINT64_LIMIT:
                raise SceneValidationError(
                    f"Lidar {str(lidar.id)!r} frame {index}: point timestamps overflow uint64 "
                    "nanoseconds."
                )
            stamps = (raw.astype(np.uint64) + np.uint64(offset)) * np.uint64(to_ns)

        images = []
        for camera in cameras:
            chosen = _nearest(camera.times, t)
            image_t = int(camera.times[chosen])
            gap = abs(image_t - t)
            if gap > max_gap and not camera.warned:
                camera.warned = True
                warnings.warn(
                    f"Camera {camera.id!r}: the image nearest lidar frame {index} is "
                    f"{gap * to_ns / 1e6:.1f} ms away (more than {_MAX_IMAGE_GAP_MS} ms); later "
                    "gaps of this camera are not reported.",
                    FrameTimingWarning,
                    stacklevel=2,
                )
            cam_position, cam_pose = _pose_at(camera.sensor.poses, image_t)
            intr = camera.sensor.intrinsics
            images.append(
                FrameImage(
                    image_url=image_url_for(camera.id, chosen),
                    position_m=cam_position,
                    heading_quat_xyzw=_quat_tuple(cam_pose),
                    camera_model=camera.model,
                    fx=intr.fx,
                    fy=intr.fy,
                    cx=intr.cx,
                    cy=intr.cy,
                    k1=camera.param("k1"),
                    k2=camera.param("k2"),
                    p1=camera.param("p1"),
                    p2=camera.param("p2"),
                    k3=camera.param("k3"),
                    k4=camera.param("k4"),
                    k5=camera.param("k5"),
                    k6=camera.param("k6"),
                    lx=camera.param("lx"),
                    ly=camera.param("ly"),
                    xi=camera.param("xi"),
                    timestamp_ns=(offset + image_t) * to_ns,
                )
            )

        present = [(r, picks[index]) for r, picks in zip(radars, sweeps, strict=True)
                   if index in picks]
        radar = _merge_radar([_radar_points(r, r.frames[k]) for r, k in present],
                             [str(r.id) for r, _ in present])
        yield LidarFrameData(
            points_world=points,
            device_position_m=position,
            device_heading_quat_xyzw=_quat_tuple(pose),
            timestamp_ns=(offset + t) * to_ns,
            intensities=intensities,
            point_timestamps_ns=stamps,
            images=tuple(images),
            radar=radar,
        )


def write_frames(
    scene: Scene,
    out_dir: str | os.PathLike[str],
    *,
    image_url_for: ImageUrlFor,
    include_point_timestamps: bool = False,
    allow_relative_image_urls: bool = False,
) -> list[Path]:
    """Write ``frame-00000.json``... into ``out_dir``; returns the paths.

    ``out_dir`` is created if missing, but its parent folder must exist (``OutputError``
    otherwise, as for .sfs outputs: see ``sfs_kit.codecs._output``).

    Frames are encoded one at a time into a temporary folder inside ``out_dir`` and moved into
    place (``os.replace``) only when all of them were written, so a failure while converting or
    encoding adds nothing to ``out_dir``. Existing files with the same names are replaced (a
    failure during the final moves removes the ones already moved); other files are untouched.
    ``allow_relative_image_urls`` is passed to ``encode_frame``.
    """
    target = check_output_folder(out_dir)
    with output_errors(target, "folder"):
        target.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".frames-", dir=target))
    moved: list[Path] = []
    try:
        names: list[str] = []
        frames = scene_to_frames(
            scene, image_url_for=image_url_for, include_point_timestamps=include_point_timestamps
        )
        for index, frame in enumerate(frames):
            name = frame_file_name(index)
            data = encode_frame(
                frame,
                include_point_timestamps=include_point_timestamps,
                allow_relative_image_urls=allow_relative_image_urls,
                source=str(target / name),
            )
            (staging / name).write_bytes(data)
            names.append(name)
        for name in names:
            os.replace(staging / name, target / name)
            moved.append(target / name)
    except OSError as err:
        for path in moved:
            path.unlink(missing_ok=True)
        msg = f"Cannot write frames into {str(target)!r}: {err.strerror or err}."
        raise OutputError(msg, path=str(target)) from err
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return moved
