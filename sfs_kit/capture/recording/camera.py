"""ROS cameras: ``sensor_msgs/CameraInfo`` -> SFS intrinsics, image messages -> encoded bytes.

Distortion: ``plumb_bob`` ``[k1, k2, p1, p2, k3]`` and ``rational_polynomial`` ``[k1, k2, p1,
p2, k3, k4, k5, k6]`` are OpenCV's order, which is SFS ``brown_conrady``'s (``k1, k2, p1, p2, k3,
k4, k5, k6, lx, ly``; the missing terms are 0); ``equidistant`` ``[k1, k2, k3, k4]`` is OpenCV's
fisheye, SFS ``fisheye``. Any other model is an ``InputError`` naming it. ``CompressedImage``
JPEG/PNG bytes pass through unchanged; raw ``Image`` messages (rgb8, bgr8, mono8, mono16) are
encoded to JPEG once, with Pillow (16-bit mono is scaled to 8 bits by its top byte).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.capture.base import CameraIntrinsicsSource, LoadedImage
from sfs_kit.errors import InputError, MissingDependencyError
from sfs_kit.readers.image import check_image_complete, image_size

__all__ = [
    "BODY_FROM_OPTICAL",
    "JPEG_QUALITY",
    "camera_intrinsics",
    "image_from_message",
    "is_optical_frame",
]

JPEG_QUALITY = 92
# ROS body frame (x forward, y left, z up) from the optical frame (z forward, x right, y down)
BODY_FROM_OPTICAL: npt.NDArray[np.float64] = np.array(
    [[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
_MODELS: dict[str, tuple[str, int, int]] = {
    # ROS model -> (SFS model, ROS coefficients used, SFS parameter count)
    "plumb_bob": ("brown_conrady", 5, 10),
    "rational_polynomial": ("brown_conrady", 8, 10),
    "equidistant": ("fisheye", 4, 4),
}


def is_optical_frame(frame_id: str) -> bool:
    """ROS names camera optical frames ``*_optical_frame`` (REP 103 / REP 105 usage)."""
    return frame_id.rstrip("/").endswith("optical_frame") or frame_id.endswith("_optical")


def _field(msg: Any, name: str) -> Any:
    """ROS 2 spells CameraInfo's arrays in lower case (k, d), ROS 1 in upper case (K, D)."""
    return getattr(msg, name) if hasattr(msg, name) else getattr(msg, name.upper())


def camera_intrinsics(msg: Any, *, where: str, rectified: bool = False) -> CameraIntrinsicsSource:
    """Intrinsics from a ``CameraInfo``; ``rectified`` images use P and no distortion."""
    k = [float(v) for v in _field(msg, "k")]
    p = [float(v) for v in _field(msg, "p")]
    d = [float(v) for v in _field(msg, "d")]
    ros_model = str(msg.distortion_model)
    width, height = int(msg.width), int(msg.height)
    if len(k) != 9 or len(p) != 12:
        raise InputError(
            f"{where}: CameraInfo K has {len(k)} values and P {len(p)}; expected 9 and 12.",
            source=where,
            field="K",
        )
    if width <= 0 or height <= 0:
        raise InputError(
            f"{where}: CameraInfo size is {width}x{height}; a camera needs its image size.",
            source=where,
            field="width",
        )
    if rectified:
        fx, skew, cx, fy, cy = p[0], p[1], p[2], p[5], p[6]
        return CameraIntrinsicsSource(fx, fy, cx, cy, width, height, None, (), skew, where)
    fx, skew, cx, fy, cy = k[0], k[1], k[2], k[4], k[5]
    if fx <= 0 or fy <= 0:
        raise InputError(
            f"{where}: CameraInfo K has fx {fx!r}, fy {fy!r}; an uncalibrated camera (K all zero) "
            f"cannot be labeled.",
            source=where,
            field="K",
        )
    if ros_model == "" and not any(d):
        return CameraIntrinsicsSource(fx, fy, cx, cy, width, height, None, (), skew, where)
    mapped = _MODELS.get(ros_model)
    if mapped is None:
        raise InputError(
            f"{where}: CameraInfo distortion_model {ros_model!r} has no SFS equivalent; supported "
            f"are {sorted(_MODELS)}.",
            source=where,
            field="distortion_model",
        )
    model, used, count = mapped
    if len(d) < used or any(d[used:]):
        raise InputError(
            f"{where}: CameraInfo {ros_model!r} needs {used} D coefficients, found {len(d)} "
            f"({d!r}).",
            source=where,
            field="D",
        )
    params = tuple(d[:used]) + (0.0,) * (count - used)
    return CameraIntrinsicsSource(fx, fy, cx, cy, width, height, model, params, skew, where)


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - Pillow comes with the ros extra
        raise MissingDependencyError(
            "Encoding raw ROS images needs Pillow: pip install 'sfs_kit[ros]'."
        ) from err
    return Image


def _raw_pixels(msg: Any, where: str) -> tuple[npt.NDArray[np.uint8], str]:
    """The pixels of a raw ``sensor_msgs/Image`` as uint8 (H, W[, 3]) and a Pillow mode."""
    encoding = str(msg.encoding).lower()
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "8uc1": 1, "mono16": 2, "16uc1": 2}.get(encoding)
    if channels is None:
        raise InputError(
            f"{where}: Image encoding {msg.encoding!r} is not supported (rgb8, bgr8, mono8, "
            f"mono16).",
            source=where,
            field="encoding",
        )
    row = width * channels
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if width <= 0 or height <= 0 or step < row or buf.size < (height - 1) * step + row:
        raise InputError(
            f"{where}: Image {width}x{height} {encoding} with step {step} needs "
            f"{max((height - 1) * step + row, 0)} bytes, found {buf.size}.",
            source=where,
            field="data",
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(height, row), strides=(step, 1))
    if encoding in ("rgb8", "bgr8"):
        pixels = rows.reshape(height, width, 3)
        return np.ascontiguousarray(pixels[..., ::-1] if encoding == "bgr8" else pixels), "RGB"
    if channels == 1:
        return np.ascontiguousarray(rows), "L"
    big = bool(msg.is_bigendian)
    wide = np.ascontiguousarray(rows).view(">u2" if big else "<u2")
    return (wide >> 8).astype(np.uint8), "L"


def image_from_message(msg: Any, msgtype: str, *, where: str) -> LoadedImage:
    """Encoded bytes of an image message: compressed bytes unchanged, raw pixels as one JPEG."""
    if msgtype.endswith("CompressedImage"):
        content = bytes(msg.data)
        fmt, width, height = image_size(content, where)
        check_image_complete(content, fmt, where)
        return LoadedImage(format=fmt, width=width, height=height, content=content)
    pixels, mode = _raw_pixels(msg, where)
    out = io.BytesIO()
    _pillow().fromarray(pixels, mode=mode).save(out, format="JPEG", quality=JPEG_QUALITY)
    return LoadedImage(
        format="jpeg", width=int(msg.width), height=int(msg.height), content=out.getvalue()
    )
