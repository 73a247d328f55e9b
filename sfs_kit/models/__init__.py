"""Pydantic v2 scene models (SFS 1.0), validation, comparison and geometry helpers.

The names here load on first use (``sfs_kit._lazy``): importing ``sfs_kit.models.geometry`` or
``sfs_kit.models.validate`` does not define the scene models; they are built (pydantic
``defer_build``) when first validated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfs_kit._lazy import lazy_getattr

if TYPE_CHECKING:
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

_MODULES: dict[str, str] = {  # public name -> the module defining it
    "DISTORTION_PARAM_COUNTS": "sfs_kit.models.calibration",
    "DISTORTION_PARAM_NAMES": "sfs_kit.models.calibration",
    "CameraIntrinsics": "sfs_kit.models.calibration",
    "Distortion": "sfs_kit.models.calibration",
    "PosePath": "sfs_kit.models.pose",
    "Scene": "sfs_kit.models.scene",
    "CameraImage": "sfs_kit.models.sensors",
    "CameraSensor": "sfs_kit.models.sensors",
    "CameraVideo": "sfs_kit.models.sensors",
    "LidarFrame": "sfs_kit.models.sensors",
    "LidarPoints": "sfs_kit.models.sensors",
    "LidarSensor": "sfs_kit.models.sensors",
    "OdometrySensor": "sfs_kit.models.sensors",
    "PointsSensor": "sfs_kit.models.sensors",
    "RadarFrame": "sfs_kit.models.sensors",
    "RadarPoints": "sfs_kit.models.sensors",
    "RadarSensor": "sfs_kit.models.sensors",
    "Sensor": "sfs_kit.models.sensors",
    "StaticPoints": "sfs_kit.models.sensors",
}

__getattr__ = lazy_getattr(__name__, _MODULES)
