"""Per-frame LiDAR JSON in the ``split_base64`` style (spec §4.2, D19–D20); reads legacy frames too.

This module is model-free: it turns a plain ``LidarFrameData`` record into bytes and back. Scene
conversion lives in ``sfs_kit.codecs.frames_from_scene``.

Layout written by ``encode_frame`` (one UTF-8/ASCII JSON object, compact separators, no newline,
keys in exactly this order)::

    {"device_position":{"x":F,"y":F,"z":F},      world frame, metres, float64 repr (never rounded)
     "device_heading":{"w":F,"x":F,"y":F,"z":F},  world orientation, scalar FIRST
     "timestamp":I,                               int, absolute nanoseconds (D20)
     "points":"B64",                              N*3 little-endian float32, C order, 16*N chars
     "intensities":"B64",                         N little-endian float32 in [0, 1], always present
     "timestamps":"B64",                          N little-endian uint64 ns; only on request
     "images":[CAMERA, ...],                      [] without cameras
     "radar_points":[RADAR, ...]}                 only when the frame has radar points

    CAMERA = {"image_url", "position":{x,y,z}, "heading":{w,x,y,z}, "camera_model",
              "fx", "fy", "cx", "cy", "skew", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6",
              "lx", "ly", "xi", "scale_factor", "timestamp" (int ns; omitted when unknown)}
    RADAR  = {"position":{x,y,z}, "direction":{x,y,z} (optional), "size":F (optional)}

``image_url`` is an http(s) URL, or (``allow_relative_image_urls=True``) a path relative to the
frame's folder, as a converted folder holds before upload.

B64 is RFC 4648 §4 base64 (standard alphabet, ``=`` padding, no line breaks); an empty array is
``""``. Floats use Python's shortest round-trip repr, so every float64 and float32 value survives.

``decode_frame`` reads that layout and the legacy one (§4.1): pose keys by name (camelCase
``devicePosition``/``deviceHeading`` accepted; a missing heading is the identity, as in Scale's
debug reader), ``points`` as base64 (length a multiple of 12; ``intensities`` exactly 4N bytes,
``timestamps`` exactly 8N) or as a legacy list ``[{x,y,z,i?,t?,d?,is_ground?}]``, and legacy
``point_colors`` (flat ``[r,g,b,...]`` or ``[[r,g,b],...]`` of 0..255 ints). Unknown keys are
ignored (logged at DEBUG). Every violation raises ``FrameFormatError`` with ``source`` (the file)
and ``key`` (a path such as ``images[2].fx``).

Lost data is reported with ``warnings.warn(..., FrameFieldDroppedWarning)``: point colours on
encode (no confirmed base64 field), and non-zero legacy device ids ``d`` or ``is_ground`` flags on
decode. Bad *in-memory* input to ``encode_frame`` raises ``InputError`` naming the field.
Decoding does not range-check intensities (legacy files carry whatever their writer chose);
encoding does.

Modules: ``_records`` (the records) <- ``_encode`` / ``_decode`` <- this package (file paths).
"""

from __future__ import annotations

import os

from sfs_kit._atomic import write_bytes_atomic
from sfs_kit._paths import read_input
from sfs_kit.codecs.frame_json._decode import decode_frame
from sfs_kit.codecs.frame_json._encode import encode_frame, is_relative_image_url
from sfs_kit.codecs.frame_json._records import (
    CAMERA_MODELS,
    DISTORTION_NAMES,
    CameraModel,
    FrameFieldDroppedWarning,
    FrameImage,
    LidarFrameData,
    RadarPointsWorld,
    frame_file_name,
    frames_equal,
)
from sfs_kit.errors import InputError

__all__ = [
    "CAMERA_MODELS",
    "DISTORTION_NAMES",
    "CameraModel",
    "FrameFieldDroppedWarning",
    "FrameImage",
    "LidarFrameData",
    "RadarPointsWorld",
    "decode_frame",
    "encode_frame",
    "frame_file_name",
    "frames_equal",
    "is_relative_image_url",
    "read_frame",
    "write_frame",
]


def write_frame(
    path: str | os.PathLike[str],
    frame: LidarFrameData,
    *,
    include_point_timestamps: bool = False,
    allow_relative_image_urls: bool = False,
) -> int:
    """Encode ``frame`` and write it atomically to ``path``; returns the number of bytes written."""
    data = encode_frame(
        frame,
        include_point_timestamps=include_point_timestamps,
        allow_relative_image_urls=allow_relative_image_urls,
        source=str(path),
    )
    try:
        return write_bytes_atomic(path, data, mode=0o600)  # frames hold presigned image URLs
    except OSError as err:
        msg = f"Cannot write frame file {str(path)!r}: {err.strerror or err}."
        raise InputError(msg, source=str(path)) from err


def read_frame(path: str | os.PathLike[str]) -> LidarFrameData:
    """Read and decode one frame file; errors name the file."""
    data = read_input(path, what="frame file")
    return decode_frame(data, source=str(path))
