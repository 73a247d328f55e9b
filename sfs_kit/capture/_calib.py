"""Camera intrinsics for the capture layouts (private): the image size taken from the images.

Many calibrations carry no image size (Scale's toolkit ``intrinsics.json``, nuScenes
``cam2img``); the size is then read from the first image's header (no decoding) and every
other image is checked against it when it is loaded, so a camera whose images differ in size
still fails, naming the image.
"""

from __future__ import annotations

import os
from pathlib import Path

from sfs_kit.capture.base import CameraIntrinsicsSource
from sfs_kit.errors import InputError
from sfs_kit.readers.calibration import read_intrinsics
from sfs_kit.readers.image import image_size

__all__ = ["intrinsics_source"]

_HEADER_BYTES = 1 << 20  # JPEG SOF markers sit after the EXIF/ICC segments, well inside 1 MiB


def _first_image_size(path: Path) -> tuple[int, int]:
    try:
        with path.open("rb") as stream:
            head = stream.read(_HEADER_BYTES)
    except OSError as err:
        raise InputError(
            f"Cannot read image {str(path)!r}: {err.strerror or err}.", source=str(path)
        ) from err
    _, width, height = image_size(head, str(path))
    return width, height


def intrinsics_source(
    path: str | os.PathLike[str],
    *,
    camera: str | None,
    sensor_id: str,
    first_image: Path | None,
) -> tuple[CameraIntrinsicsSource, str | None]:
    """The camera's intrinsics, and a note when the image size came from ``first_image``."""
    note = None
    try:
        calib = read_intrinsics(path, camera=camera)
    except InputError as err:
        if err.field not in ("width", "height") or first_image is None:
            raise
        width, height = _first_image_size(first_image)
        calib = read_intrinsics(path, camera=camera, width=width, height=height)
        note = (
            f"camera {sensor_id!r}: the intrinsics ({os.fspath(path)}) give no image size; "
            f"{width}x{height} was taken from its first image ({first_image})."
        )
    return (
        CameraIntrinsicsSource(
            fx=calib.fx,
            fy=calib.fy,
            cx=calib.cx,
            cy=calib.cy,
            width=calib.width,
            height=calib.height,
            distortion_model=None if calib.distortion_model == "none" else calib.distortion_model,
            distortion_params=tuple(calib.distortion_params),
            skew=calib.skew,
            source=os.fspath(path),
        ),
        note,
    )
