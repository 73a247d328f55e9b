"""One lidar frame, radar frame or image, loaded and converted: points into the (recentred)
world, thinned, non-finite rows dropped, per-point times on the scene clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sfs_kit.capture.base import CameraSource, LidarSource, RadarSource
from sfs_kit.capture.convert.plan import Plan, SensorPlan, points_matrix, translation
from sfs_kit.capture.downsample import downsample_indices
from sfs_kit.errors import InputError
from sfs_kit.models.geometry import rotate_vectors, transform_points

_UINT32_MAX = 2**32 - 1


_IDENTITY_VIEWPOINT = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


@dataclass
class FrameArrays:
    positions: npt.NDArray[np.float32]
    intensities: npt.NDArray[np.uint8] | None
    timestamps: npt.NDArray[np.uint32] | None
    points_in: int
    colors: npt.NDArray[np.uint8] | None = None


def convert_frame(  # noqa: PLR0917
    lidar: LidarSource,
    k: int,
    plan: Plan,
    sensor_plan: SensorPlan,
    voxel_size_m: float | None,
    max_points: int | None,
) -> FrameArrays:
    frame = lidar.frames[k]
    pts = frame.load()
    raw_positions, intensity, time_us = pts.positions_m, pts.intensity, pts.time_us
    colors = pts.colors
    for note in pts.notes:
        plan.load_notes.setdefault(note, None)
    if colors is not None:
        plan.coloured[str(lidar.sensor_id)] = plan.coloured.get(str(lidar.sensor_id), 0) + 1
    if pts.viewpoint is not None and not np.array_equal(pts.viewpoint, _IDENTITY_VIEWPOINT):
        plan.viewpoints.append((str(lidar.sensor_id), k, [float(v) for v in pts.viewpoint]))
    if not plan.keep_nonfinite and not np.isfinite(raw_positions.sum(dtype=np.float64)):
        # organised clouds (Ouster, PCL) mark missing returns with NaN rows: drop them here
        finite = np.isfinite(raw_positions).all(axis=1)
        plan.nonfinite.append((str(lidar.sensor_id), k, int(finite.size - finite.sum())))
        raw_positions = raw_positions[finite]
        intensity = None if intensity is None else intensity[finite]
        time_us = None if time_us is None else time_us[finite]
        colors = None if colors is None else colors[finite]
    matrix = plan.shift @ points_matrix(lidar, sensor_plan, k) @ translation(pts.origin_m)
    with np.errstate(invalid="ignore"):  # kept NaN/inf rows (keep_nonfinite): V-A7 reports them
        positions = transform_points(raw_positions, matrix)
    keep = downsample_indices(positions, voxel_size_m=voxel_size_m, max_points=max_points)
    if keep is not None:
        positions = positions[keep]
        intensity = None if intensity is None else intensity[keep]
        time_us = None if time_us is None else time_us[keep]
        colors = None if colors is None else colors[keep]
    stamps: npt.NDArray[np.uint32] | None = None
    if time_us is not None and time_us.size:
        offset = plan.time_offset_us
        lo, hi = int(time_us.min()) - offset, int(time_us.max()) - offset
        if lo < 0 or hi > _UINT32_MAX:
            raise InputError(
                f"{frame.source}: per-point times span [{lo}, {hi}] us relative to the scene start "
                f"{plan.time_offset_us} us; they must lie in [0, {_UINT32_MAX}] (check the point "
                f"time unit and reference in the manifest, or declare 'point_time: ignore' to "
                f"leave them out).",
                source=frame.source,
                field="time",
            )
        # in range, so one pass straight into uint32 (no int64 difference array in between)
        stamps = np.empty(time_us.shape, dtype=np.uint32)
        np.subtract(time_us, np.int64(offset), out=stamps, casting="unsafe")
    elif time_us is not None:
        stamps = None  # V-A10: omit a zero-length timestamps array
    if colors is not None:
        colors = np.ascontiguousarray(colors, dtype=np.uint8)
    for arr in (positions, intensity, stamps, colors):
        if arr is not None and arr.flags.writeable:
            arr.flags.writeable = False
    return FrameArrays(
        positions=positions,
        intensities=intensity,
        timestamps=stamps,
        points_in=int(pts.positions_m.shape[0]),
        colors=colors,
    )


@dataclass
class RadarArrays:
    """One radar frame in the (recentred) world: SFS ``positions``, ``directions``, ``lengths``."""

    positions: npt.NDArray[np.float32]
    directions: npt.NDArray[np.float32] | None
    lengths: npt.NDArray[np.float32] | None


def convert_radar_frame(
    radar: RadarSource, k: int, plan: Plan, sensor_plan: SensorPlan
) -> RadarArrays:
    """Radar frame k posed like a lidar frame (by its ``points_frame``); directions are rotated
    only; sizes are lengths, kept. Radar points are neither thinned nor filtered: the reader
    refuses non-finite values."""
    pts = radar.frames[k].load()
    matrix = plan.shift @ points_matrix(radar, sensor_plan, k)
    positions = transform_points(pts.positions_m, matrix)
    directions = None if pts.directions is None else rotate_vectors(pts.directions, matrix)
    lengths = None if pts.sizes_m is None else np.ascontiguousarray(pts.sizes_m, np.float32)
    for arr in (positions, directions, lengths):
        if arr is not None and arr.flags.writeable:
            arr.flags.writeable = False
    return RadarArrays(positions=positions, directions=directions, lengths=lengths)


def load_image(camera: CameraSource, k: int) -> npt.NDArray[np.uint8]:
    image = camera.images[k]
    loaded = image.load()
    intr = camera.intrinsics
    for name, found, want in (
        ("width", loaded.width, intr.width),
        ("height", loaded.height, intr.height),
    ):
        if found != want:
            raise InputError(
                f"{image.source}: the {loaded.format.upper()} image is "
                f"{loaded.width}x{loaded.height} but camera {camera.sensor_id!r} intrinsics "
                f"({intr.source}) say {intr.width}x{intr.height} ({name} differs).",
                source=image.source,
                field=name,
            )
    return np.frombuffer(loaded.content, dtype=np.uint8)
