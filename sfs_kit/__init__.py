"""sfs_kit: prepare lidar/camera captures for labeling on Scale AI.

Public names are loaded lazily, so ``import sfs_kit.codecs`` never imports boto3 and the CLI
starts fast. Modules whose name starts with an underscore are private.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sfs_kit._version import __version__ as __version__
from sfs_kit.errors import *  # noqa: F403  (errors.__all__ is curated)
from sfs_kit.errors import __all__ as _error_names

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> module that defines it; add an entry when a module grows a public function.
_LAZY: dict[str, str] = {
    # the whole job: capture -> task (resumable)
    "run": "sfs_kit.pipeline.run",
    "RunConfig": "sfs_kit.pipeline",
    "RunResult": "sfs_kit.pipeline",
    "load_config": "sfs_kit.pipeline",
    # multi-stage task submission
    "DryRunRequest": "sfs_kit.submit",
    "ScaleClient": "sfs_kit.submit",
    "Task": "sfs_kit.submit",
    "TaskRequest": "sfs_kit.submit",
    "SfsAppendWriter": "sfs_kit.codecs.sfs",
    "SfsIndex": "sfs_kit.codecs.sfs",
    "SfsItem": "sfs_kit.codecs.sfs",
    "SfsPlan": "sfs_kit.codecs.sfs",
    "encode_sfs_dict": "sfs_kit.codecs.sfs",
    "index_sfs": "sfs_kit.codecs.sfs",
    "plan_sfs": "sfs_kit.codecs.sfs",
    "read_sfs_dict": "sfs_kit.codecs.sfs",
    "write_sfs_dict": "sfs_kit.codecs.sfs",
    # capture layouts and conversion
    "Capture": "sfs_kit.capture",
    "ConvertOptions": "sfs_kit.capture",
    "ConvertResult": "sfs_kit.capture",
    "MsgpackCaptureWriter": "sfs_kit.capture",
    "convert_capture": "sfs_kit.capture",
    "open_capture": "sfs_kit.capture",
    "read_capture_scene": "sfs_kit.capture",
    "read_msgpack_capture": "sfs_kit.capture",
    # raw input readers
    "PointCloud": "sfs_kit.readers",
    "ImageInfo": "sfs_kit.readers",
    "PoseTable": "sfs_kit.readers",
    "CameraCalibration": "sfs_kit.readers",
    "read_pcd": "sfs_kit.readers",
    "write_pcd": "sfs_kit.readers",
    "read_kitti_bin": "sfs_kit.readers",
    "read_nuscenes_bin": "sfs_kit.readers",
    "read_raw_float": "sfs_kit.readers",
    "read_ply": "sfs_kit.readers",
    "write_ply": "sfs_kit.readers",
    "read_npy": "sfs_kit.readers",
    "read_las": "sfs_kit.readers",
    "read_point_cloud": "sfs_kit.readers",
    "read_image": "sfs_kit.readers",
    "image_size": "sfs_kit.readers",
    "check_image_size": "sfs_kit.readers",
    "read_poses": "sfs_kit.readers",
    "read_intrinsics": "sfs_kit.readers",
    "read_extrinsics": "sfs_kit.readers",
    "describe_input": "sfs_kit.readers",
    # scene models, validation, scene-level .sfs I/O
    "Scene": "sfs_kit.models.scene",
    "LidarSensor": "sfs_kit.models.sensors",
    "RadarSensor": "sfs_kit.models.sensors",
    "CameraSensor": "sfs_kit.models.sensors",
    "OdometrySensor": "sfs_kit.models.sensors",
    "PointsSensor": "sfs_kit.models.sensors",
    "PosePath": "sfs_kit.models.pose",
    "LidarFrame": "sfs_kit.models.sensors",
    "LidarPoints": "sfs_kit.models.sensors",
    "RadarFrame": "sfs_kit.models.sensors",
    "RadarPoints": "sfs_kit.models.sensors",
    "CameraImage": "sfs_kit.models.sensors",
    "CameraVideo": "sfs_kit.models.sensors",
    "StaticPoints": "sfs_kit.models.sensors",
    "CameraIntrinsics": "sfs_kit.models.calibration",
    "Distortion": "sfs_kit.models.calibration",
    "DISTORTION_PARAM_COUNTS": "sfs_kit.models.calibration",
    "Issue": "sfs_kit.models.validate",
    "validate": "sfs_kit.models.validate",
    "models_equal": "sfs_kit.models.compare",
    "assert_models_equal": "sfs_kit.models.compare",
    "recentre": "sfs_kit.models.recentre",
    "to_compat": "sfs_kit.models.compat",
    "write_sfs": "sfs_kit.codecs.scene_io",
    "read_sfs": "sfs_kit.codecs.scene_io",
    # per-frame LiDAR JSON (split_base64) and scene -> frames export
    "LidarFrameData": "sfs_kit.codecs.frame_json",
    "FrameImage": "sfs_kit.codecs.frame_json",
    "encode_frame": "sfs_kit.codecs.frame_json",
    "decode_frame": "sfs_kit.codecs.frame_json",
    "write_frame": "sfs_kit.codecs.frame_json",
    "read_frame": "sfs_kit.codecs.frame_json",
    "write_frames": "sfs_kit.codecs.frames_from_scene",
    # object storage (S3 or a local directory), presigned URLs
    "ObjectStore": "sfs_kit.storage",
    "S3Store": "sfs_kit.storage",
    "LocalStore": "sfs_kit.storage",
    "StoredObject": "sfs_kit.storage",
    "SignedUrl": "sfs_kit.storage",
    "UrlCheck": "sfs_kit.storage",
    "ProgressEvent": "sfs_kit.storage",
    "key_for": "sfs_kit.storage",
    "redact_url": "sfs_kit.storage",
    "verify_urls": "sfs_kit.storage",
}

__all__ = sorted(["__version__", *_error_names, *_LAZY])  # noqa: PLE0605  (pinned by a test)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sfs_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
