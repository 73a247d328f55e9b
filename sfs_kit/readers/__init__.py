"""Raw input readers: point clouds, images, poses and calibrations -> plain typed arrays.

Every point reader takes a path or a binary stream and returns a ``PointCloud`` (units in
``sfs_kit.readers._cloud``); ``read_point_cloud`` dispatches by file extension. Readers import
no scene models: the capture layer turns their results into a ``Scene``. The names load on
first use (``sfs_kit._lazy``), so one reader's module does not import the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfs_kit._lazy import lazy_getattr

if TYPE_CHECKING:
    from sfs_kit.readers._cloud import PointCloud
    from sfs_kit.readers.calibration import CameraCalibration, read_extrinsics, read_intrinsics
    from sfs_kit.readers.describe import describe_input
    from sfs_kit.readers.dispatch import read_point_cloud
    from sfs_kit.readers.image import ImageInfo, check_image_size, image_size, read_image
    from sfs_kit.readers.kitti_bin import read_kitti_bin, read_nuscenes_bin, read_raw_float
    from sfs_kit.readers.las import read_las
    from sfs_kit.readers.npy import read_npy
    from sfs_kit.readers.pcd import read_pcd, write_pcd
    from sfs_kit.readers.ply import read_ply, write_ply
    from sfs_kit.readers.poses import PoseTable, read_poses

__all__ = [
    "CameraCalibration", "ImageInfo", "PointCloud", "PoseTable", "check_image_size",
    "describe_input", "image_size", "read_extrinsics", "read_image", "read_intrinsics",
    "read_kitti_bin", "read_las", "read_npy", "read_nuscenes_bin", "read_pcd", "read_ply",
    "read_point_cloud", "read_poses", "read_raw_float", "write_pcd", "write_ply",
]

_MODULES: dict[str, str] = {  # public name -> the module defining it
    "PointCloud": "sfs_kit.readers._cloud",
    "CameraCalibration": "sfs_kit.readers.calibration",
    "read_extrinsics": "sfs_kit.readers.calibration",
    "read_intrinsics": "sfs_kit.readers.calibration",
    "describe_input": "sfs_kit.readers.describe",
    "read_point_cloud": "sfs_kit.readers.dispatch",
    "ImageInfo": "sfs_kit.readers.image",
    "check_image_size": "sfs_kit.readers.image",
    "image_size": "sfs_kit.readers.image",
    "read_image": "sfs_kit.readers.image",
    "read_kitti_bin": "sfs_kit.readers.kitti_bin",
    "read_nuscenes_bin": "sfs_kit.readers.kitti_bin",
    "read_raw_float": "sfs_kit.readers.kitti_bin",
    "read_las": "sfs_kit.readers.las",
    "read_npy": "sfs_kit.readers.npy",
    "read_pcd": "sfs_kit.readers.pcd",
    "write_pcd": "sfs_kit.readers.pcd",
    "read_ply": "sfs_kit.readers.ply",
    "write_ply": "sfs_kit.readers.ply",
    "PoseTable": "sfs_kit.readers.poses",
    "read_poses": "sfs_kit.readers.poses",
}

__getattr__ = lazy_getattr(__name__, _MODULES)
