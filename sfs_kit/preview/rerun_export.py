"""``write_rerun``: the scene as a Rerun recording (``.rrd``) for interactive 3D inspection.

Entities (world frame, z up): ``world/<lidar>/points`` one point cloud per drawn frame on the
``scene_time`` timeline, coloured by height; ``world/<lidar>/trajectory`` the pose path as a line
strip; ``world/<camera>`` the camera pose (a ``Transform3D`` per image) with a ``Pinhole``
(intrinsics, OpenCV's RDF camera convention) and its image as an ``EncodedImage`` (the JPEG/PNG
bytes as stored, decoded by the viewer), or, for a camera stored as video, the decoded frame.
Needs the ``viz`` extra (``rerun-sdk``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from sfs_kit.errors import OutputError
from sfs_kit.models._imagesize import image_kind
from sfs_kit.models.geometry import interpolate_pose
from sfs_kit.models.scene import Scene
from sfs_kit.models.sensors import CameraSensor, LidarSensor
from sfs_kit.preview._deps import require
from sfs_kit.preview.images import decode_camera_image
from sfs_kit.preview.render import world_points

__all__ = ["write_rerun"]

TIMELINE = "scene_time"


def _rerun() -> Any:
    return require("rerun", "viz", "--rerun")


def _height_colours(z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if len(z) == 0:
        return np.zeros((0, 3), np.uint8)
    lo, hi = np.percentile(z, 2), np.percentile(z, 98)
    t = np.clip((z - lo) / max(hi - lo, 1e-6), 0, 1)
    return np.stack([255 * t, 80 + 120 * (1 - np.abs(t - 0.5) * 2), 255 * (1 - t)],
                    axis=1).astype(np.uint8)


def write_rerun(
    scene: Scene,
    out: str | os.PathLike[str],
    *,
    frames: Sequence[int] | None = None,
    max_points: int = 100_000,
    cameras: Sequence[str] | None = None,
    images: bool = True,
) -> int:
    """Write ``scene`` to ``out`` as a Rerun recording; returns the number of frames written.

    ``frames`` (lidar frame indices, default all; with them only the camera images nearest
    those frames are kept) and ``max_points`` per frame bound the work; ``cameras`` limits the
    cameras; ``images=False`` leaves the images out (poses only). The file appears complete or
    not at all (written beside ``out``, then renamed).
    """
    rr = _rerun()
    path = os.fspath(out)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise OutputError(f"Cannot write {path!r}: folder {parent!r} does not exist.", path=path)
    ticks_per_s = 1e9 if scene.time_unit == "nanoseconds" else 1e6
    temp = os.path.join(parent, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    rec = rr.RecordingStream("sfs_kit_preview")
    try:
        rec.save(temp)
        written = _log_scene(rr, rec, scene, frames, max_points, cameras, images, ticks_per_s)
        rec.flush()
        rec.disconnect()
        os.replace(temp, path)  # a reader never sees a half-written recording
    except OSError as err:
        raise OutputError(f"Cannot write {path!r}: {err.strerror or err}.", path=path) from err
    finally:
        if os.path.exists(temp):
            rec.disconnect()
            os.unlink(temp)
    return written


def _log_scene(  # noqa: PLR0917 - write_rerun's arguments, passed on
    rr: Any, rec: Any, scene: Scene, frames: Sequence[int] | None, max_points: int,
    cameras: Sequence[str] | None, images: bool, ticks_per_s: float,
) -> int:
    """Log every entity of ``scene`` to ``rec``; returns the lidar frames written."""
    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    written = 0
    for lidar in (s for s in scene.sensors if isinstance(s, LidarSensor)):
        sid = str(lidar.id)
        traj = lidar.poses.values[:, :3]
        rec.log(f"world/{sid}/trajectory", rr.LineStrips3D([traj]), static=True)
        # the indices are the drawn lidar's; another lidar keeps those it has
        picks = range(len(lidar.frames)) if frames is None else \
            [i for i in frames if 0 <= i < len(lidar.frames)]
        for i in picks:
            pts = world_points(lidar, i, max_points)
            rec.set_time(TIMELINE, duration=lidar.frames[i].timestamp / ticks_per_s)
            rec.log(f"world/{sid}/points", rr.Points3D(pts, colors=_height_colours(pts[:, 2]),
                                                       radii=0.03))
            written += 1
    wanted = None if cameras is None else set(cameras)
    lidars = [s for s in scene.sensors if isinstance(s, LidarSensor)]
    drawn = max(lidars, key=lambda s: len(s.frames)) if lidars else None
    frame_times = None if frames is None or drawn is None else np.array(
        [drawn.frames[i].timestamp for i in frames if 0 <= i < len(drawn.frames)], np.int64)
    for camera in (s for s in scene.sensors if isinstance(s, CameraSensor)):
        cid = str(camera.id)
        if wanted is not None and cid not in wanted:
            continue
        intr = camera.intrinsics
        rec.log(f"world/{cid}", rr.Pinhole(
            focal_length=[intr.fx, intr.fy], principal_point=[intr.cx, intr.cy],
            width=intr.width, height=intr.height, camera_xyz=rr.ViewCoordinates.RDF,
            image_plane_distance=1.0), static=True)
        stamps = camera.content_timestamps()
        # every pose; with ``frames``, only the images nearest those frames (they are the bulk)
        shown = set(range(len(stamps))) if frame_times is None or not len(stamps) else {
            int(np.argmin(np.abs(stamps - t))) for t in frame_times}
        for k, t in enumerate(stamps):
            rec.set_time(TIMELINE, duration=int(t) / ticks_per_s)
            pos, quat = interpolate_pose(camera.poses, [int(t)])
            rec.log(f"world/{cid}", rr.Transform3D(translation=pos[0],
                                                   quaternion=rr.Quaternion(xyzw=quat[0])))
            if images and k in shown:
                _log_image(rr, rec, camera, k)
    return written


def _log_image(rr: Any, rec: Any, camera: CameraSensor, k: int) -> None:
    """Image ``k`` of ``camera``: the JPEG/PNG bytes as stored (the viewer decodes them), or
    the decoded picture of a video frame or of stored pixels (``Image``)."""
    cid = str(camera.id)
    if camera.images is not None and camera.images[k].content.ndim == 1:
        content = camera.images[k].content
        media = {"jpeg": "image/jpeg", "png": "image/png"}.get(image_kind(content) or "")
        if media is not None:
            rec.log(f"world/{cid}", rr.EncodedImage(contents=content.tobytes(), media_type=media))
        return
    rec.log(f"world/{cid}", rr.Image(decode_camera_image(camera, k)))
