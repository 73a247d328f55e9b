"""Raw input readers: point clouds, images, poses and calibrations -> plain typed arrays.

Every point reader takes a path or a binary stream and returns a ``PointCloud`` (units in
``sfs_kit.readers._cloud``); ``read_point_cloud`` dispatches by file extension. Readers import
no scene models: the capture layer turns their results into a ``Scene``.
"""

from __future__ import annotations

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
