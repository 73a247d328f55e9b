"""The public API is deliberate: ``sfs_kit.__all__`` is pinned here, and every name resolves."""

from __future__ import annotations

import pytest

import sfs_kit

EXPORTED = [
    "CameraCalibration",
    "CameraImage",
    "CameraIntrinsics",
    "CameraSensor",
    "CameraVideo",
    "Capture",
    "ChecksumMismatchError",
    "ConvertOptions",
    "ConvertResult",
    "DISTORTION_PARAM_COUNTS",
    "Distortion",
    "DryRunRequest",
    "DuplicateTaskError",
    "FormatError",
    "FrameFormatError",
    "FrameImage",
    "ImageInfo",
    "InputError",
    "InvalidKeyError",
    "Issue",
    "JournalFormatError",
    "LidarFrame",
    "LidarFrameData",
    "LidarPoints",
    "LidarSensor",
    "LocalStore",
    "MissingDependencyError",
    "MsgpackCaptureWriter",
    "ObjectStore",
    "OdometrySensor",
    "OutcomeUnknownError",
    "OutputError",
    "PointCloud",
    "PointsSensor",
    "PosePath",
    "PoseTable",
    "PresignError",
    "ProgressEvent",
    "RadarFrame",
    "RadarPoints",
    "RadarSensor",
    "RateLimitedError",
    "RunConfig",
    "RunResult",
    "S3Store",
    "ScaleApiError",
    "ScaleAuthError",
    "ScaleClient",
    "ScaleNetworkError",
    "ScaleNotFoundError",
    "ScalePaymentError",
    "ScaleRequestError",
    "ScaleServerError",
    "ScaleTransportError",
    "Scene",
    "SceneValidationError",
    "SfsAppendWriter",
    "SfsFormatError",
    "SfsIndex",
    "SfsItem",
    "SfsKitError",
    "SfsPlan",
    "SignedUrl",
    "StaticPoints",
    "StorageAccessDeniedError",
    "StorageError",
    "StorageNetworkError",
    "StorageNotFoundError",
    "StorageServerError",
    "StoredObject",
    "SubmitError",
    "Task",
    "TaskRequest",
    "TaskRequestError",
    "TruncatedDataError",
    "UrlCheck",
    "UrlVerificationError",
    "__version__",
    "assert_models_equal",
    "check_image_size",
    "convert_capture",
    "decode_frame",
    "describe_input",
    "encode_frame",
    "encode_sfs_dict",
    "image_size",
    "index_sfs",
    "key_for",
    "load_config",
    "models_equal",
    "open_capture",
    "plan_sfs",
    "read_capture_scene",
    "read_extrinsics",
    "read_frame",
    "read_image",
    "read_intrinsics",
    "read_kitti_bin",
    "read_las",
    "read_msgpack_capture",
    "read_npy",
    "read_nuscenes_bin",
    "read_pcd",
    "read_ply",
    "read_point_cloud",
    "read_poses",
    "read_raw_float",
    "read_sfs",
    "read_sfs_dict",
    "recentre",
    "redact_url",
    "run",
    "to_compat",
    "validate",
    "verify_urls",
    "write_frame",
    "write_frames",
    "write_pcd",
    "write_ply",
    "write_sfs",
    "write_sfs_dict",
]


def test_all_is_pinned() -> None:
    assert sfs_kit.__all__ == EXPORTED


@pytest.mark.parametrize("name", EXPORTED)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(sfs_kit, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = sfs_kit.nope


def test_errors_share_one_base() -> None:
    for name in EXPORTED:
        obj = getattr(sfs_kit, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, sfs_kit.SfsKitError), name
