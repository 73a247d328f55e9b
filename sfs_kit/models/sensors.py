"""Sensor models: lidar, radar, camera, odometry and static points, discriminated by ``type``.

Arrays follow spec section 2.2: positions float32 (N, 3), colours uint8 (N, 3), intensities uint8
(N,), point timestamps uint32/uint64 (N,), radar directions float32 (N, 3) and lengths float32
(N,). Within one frame every per-point array has the same N (V-A8).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import Field, StrictFloat, StrictInt, StrictStr, model_validator

from sfs_kit.models._arrays import (
    ColorsRGB,
    Float32Vector,
    ImageContent,
    PointsXYZ,
    PointTimestamps,
    PoseTimestamps,
    Uint8Vector,
)
from sfs_kit.models.base import SfsModel
from sfs_kit.models.calibration import CameraIntrinsics
from sfs_kit.models.pose import PosePath

__all__ = [
    "CameraImage",
    "CameraSensor",
    "CameraVideo",
    "Coordinates",
    "LidarFrame",
    "LidarPoints",
    "LidarSensor",
    "OdometrySensor",
    "PointsSensor",
    "RadarFrame",
    "RadarPoints",
    "Sensor",
    "SensorId",
    "StaticPoints",
]

SensorId = StrictStr | StrictInt
"""A sensor id: a str or an int, never a bool."""

Coordinates = Literal["world", "ego"]


def _check_lengths(n: int, arrays: dict[str, npt.NDArray[Any] | None]) -> None:
    for name, arr in arrays.items():
        if arr is not None and len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} rows but positions has {n} (V-A8)")


class LidarPoints(SfsModel):
    """One lidar sweep's points; optional arrays have the same N as ``positions``."""

    positions: PointsXYZ
    colors: ColorsRGB | None = None
    intensities: Uint8Vector | None = None
    timestamps: PointTimestamps | None = None

    @model_validator(mode="after")
    def _lengths(self) -> Self:
        _check_lengths(
            len(self.positions),
            {"colors": self.colors, "intensities": self.intensities, "timestamps": self.timestamps},
        )
        return self


class LidarFrame(SfsModel):
    """``{timestamp, points}``; ``timestamp`` on the scene clock in ``time_unit``."""

    timestamp: StrictInt
    points: LidarPoints


class RadarPoints(SfsModel):
    """One radar frame's points; ``directions`` (N, 3) and ``lengths`` (N,) are optional."""

    positions: PointsXYZ
    directions: PointsXYZ | None = None
    lengths: Float32Vector | None = None
    timestamps: PointTimestamps | None = None

    @model_validator(mode="after")
    def _lengths(self) -> Self:
        _check_lengths(
            len(self.positions),
            {"directions": self.directions, "lengths": self.lengths, "timestamps": self.timestamps},
        )
        return self


class RadarFrame(SfsModel):
    """``{timestamp, points}`` for a radar."""

    timestamp: StrictInt
    points: RadarPoints


class LidarSensor(SfsModel):
    """A lidar: poses plus at least one frame; points in ``world`` (default) or ``ego`` frame."""

    type: Literal["lidar"] = "lidar"
    id: SensorId
    parent_id: SensorId | None = None
    poses: PosePath
    frames: Annotated[tuple[LidarFrame, ...], Field(min_length=1)]
    coordinates: Coordinates = "world"


class RadarSensor(SfsModel):
    """A radar: poses plus at least one frame."""

    type: Literal["radar"] = "radar"
    id: SensorId
    parent_id: SensorId | None = None
    poses: PosePath
    frames: Annotated[tuple[RadarFrame, ...], Field(min_length=1)]
    coordinates: Coordinates = "world"


class CameraImage(SfsModel):
    """One image: ``content`` is the encoded JPEG or PNG file, 1-D uint8 (D7)."""

    timestamp: StrictInt
    content: ImageContent


class CameraVideo(SfsModel):
    """An MP4 file (``content``, 1-D uint8) with one timestamp per video frame."""

    timestamps: PoseTimestamps
    content: Uint8Vector
    fps: StrictFloat

    def to_tree(self) -> dict[str, Any]:
        """Header view: timestamps as a list of ints."""
        out = super().to_tree()
        out["timestamps"] = self.timestamps.tolist()
        return out


class CameraSensor(SfsModel):
    """A camera: poses (of the optical frame), intrinsics, and exactly one of images / video."""

    type: Literal["camera"] = "camera"
    id: SensorId
    parent_id: SensorId | None = None
    poses: PosePath
    intrinsics: CameraIntrinsics
    images: tuple[CameraImage, ...] | None = None
    video: CameraVideo | None = None

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        if (self.images is None) == (self.video is None):
            found = "both" if self.images is not None else "neither"
            raise ValueError(f"a camera needs exactly one of 'images' or 'video', found {found}")
        return self

    def content_timestamps(self) -> npt.NDArray[np.int64]:
        """Timestamps of the images or of the video frames."""
        if self.video is not None:
            return self.video.timestamps
        return np.array([img.timestamp for img in self.images or ()], dtype=np.int64)


class OdometrySensor(SfsModel):
    """Poses only (Scale's validator rejects this kind: an error in compat mode, D14)."""

    type: Literal["odometry"] = "odometry"
    id: SensorId
    parent_id: SensorId | None = None
    poses: PosePath


class StaticPoints(SfsModel):
    """The static cloud of a ``points`` sensor."""

    positions: PointsXYZ
    colors: ColorsRGB | None = None

    @model_validator(mode="after")
    def _lengths(self) -> Self:
        _check_lengths(len(self.positions), {"colors": self.colors})
        return self


class PointsSensor(SfsModel):
    """A static point cloud in the world frame (an error in compat mode, D14)."""

    type: Literal["points"] = "points"
    id: SensorId
    parent_id: SensorId | None = None
    points: StaticPoints


Sensor = Annotated[
    LidarSensor | RadarSensor | CameraSensor | OdometrySensor | PointsSensor,
    Field(discriminator="type"),
]
