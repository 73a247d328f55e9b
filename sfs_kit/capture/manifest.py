"""The sfs_kit capture folder: the schema of ``capture.yaml`` / ``capture.json`` and its loader.

The manifest names each sensor, where its files are (a glob pattern or an explicit list, relative
to the manifest's folder), where each file's timestamp comes from and in which unit, the pose file
(``world_from_ego``), the calibration files and the frame the points are given in. The README's
"Capture folder layout" section shows a complete example. Every path is checked when the capture
is opened, so a manifest that references missing files fails before anything is converted.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from sfs_kit._documents import load_document
from sfs_kit._paths import read_input_text
from sfs_kit.capture._channels import TimeUnit
from sfs_kit.errors import InputError

__all__ = [
    "MANIFEST_NAMES",
    "CameraEntry",
    "CaptureManifest",
    "ExtrinsicsEntry",
    "IntrinsicsEntry",
    "LidarEntry",
    "PointTimeEntry",
    "PosesEntry",
    "TimestampsEntry",
    "load_manifest",
]

MANIFEST_NAMES = ("capture.yaml", "capture.yml", "capture.json")


_Scale = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A channel's full-scale value: finite and positive (``.inf`` would turn every value to 0)."""


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class TimestampsEntry(_Entry):
    """Where frame timestamps come from: a text file (one per line, in file order) or file names.

    ``from_filename``: the file stem (``1700000000100000.pcd``) is the integer timestamp.
    """

    file: str | None = None
    from_filename: bool = False
    unit: TimeUnit = "us"


class PointTimeEntry(_Entry):
    """Per-point time in the cloud files: the unit of the values and what they are relative to.

    Both are required: a per-point time channel is never interpreted by guesswork.
    """

    unit: TimeUnit
    reference: Literal["frame", "absolute"]


class ExtrinsicsEntry(_Entry):
    """A sensor's mounting: a calibration file, an inline 4x4 matrix, or translation + quaternion.

    ``direction`` (required) says what the file or matrix maps: ``sensor_to_ego``
    (``ego_from_sensor``) or ``ego_to_sensor``; it is never guessed.
    """

    file: str | None = None
    matrix: list[list[float]] | None = None
    translation_m: list[float] | None = None
    quat_xyzw: list[float] | None = None
    direction: Literal["sensor_to_ego", "ego_to_sensor"]


class IntrinsicsEntry(_Entry):
    """Camera intrinsics: a calibration file (JSON/YAML/OpenCV YAML), optionally a camera key."""

    file: str
    camera: str | None = None


class LidarEntry(_Entry):
    """One lidar: its cloud files, timestamps, point frame and mounting.

    ``point_time`` is required as soon as a cloud file holds per-point times (checked when the
    frame is loaded: the manifest alone cannot know); ``point_time: ignore`` leaves them out
    (e.g. an airborne survey's GPS times spanning more than SFS's 71.6 minutes of uint32 µs).
    ``color_max`` declares the scale of float colour channels (255 for ScanNet/mmdetection3d
    xyzrgb tables; 0..1 when absent).
    """

    id: str
    files: str | list[str]
    timestamps: TimestampsEntry
    frame: Literal["sensor", "ego", "world"] = "sensor"
    extrinsics: ExtrinsicsEntry | None = None
    columns: list[str] | None = None
    intensity_max: _Scale | None = None
    color_max: _Scale | None = None
    point_time: PointTimeEntry | None = None
    ignore_point_time: bool = False  # what ``point_time: ignore`` sets

    @model_validator(mode="before")
    @classmethod
    def _point_time_ignore(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("point_time") == "ignore":
            return {**{k: v for k, v in data.items() if k != "point_time"},
                    "ignore_point_time": True}
        return data


class CameraEntry(_Entry):
    """One camera: its image files (JPEG/PNG) or one ``video`` file (an MP4, one timestamp per
    frame in ``timestamps.file``), timestamps, intrinsics and mounting."""

    id: str
    files: str | list[str] | None = None
    video: str | None = None
    timestamps: TimestampsEntry
    intrinsics: IntrinsicsEntry | None = None
    extrinsics: ExtrinsicsEntry | None = None


class PosesEntry(_Entry):
    """The ego trajectory (``world_from_ego``): a CSV or JSON pose file.

    ``time_unit`` is required; a ``_s``/``_ms``/``_us``/``_ns`` suffix on the file's timestamp
    column must agree with it. ``layout: matrix`` reads rows of a timestamp and a row-major 4x4
    (or 3x4) ``world_from_ego`` matrix instead of position + quaternion.
    """

    file: str
    quat_order: Literal["xyzw", "wxyz"] = "xyzw"
    layout: Literal["quaternion", "matrix"] = "quaternion"
    time_unit: TimeUnit
    tolerance_us: Annotated[StrictInt, Field(ge=0)] = 0


class CaptureManifest(_Entry):
    """The whole ``capture.yaml``."""

    version: Literal[1] = 1
    name: str | None = None
    poses: PosesEntry | None = None
    lidars: Annotated[list[LidarEntry], Field(min_length=1)]
    cameras: list[CameraEntry] = []
    metadata: dict[str, str | int | float | bool | None] = {}
    allow_outside_capture: bool = False
    """Let the manifest reference files outside its folder (each such read is reported)."""


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_manifest(path: str | os.PathLike[str]) -> CaptureManifest:
    """Parse and check a ``capture.yaml``/``capture.json``; errors name the file and the field."""
    source = str(path)
    text = read_input_text(path, what="capture manifest")
    raw = load_document(text, source=source, what="Capture manifest")
    if not isinstance(raw, dict):
        raise InputError(
            f"Capture manifest {source!r} must hold a mapping at the top level, found "
            f"{type(raw).__name__}.",
            source=source,
        )
    try:
        return CaptureManifest.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = _loc(tuple(first["loc"]))
        raise InputError(
            f"Capture manifest {source!r}: field {field!r}: {first['msg']} "
            f"({err.error_count()} problem(s) in total).",
            source=source,
            field=field,
        ) from err
