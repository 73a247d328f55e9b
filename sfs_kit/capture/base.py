"""What every capture layout opens into: sensors with lazily loaded frames, calibration and poses.

A ``Capture`` holds only small metadata (timestamps, file names, calibration, ego poses); each
lidar frame and camera image is loaded on demand through its ``load`` callable, so a converter can
stream a capture of any length with the memory of one frame. Timestamps are absolute integers in
microseconds (the converter normalises them, spec D10). Transforms follow ``a_from_b``: 4x4
float64 matrices mapping b coordinates into a; ``ego_from_sensor`` places a sensor on the rig and
the ego poses are ``world_from_ego``. Sensor ids become folder names, so every layout's ids pass
``sfs_kit._paths.check_name`` when a source is created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from sfs_kit._paths import check_name

__all__ = [
    "CameraIntrinsicsSource",
    "CameraSource",
    "Capture",
    "EgoPoses",
    "FramePoints",
    "ImageSource",
    "LidarFrameSource",
    "LidarSource",
    "LoadedImage",
    "PointsFrame",
    "RadarFramePoints",
    "RadarFrameSource",
    "RadarSource",
    "VideoFileSource",
]

F64 = npt.NDArray[np.float64]
PointsFrame = Literal["sensor", "ego", "world"]
MetadataValue = str | int | float | bool | None


class FramePoints(NamedTuple):
    """One loaded lidar frame: positions (N, 3) in metres, uint8 intensity, absolute time in µs.

    ``origin_m`` is an offset the reader already subtracted (file coordinates = positions +
    origin_m), as ``PointCloud.origin_m``; ``None`` means zero. ``viewpoint`` is a PCD header's
    VIEWPOINT ``[tx, ty, tz, qx, qy, qz, qw]`` when the file had one (metadata; see the
    converter's docstring for what is done with it). ``colors`` is uint8 (N, 3) sRGB when the
    file has colour. ``notes`` are decisions made while loading (e.g. the intensity scale chosen
    for the sensor); the converter reports each distinct note once.
    """

    positions_m: npt.NDArray[np.floating]
    intensity: npt.NDArray[np.uint8] | None
    time_us: npt.NDArray[np.int64] | None
    origin_m: npt.NDArray[np.float64] | None = None
    viewpoint: npt.NDArray[np.float64] | None = None
    colors: npt.NDArray[np.uint8] | None = None
    notes: tuple[str, ...] = ()


class LoadedImage(NamedTuple):
    """One encoded image and the size its header declares (read without decoding)."""

    format: Literal["jpeg", "png"]
    width: int
    height: int
    content: bytes


@dataclass(frozen=True)
class LidarFrameSource:
    """One lidar frame on disk (or in a stream): its time, where it is, and how to load it."""

    timestamp_us: int
    source: str
    load: Callable[[], FramePoints]


@dataclass(frozen=True)
class LidarSource:
    """A lidar: its frames in time order, the frame its points are given in, and its mounting."""

    sensor_id: str
    frames: tuple[LidarFrameSource, ...]
    points_frame: PointsFrame
    ego_from_sensor: F64

    def __post_init__(self) -> None:
        check_name(self.sensor_id, what="lidar id", field="sensor_id")


class RadarFramePoints(NamedTuple):
    """One loaded radar frame: positions (N, 3) m, optional directions (N, 3) and sizes (N,).

    Directions are vectors in the same frame as the positions (rotated, never translated, when
    the points are posed); sizes are lengths in metres, kept as given (SFS ``lengths``).
    """

    positions_m: npt.NDArray[np.floating]
    directions: npt.NDArray[np.floating] | None = None
    sizes_m: npt.NDArray[np.floating] | None = None


@dataclass(frozen=True)
class RadarFrameSource:
    """One radar frame on disk: its time, where it is, and how to load it."""

    timestamp_us: int
    source: str
    load: Callable[[], RadarFramePoints]


@dataclass(frozen=True)
class RadarSource:
    """A radar: its frames in time order, the frame its points are given in, its mounting.

    The converter writes an SFS radar sensor in the world frame (posed like a lidar's points by
    ``points_frame``); its poses are ``world_from_ego @ ego_from_sensor`` at the frame times.
    """

    sensor_id: str
    frames: tuple[RadarFrameSource, ...]
    points_frame: PointsFrame
    ego_from_sensor: F64

    def __post_init__(self) -> None:
        check_name(self.sensor_id, what="radar id", field="sensor_id")


@dataclass(frozen=True)
class ImageSource:
    """One encoded camera image (JPEG or PNG bytes), loaded on demand."""

    timestamp_us: int
    source: str
    load: Callable[[], LoadedImage]


@dataclass(frozen=True)
class VideoFileSource:
    """A camera input that is already a video: a container file, one timestamp per frame (µs).

    The converter passes an H.264 MP4 through unchanged and re-encodes anything else (D8). A
    video that is not a file yet (a recording's ``CompressedVideo`` topic) has ``path`` None and
    ``write(dest)``, which writes it as a container file at ``dest`` when it is converted and
    returns how many leading frames it left out (those before the first keyframe): the file's
    frame k has ``timestamps_us[dropped + k]``.
    """

    path: Path | None
    timestamps_us: tuple[int, ...]
    source: str
    write: Callable[[Path], int] | None = None


@dataclass(frozen=True)
class CameraIntrinsicsSource:
    """Pinhole intrinsics in pixels plus an SFS distortion model (spec section 2.5)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion_model: str | None
    distortion_params: tuple[float, ...]
    skew: float
    source: str


@dataclass(frozen=True)
class CameraSource:
    """A camera: intrinsics, mounting (``ego_from_sensor`` of the OpenCV optical frame), and
    its content: ``images``, or (``images`` empty) a ``video`` file."""

    sensor_id: str
    intrinsics: CameraIntrinsicsSource
    ego_from_sensor: F64
    images: tuple[ImageSource, ...]
    video: VideoFileSource | None = None

    @property
    def content_timestamps_us(self) -> list[int]:
        """Absolute µs of each image, or of each video frame."""
        if self.video is not None:
            return list(self.video.timestamps_us)
        return [im.timestamp_us for im in self.images]

    @property
    def content_count(self) -> int:
        """Number of images, or of video frames."""
        return len(self.video.timestamps_us) if self.video is not None else len(self.images)

    def __post_init__(self) -> None:
        check_name(self.sensor_id, what="camera id", field="sensor_id")


@dataclass(frozen=True)
class EgoPoses:
    """``world_from_ego`` at absolute times: translations (M, 3) m, quaternions (M, 4) xyzw."""

    timestamps_us: npt.NDArray[np.int64]
    positions_m: F64
    quat_xyzw: F64
    source: str


@dataclass(frozen=True)
class Capture:
    """An opened capture of any layout; ``notes`` carries warnings found while opening it.

    ``radars`` are optional extra sensors (scale-lidar-toolkit's ``radar_points``); the lidars
    alone define the frames of a split_base64 export, each radar frame joining the lidar frame
    nearest in time.
    """

    path: Path
    layout: Literal["sfs_kit", "kitti_raw", "msgpack", "ros_recording", "scale_toolkit"]
    lidars: tuple[LidarSource, ...]
    cameras: tuple[CameraSource, ...]
    ego_poses: EgoPoses | None
    pose_tolerance_us: int = 0
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    radars: tuple[RadarSource, ...] = ()

    @property
    def frame_count(self) -> int:
        """Number of lidar frames over all lidars."""
        return sum(len(lidar.frames) for lidar in self.lidars)
