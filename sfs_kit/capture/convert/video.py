"""Cameras stored as MP4 (``camera_video``): encode or pass through, store, check V-C5."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sfs_kit.capture.base import CameraSource
from sfs_kit.capture.convert.frame import load_image
from sfs_kit.capture.convert.plan import SensorPlan
from sfs_kit.capture.convert.progress import Counter
from sfs_kit.capture.convert.trees import camera_tree
from sfs_kit.errors import InputError
from sfs_kit.models.validate import Issue, validate_tree


@dataclass
class VideoOut:
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


def refuse_video_input(camera: CameraSource) -> None:
    if camera.video is not None:
        raise InputError(
            f"Camera {camera.sensor_id!r}: its input is a video ({camera.video.source}); only "
            "a .sfs file can store it (split_base64 frames reference images, D21).",
            source=camera.video.source,
            field="video",
        )


def video_camera(  # noqa: PLR0917
    camera: CameraSource,
    sp: SensorPlan,
    c: int,
    video: VideoOut,
    head: dict[str, object],
    counter: Counter,
    issues: list[Issue],
) -> dict[str, object]:
    """Encode (or pass through) camera c's MP4, store it, and check it against V-C5."""
    from sfs_kit.capture.camera_video import camera_video_file, stream_path  # video: on use
    from sfs_kit.codecs.video import even_size, fps_from_timestamps

    temp = video.temp_prefix.with_name(f"{video.temp_prefix.name}.cam{c}.mp4")
    video.temp_files += [temp, stream_path(temp)]
    fps = fps_from_timestamps(sp.rel_us)
    made = camera_video_file(
        camera, temp, fps=fps, load_image=lambda k: load_image(camera, k), step=counter.step
    )
    if made.passed_through:
        video.passed_through.append(camera.sensor_id)
    if made.dropped:
        sp = _without_leading(sp, made.dropped)
        video.notes.append(
            f"camera {camera.sensor_id!r}: its first {made.dropped} video frame(s) come before "
            "the stream's first keyframe and cannot be decoded; they are left out with their "
            "timestamps (the recording started between keyframes)."
        )
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


def _without_leading(sp: SensorPlan, n: int) -> SensorPlan:
    """``sp`` without its first ``n`` content times (and their poses)."""
    return SensorPlan(sp.times_us[n:], sp.world_from_sensor[n:], sp.rel_us[n:], sp.poses[n:])


def _video_camera_tree(
    camera: CameraSource, sp: SensorPlan, size: tuple[int, int], content: object, fps: float
) -> dict[str, object]:
    video = {"timestamps": sp.rel_us, "content": content, "fps": fps}
    return camera_tree(camera, sp, None, for_sfs=True, video=video, size=size)
