"""Pydantic v2 scene models (SFS 1.0), validation, comparison and geometry helpers.

Imports here stay light: importing ``sfs_kit.models`` pulls in pydantic and numpy only.
"""

from __future__ import annotations

from sfs_kit.models.calibration import (
    DISTORTION_PARAM_COUNTS,
    DISTORTION_PARAM_NAMES,
    CameraIntrinsics,
    Distortion,
)
from sfs_kit.models.pose import PosePath
from sfs_kit.models.scene import Scene
from sfs_kit.models.sensors import (
    CameraImage,
    CameraSensor,
    CameraVideo,
    LidarFrame,
    LidarPoints,
    LidarSensor,
    OdometrySensor,
    PointsSensor,
    RadarFrame,
    RadarPoints,
    RadarSensor,
    Sensor,
    StaticPoints,
)

__all__ = [
    "DISTORTION_PARAM_COUNTS",
    "DISTORTION_PARAM_NAMES",
    "CameraImage",
    "CameraIntrinsics",
    "CameraSensor",
    "CameraVideo",
    "Distortion",
    "LidarFrame",
    "LidarPoints",
    "LidarSensor",
    "OdometrySensor",
    "PointsSensor",
    "PosePath",
    "RadarFrame",
    "RadarPoints",
    "RadarSensor",
    "Scene",
    "Sensor",
    "StaticPoints",
]
