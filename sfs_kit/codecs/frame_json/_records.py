"""The plain records a frame file holds (``LidarFrameData``, ``FrameImage``, ``RadarPointsWorld``),
the names and limits the encoder and decoder share, and the frame file name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

CameraModel: TypeAlias = Literal["brown_conrady", "fisheye", "omnidirectional"]
#: The camera models a legacy camera object can carry (the ones Scale's protobuf knows).
CAMERA_MODELS: Final[tuple[str, ...]] = ("brown_conrady", "fisheye", "omnidirectional")
#: Distortion parameters of a camera object, by name, in output order.
DISTORTION_NAMES: Final[tuple[str, ...]] = (
    "k1",
    "k2",
    "p1",
    "p2",
    "k3",
    "k4",
    "k5",
    "k6",
    "lx",
    "ly",
    "xi",
)
_QUAT_NORM_TOLERANCE: Final[float] = 1e-3
_UINT64_LIMIT: Final[int] = 2**64

Vec3: TypeAlias = tuple[float, float, float]
Quat: TypeAlias = tuple[float, float, float, float]


class FrameFieldDroppedWarning(UserWarning):
    """Data present in the input cannot be carried by the frame format and was left out."""


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameImage:
    """One camera object of ``images[]`` (spec §4.3): world pose at the image time, intrinsics."""

    image_url: str
    position_m: Vec3
    heading_quat_xyzw: Quat
    camera_model: CameraModel
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float = 0.0
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    k4: float = 0.0
    k5: float = 0.0
    k6: float = 0.0
    lx: float = 0.0
    ly: float = 0.0
    xi: float = 0.0
    scale_factor: float = 1.0
    timestamp_ns: int | None = None


@dataclass(frozen=True, eq=False)
class RadarPointsWorld:
    """Radar points of one frame in the world frame (spec §4.4); arrays share the length M."""

    positions: npt.NDArray[np.float32]
    directions: npt.NDArray[np.float32] | None = None
    sizes: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True, eq=False)
class LidarFrameData:
    """One lidar frame as the frame JSON carries it: world points, device pose, cameras, radar.

    ``timestamp_ns`` is ``None`` only for legacy files that have no ``timestamp``; encoding
    needs it. ``point_colors_rgb`` is read from legacy files and dropped (with a warning) on
    encode. Compare records with ``frames_equal`` (arrays make ``==`` ambiguous).
    """

    points_world: npt.NDArray[np.float32]
    device_position_m: Vec3
    device_heading_quat_xyzw: Quat
    timestamp_ns: int | None
    intensities: npt.NDArray[np.float32] | None = None
    point_timestamps_ns: npt.NDArray[np.uint64] | None = None
    images: Sequence[FrameImage] = ()
    radar: RadarPointsWorld | None = None
    point_colors_rgb: npt.NDArray[np.uint8] | None = None


def _arrays_equal(a: npt.NDArray[np.generic] | None, b: npt.NDArray[np.generic] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    # Bitwise: -0.0 differs from 0.0 and NaN payloads count, which is what "lossless" means.
    return a.tobytes() == b.tobytes()


def frames_equal(a: LidarFrameData, b: LidarFrameData) -> bool:
    """True when both records hold the same values; arrays compare dtype, shape and bits."""
    radar_same = (a.radar is None and b.radar is None) or (
        a.radar is not None
        and b.radar is not None
        and _arrays_equal(a.radar.positions, b.radar.positions)
        and _arrays_equal(a.radar.directions, b.radar.directions)
        and _arrays_equal(a.radar.sizes, b.radar.sizes)
    )
    return (
        radar_same
        and _arrays_equal(a.points_world, b.points_world)
        and a.device_position_m == b.device_position_m
        and a.device_heading_quat_xyzw == b.device_heading_quat_xyzw
        and a.timestamp_ns == b.timestamp_ns
        and _arrays_equal(a.intensities, b.intensities)
        and _arrays_equal(a.point_timestamps_ns, b.point_timestamps_ns)
        and tuple(a.images) == tuple(b.images)
        and _arrays_equal(a.point_colors_rgb, b.point_colors_rgb)
    )


def frame_file_name(index: int) -> str:
    """``frame-00000.json`` for index 0: five digits, more when needed (spec §4.2)."""
    return f"frame-{index:05d}.json"
