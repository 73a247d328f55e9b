"""How a recording becomes a capture: one typed record shared by the CLI flags and capture.yaml.

Every field is optional: an empty ``RecordingOptions`` means the automatic mapping (PointCloud2
topics are lidars, image topics with a CameraInfo in the same namespace are cameras, poses from
TF between ``world_frame`` and ``ego_frame``). A ``capture.yaml`` whose top-level ``recording``
key names a recording carries the same keys (``RecordingManifest``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sfs_kit.capture._channels import TimeUnit

__all__ = ["CameraTopics", "PointTimeOption", "RecordingManifest", "RecordingOptions"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class CameraTopics(_Record):
    """A camera: its image topic (Image or CompressedImage) and its CameraInfo topic."""

    image: str
    info: str | None = None


class PointTimeOption(_Record):
    """A per-point time field the drivers' conventions do not cover: name, unit, reference."""

    field: str
    unit: TimeUnit
    reference: Literal["frame", "absolute"]


class RecordingOptions(_Record):
    """The mapping from a recording's topics and TF to the capture (see the module docstring).

    ``start_s``/``end_s`` are seconds from the recording's first message; ``every`` keeps every
    n-th lidar sweep; ``image_tolerance_ms`` is the largest gap between a frame and the image
    paired with it (default half the lidar's frame period). ``intensity_max``, ``intensity_field``
    and ``point_time`` are keyed by lidar topic (for field layouts no driver convention covers).
    ``sweep_stamp`` says where in its sweep a lidar topic's stamp lies: ``start`` (the default:
    Ouster, Hesai, Livox, the ROS 2 Velodyne driver) or ``end`` (ROS 1 ``velodyne_driver``'s
    default, stamped by its last packet, its ``time`` field counting from the first): then the
    frame time is the stamp less one sweep period and the relative per-point times end at it.
    """

    lidar_topics: tuple[str, ...] = ()
    cameras: tuple[CameraTopics, ...] = ()
    world_frame: str | None = None
    ego_frame: str = "base_link"
    pose_topic: str | None = None
    time_source: Literal["header", "log"] = "header"
    start_s: Annotated[float, Field(ge=0)] | None = None
    end_s: Annotated[float, Field(ge=0)] | None = None
    every: Annotated[int, Field(ge=1)] = 1
    image_tolerance_ms: Annotated[float, Field(gt=0)] | None = None
    intensity_max: dict[str, Annotated[float, Field(gt=0)]] = {}
    intensity_field: dict[str, str] = {}
    point_time: dict[str, PointTimeOption] = {}
    sweep_stamp: dict[str, Literal["start", "end"]] = {}


class RecordingManifest(RecordingOptions):
    """A ``capture.yaml`` pointing at a recording (path relative to the manifest's folder)."""

    version: Literal[1] = 1
    name: str | None = None
    recording: str
    metadata: dict[str, str | int | float | bool | None] = {}
