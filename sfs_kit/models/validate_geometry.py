"""Geometric pre-flight rules (G-*): the mistakes schema checks cannot see, found before paying.

``validate_geometry(scene)`` returns ``GeometryIssue`` objects: the same ``code``, ``severity``,
``path`` and ``message`` as every V-* issue, plus where (``sensor``, ``frame``, ``timestamp``) and
how much (``measured`` against ``limit``). It works on a memory-mapped scene without copying its
frames: it samples frames and reads a few contiguous chunks of points from each, so its cost does
not grow with the point count. The limits live in one ``GeometryThresholds`` record (overridable
in ``sfs-kit.toml`` under ``[run.geometry]``, or a top-level ``[geometry]`` table).

Rules (severity; what is measured):

- G-C1 (error): share of the lidar points within ``near_range_m`` of the lidar that project inside
  a camera's image; near 0 means an inverted extrinsic, a swapped quaternion order, poses of the
  wrong sensor or a body-frame (x-forward) camera looking at the sky.
- G-C2 (error): distance from a camera to the lidar at the same time (wrong poses put it far away).
- G-C3 (warning): angle between a camera's image-down axis (+y of the optical frame) and world
  down; a level rig's cameras stay within ``max_camera_roll_deg``, an inverted extrinsic or a
  body-frame pose does not.
- G-T1 (warning): median time from a camera image to its nearest lidar frame.
- G-T2 (error): a camera clock offset: the first and last images are both shifted from the first
  and last lidar frames by the same amount.
- G-T3 (warning): drift of the camera/lidar time offset over the capture (ms per minute).
- G-P1, G-P2, G-P3 (warning): speed, acceleration and yaw rate of a lidar's poses (resampled
  every ``pose_sample_s`` so noisy high-rate poses do not blow up the differences).
- G-P4 (error): a jump between consecutive poses beyond what the median speed explains.
- G-P5 (error): roll or pitch of a lidar far from level (a wxyz/xyzw swap of a level car reads
  as a 180 degree roll).
- G-P6 (warning): poses standing still while consecutive frames do not overlap (the lidar sees
  motion the poses miss).
- G-S1 (warning): static-world overlap of consecutive posed frames (the share of one frame's
  sampled points whose voxel the next frame occupies) dropping against the lidar's median.
- G-S2 (warning): consecutive frames barely overlap anywhere (median below ``min_overlap``).
- G-O1 (warning): float32 resolution at the largest coordinate (recentre the scene).
- G-F1, G-F2 (warning): empty frames, and frames with far fewer points than the median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from sfs_kit.models.geometry import interpolate_pose, quat_to_matrix
from sfs_kit.models.validate import Issue, Severity

if TYPE_CHECKING:  # the models load with the first scene checked (the settings need none)
    from sfs_kit.models.scene import Scene
    from sfs_kit.models.sensors import CameraSensor, LidarSensor

__all__ = ["GeometryIssue", "GeometryThresholds", "validate_geometry"]

F64 = npt.NDArray[np.float64]
_MAX_ISSUES_PER_RULE: Final = 5  # per sensor; the last message says how many more there were


class GeometryThresholds(BaseModel):
    """Every limit of the G-* rules, with its unit in its name; override any of them by name."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    sample_frames: int = Field(default=8, ge=1, description=(
        "lidar frames sampled for the camera checks (G-C1, G-C2) and G-O1"))
    sample_points: int = Field(default=4096, ge=64, description=(
        "points read per sampled frame, in a few contiguous runs"))
    near_range_m: float = Field(default=40.0, gt=0, description=(
        "G-C1 and the overlap scores count the points within this distance of the lidar"))
    min_projection_share: float = Field(default=0.01, ge=0, le=1, description=(
        "G-C1: share of the near points inside a camera's image below which it fires"))
    min_near_points: int = Field(default=50, ge=1, description=(
        "G-C1, G-S1: frames with fewer near points are not scored"))
    max_camera_offset_m: float = Field(default=5.0, gt=0, description=(
        "G-C2: camera to lidar distance at the same time"))
    max_camera_roll_deg: float = Field(default=60.0, gt=0, le=180, description=(
        "G-C3: angle of a camera's image-down axis from world down"))
    max_time_skew_ms: float = Field(default=40.0, gt=0, description=(
        "G-T1: median time from a camera image to the nearest lidar frame"))
    max_clock_offset_ms: float = Field(default=50.0, gt=0, description=(
        "G-T2: a camera clock offset seen at both ends of the capture"))
    max_drift_ms_per_min: float = Field(default=20.0, gt=0, description=(
        "G-T3: drift of the camera/lidar time offset"))
    pose_sample_s: float = Field(default=0.1, gt=0, description=(
        "G-P1..G-P3 resample the poses at this step, so noisy high-rate poses do not blow up"))
    max_speed_mps: float = Field(default=70.0, gt=0, description="G-P1: speed (252 km/h)")
    max_accel_mps2: float = Field(default=15.0, gt=0, description="G-P2: acceleration (1.5 g)")
    max_yaw_rate_dps: float = Field(default=90.0, gt=0, description="G-P3: yaw rate")
    max_jump_m: float = Field(default=2.0, gt=0, description=(
        "G-P4: a step between consecutive poses beyond what the median speed explains"))
    max_tilt_deg: float = Field(default=25.0, gt=0, le=180, description=(
        "G-P5: roll or pitch of a lidar (a ground vehicle is near level)"))
    standing_m: float = Field(default=0.05, ge=0, description=(
        "G-P6: poses that moved less than this between frames stand still"))
    voxel_m: float = Field(default=0.5, gt=0, description=(
        "voxel edge of the overlap scores (G-S1, G-S2, G-P6)"))
    max_overlap_pairs: int = Field(default=200, ge=1, description=(
        "consecutive frame pairs scored at most, spread over the capture"))
    overlap_drop_ratio: float = Field(default=0.5, gt=0, le=1, description=(
        "G-S1: a pair's overlap below this fraction of the lidar's median"))
    min_overlap: float = Field(default=0.2, ge=0, le=1, description=(
        "G-S2: the median overlap of consecutive frames below this"))
    standing_overlap_ratio: float = Field(default=0.8, gt=0, description=(
        "G-P6: standing poses whose frames agree less than this (1 = as well as a frame "
        "with itself)"))
    max_float32_step_m: float = Field(default=0.005, gt=0, description=(
        "G-O1: float32 spacing at the largest coordinate"))
    sparse_share: float = Field(default=0.1, ge=0, le=1, description=(
        "G-F2: a frame with fewer points than this fraction of the median"))


@dataclass(frozen=True, slots=True)
class GeometryIssue(Issue):
    """A G-* issue: ``Issue`` plus where it is and what was measured against which limit.

    ``frame`` indexes the sensor's own list (a lidar's ``frames``, a camera's images or video
    frames); ``timestamp`` is on the scene clock in its ``time_unit``.
    """

    sensor: str | None = None
    frame: int | None = None
    timestamp: int | None = None
    measured: float | None = None
    limit: float | None = None
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON view: the V-* keys plus the location and the measurement."""
        out: dict[str, Any] = dict(Issue.to_dict(self))
        out.update(sensor=self.sensor, frame=self.frame, timestamp=self.timestamp,
                   measured=self.measured, limit=self.limit, unit=self.unit)
        return out


def validate_geometry(
    scene: Scene, thresholds: GeometryThresholds | None = None
) -> list[GeometryIssue]:
    """Every G-* issue of ``scene`` (see the module table); reads only sampled points."""
    limits = thresholds or GeometryThresholds()
    checker = _Geometry(scene, limits)
    checker.run()
    return checker.issues


# --- helpers -------------------------------------------------------------------------------------


def sample_rows(n: int, k: int, chunks: int = 32) -> npt.NDArray[np.intp]:
    """``min(n, k)`` row indices of ``n``: ``chunks`` contiguous runs spread evenly, so a memory
    map pages in a few pages per run instead of the whole array."""
    if n <= k:
        return np.arange(n)
    chunks = max(1, min(chunks, k))
    lengths = np.full(chunks, k // chunks)
    lengths[: k % chunks] += 1
    starts = np.linspace(0, n - lengths[0], chunks).astype(np.intp)
    return np.concatenate([np.arange(s, s + m) for s, m in zip(starts, lengths, strict=True)])


def _evenly(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [n // 2]


def _nearest(sorted_times: npt.NDArray[np.int64], t: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Index of the nearest value in ``sorted_times`` for each of ``t``."""
    tt = np.asarray(t, dtype=np.int64)
    hi = np.clip(np.searchsorted(sorted_times, tt), 1, max(len(sorted_times) - 1, 1))
    lo = hi - 1
    if len(sorted_times) == 1:
        return np.zeros(tt.shape, dtype=np.intp)
    pick_hi = np.abs(sorted_times[hi] - tt) < np.abs(tt - sorted_times[lo])
    return np.where(pick_hi, hi, lo).astype(np.intp)


def _voxel_keys(points: F64, voxel_m: float) -> npt.NDArray[np.int64]:
    cells = np.floor(points / voxel_m).astype(np.int64)
    cells += 1 << 20  # +-1e6 cells per axis (500 km at 0.5 m) packed into 21 bits each
    cells &= (1 << 21) - 1
    return (cells[:, 0] << 42) | (cells[:, 1] << 21) | cells[:, 2]


class _Geometry:
    """Runs the rules over one scene and collects capped, located issues."""

    def __init__(self, scene: Scene, limits: GeometryThresholds) -> None:
        self.scene = scene
        self.limits = limits
        self.ticks_per_s = 1e9 if scene.time_unit == "nanoseconds" else 1e6
        self.issues: list[GeometryIssue] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._world_cache: dict[tuple[str, int], F64] = {}

    # --- reporting ----------------------------------------------------------------------------

    def report(
        self,
        code: str,
        severity: Severity,
        sensor: str,
        path: str,
        message: str,
        *,
        frame: int | None = None,
        timestamp: int | None = None,
        measured: float | None = None,
        limit: float | None = None,
        unit: str = "",
    ) -> None:
        key = (code, sensor)
        seen = self._counts.get(key, 0)
        self._counts[key] = seen + 1
        if seen >= _MAX_ISSUES_PER_RULE:
            return
        self.issues.append(GeometryIssue(code, severity, path, message, sensor, frame, timestamp,
                                         measured, limit, unit))

    def _finish_counts(self) -> None:
        for (code, sensor), count in self._counts.items():
            if count > _MAX_ISSUES_PER_RULE:
                self.issues.append(GeometryIssue(
                    code, "warning", f"sensors[{sensor}]",
                    f"{count - _MAX_ISSUES_PER_RULE} more {code} issue(s) on this sensor not shown",
                    sensor))

    def run(self) -> None:
        from sfs_kit.models.sensors import CameraSensor, LidarSensor

        lidars = [s for s in self.scene.sensors if isinstance(s, LidarSensor)]
        cameras = [s for s in self.scene.sensors if isinstance(s, CameraSensor)]
        for lidar in lidars:
            self.frame_counts(lidar)
            self.poses(lidar)
            self.float32(lidar)
            self.overlap(lidar)
        if lidars:
            reference = max(lidars, key=lambda s: len(s.frames))
            for camera in cameras:
                self.time_skew(camera, reference)
                self.projection(camera, reference)
        for camera in cameras:
            self.camera_roll(camera)
        self._finish_counts()

    # --- shared reads -------------------------------------------------------------------------

    def _t(self, ticks: float) -> str:
        return f"{ticks / self.ticks_per_s:.3f} s"

    def world_points(self, lidar: LidarSensor, index: int) -> F64:
        """About ``sample_points`` points of one frame in the world frame (float64, cached)."""
        key = (str(lidar.id), index)
        cached = self._world_cache.get(key)
        if cached is not None:
            return cached
        frame = lidar.frames[index]
        positions = frame.points.positions
        rows = sample_rows(len(positions), self.limits.sample_points)
        pts = np.asarray(positions[rows], dtype=np.float64)
        if lidar.coordinates == "ego":
            pos, quat = interpolate_pose(lidar.poses, [frame.timestamp])
            pts = pts @ quat_to_matrix(quat[0]).T + pos[0]
        self._world_cache[key] = pts
        return pts

    def lidar_position(self, lidar: LidarSensor, timestamps: npt.ArrayLike) -> F64:
        pos, _ = interpolate_pose(lidar.poses, timestamps)
        return pos

    # --- G-F1 / G-F2 --------------------------------------------------------------------------

    def frame_counts(self, lidar: LidarSensor) -> None:
        sid = str(lidar.id)
        counts = np.array([len(f.points.positions) for f in lidar.frames])
        median = float(np.median(counts))
        for i in np.flatnonzero(counts == 0):
            ts = lidar.frames[int(i)].timestamp
            self.report("G-F1", "warning", sid, f"sensors[{sid}].frames[{i}].points.positions",
                        f"frame {i} at {self._t(ts)} has no points", frame=int(i), timestamp=ts,
                        measured=0.0, limit=1.0, unit="points")
        sparse = np.flatnonzero((counts > 0) & (counts < self.limits.sparse_share * median))
        for i in sparse:
            ts = lidar.frames[int(i)].timestamp
            self.report(
                "G-F2", "warning", sid, f"sensors[{sid}].frames[{i}].points.positions",
                f"frame {i} at {self._t(ts)} has {counts[i]} points, "
                f"{counts[i] / median:.1%} of the sensor's median {median:.0f}",
                frame=int(i), timestamp=ts, measured=float(counts[i]),
                limit=self.limits.sparse_share * median, unit="points")

    # --- G-P1..G-P5 ---------------------------------------------------------------------------

    def _frame_of(self, lidar: LidarSensor, ticks: float) -> tuple[int, int]:
        times = np.array([f.timestamp for f in lidar.frames], dtype=np.int64)
        i = int(_nearest(times, [round(ticks)])[0])
        return i, int(times[i])

    def poses(self, lidar: LidarSensor) -> None:
        sid = str(lidar.id)
        path = lidar.poses
        times = path.timestamps.astype(np.float64)
        values = path.values
        self.tilt(lidar, values)
        if len(times) < 2:
            return
        self.jumps(lidar, times, values[:, :3])
        span_s = (times[-1] - times[0]) / self.ticks_per_s
        step = self.limits.pose_sample_s
        if span_s < 2 * step:
            return
        n = min(int(span_s / step) + 1, 20_000)
        sample = np.linspace(times[0], times[-1], n)
        dt = (sample[1] - sample[0]) / self.ticks_per_s
        pos, quat = interpolate_pose(path, sample)
        vel = np.diff(pos, axis=0) / dt
        speed = np.linalg.norm(vel, axis=1)
        mid = (sample[1:] + sample[:-1]) / 2
        self._peak("G-P1", lidar, speed, mid, self.limits.max_speed_mps, "m/s", "speed",
                   f"sensors[{sid}].poses")
        if len(vel) >= 2:
            accel = np.linalg.norm(np.diff(vel, axis=0), axis=1) / dt
            self._peak("G-P2", lidar, accel, sample[1:-1], self.limits.max_accel_mps2, "m/s^2",
                       "acceleration", f"sensors[{sid}].poses")
        rot = quat_to_matrix(quat)
        yaw = np.unwrap(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))
        yaw_rate = np.degrees(np.abs(np.diff(yaw))) / dt
        self._peak("G-P3", lidar, yaw_rate, mid, self.limits.max_yaw_rate_dps, "deg/s", "yaw rate",
                   f"sensors[{sid}].poses")

    def _peak(  # noqa: PLR0917
        self, code: str, lidar: LidarSensor, values: F64, times: F64, limit: float, unit: str,
        what: str, path: str,
    ) -> None:
        over = values > limit
        if not over.any():
            return
        first = int(np.argmax(over))
        worst = int(np.argmax(values))
        frame, ts = self._frame_of(lidar, float(times[first]))
        self.report(
            code, "warning", str(lidar.id), f"{path}",
            f"{what} {values[worst]:.1f} {unit} at {self._t(times[worst])} exceeds {limit:g} "
            f"{unit} ({int(over.sum())} of {len(values)} samples, first at "
            f"{self._t(times[first])}, near frame {frame})",
            frame=frame, timestamp=ts, measured=float(values[worst]), limit=limit, unit=unit)

    def jumps(self, lidar: LidarSensor, times: F64, xyz: F64) -> None:
        sid = str(lidar.id)
        dt_s = np.diff(times) / self.ticks_per_s
        steps = np.linalg.norm(np.diff(xyz, axis=0), axis=1)
        speed = steps / np.where(dt_s > 0, dt_s, np.inf)
        typical = float(np.median(speed))
        excess = steps - typical * dt_s
        for i in np.flatnonzero(excess > self.limits.max_jump_m):
            frame, ts = self._frame_of(lidar, float(times[i + 1]))
            self.report(
                "G-P4", "error", sid, f"sensors[{sid}].poses.values[{i + 1}]",
                f"pose {i + 1} at {self._t(times[i + 1])} is {steps[i]:.2f} m from the previous "
                f"pose, {excess[i]:.2f} m more than the median speed {typical:.1f} m/s explains "
                f"(frame {frame})",
                frame=frame, timestamp=ts, measured=float(excess[i]), limit=self.limits.max_jump_m,
                unit="m")

    def tilt(self, lidar: LidarSensor, values: F64) -> None:
        sid = str(lidar.id)
        rot = quat_to_matrix(values[:, 3:7])
        roll = np.degrees(np.arctan2(rot[:, 2, 1], rot[:, 2, 2]))
        pitch = np.degrees(np.arcsin(np.clip(-rot[:, 2, 0], -1, 1)))
        tilt = np.maximum(np.abs(roll), np.abs(pitch))
        over = tilt > self.limits.max_tilt_deg
        if not over.any():
            return
        i = int(np.argmax(over))
        ts = int(lidar.poses.timestamps[i])
        frame, fts = self._frame_of(lidar, ts)
        self.report(
            "G-P5", "error", sid, f"sensors[{sid}].poses.values[{i}]",
            f"pose {i} at {self._t(ts)} has roll {roll[i]:.1f} deg and pitch {pitch[i]:.1f} deg "
            f"({int(over.sum())} of {len(tilt)} poses beyond {self.limits.max_tilt_deg:g} deg); a "
            "ground vehicle's lidar is near level: check the quaternion order (xyzw, scalar last) "
            "and that these are the lidar's poses",
            frame=frame, timestamp=fts, measured=float(tilt[i]), limit=self.limits.max_tilt_deg,
            unit="deg")

    # --- G-O1 ---------------------------------------------------------------------------------

    def float32(self, lidar: LidarSensor) -> None:
        sid = str(lidar.id)
        picks = _evenly(len(lidar.frames), self.limits.sample_frames)
        worst, where = 0.0, picks[0]
        for i in picks:
            pts = self.world_points(lidar, i)
            if len(pts):
                m = float(np.max(np.abs(pts)))
                if m > worst:
                    worst, where = m, i
        pose_max = np.max(np.abs(lidar.poses.values[:, :3]), axis=1)
        if len(pose_max) and float(pose_max.max()) > worst:
            k = int(np.argmax(pose_max))
            worst = float(pose_max[k])
            where, _ = self._frame_of(lidar, float(lidar.poses.timestamps[k]))
        step = float(np.spacing(np.float32(worst))) if worst > 0 else 0.0
        if step > self.limits.max_float32_step_m:
            ts = lidar.frames[where].timestamp
            self.report(
                "G-O1", "warning", sid, f"sensors[{sid}].frames[{where}].points.positions",
                f"coordinates reach {worst:.0f} m (frame {where}), where float32 points are "
                f"{step * 1000:.1f} mm apart (limit {self.limits.max_float32_step_m * 1000:g} mm); "
                "recentre the scene (recentre() or convert --recentre)",
                frame=where, timestamp=ts, measured=step, limit=self.limits.max_float32_step_m,
                unit="m")

    # --- G-S1 / G-S2 / G-P6 -------------------------------------------------------------------

    def _hits(self, queries: F64, cloud: F64) -> float:
        """Share of ``queries`` whose voxel ``cloud`` occupies."""
        keys_b = np.unique(_voxel_keys(cloud, self.limits.voxel_m))
        keys_a = _voxel_keys(queries, self.limits.voxel_m)
        pos = np.clip(np.searchsorted(keys_b, keys_a), 0, len(keys_b) - 1)
        return float(np.mean(keys_b[pos] == keys_a))

    def _overlap(self, lidar: LidarSensor, a: int, b: int) -> tuple[float, float] | None:
        """(score, ratio) of frames a and b after posing: ``score`` is the share of frame a's
        nearby sampled points whose voxel frame b's sample occupies; ``ratio`` compares half of
        each sample across the frames with the two halves of frame a (1 = as consistent as a
        frame with itself, below 1 = the frames see different worlds)."""
        pa, pb = self.world_points(lidar, a), self.world_points(lidar, b)
        if len(pa) == 0 or len(pb) == 0:
            return None
        centre = self.lidar_position(lidar, [lidar.frames[a].timestamp])[0]
        near = np.linalg.norm(pa - centre, axis=1) < self.limits.near_range_m
        if near.sum() < self.limits.min_near_points:
            return None
        score = self._hits(pa[near], pb)
        even = pa[near][0::2]
        self_hits = self._hits(even, pa[1::2])
        cross_hits = self._hits(even, pb[1::2])
        return score, (cross_hits / self_hits if self_hits > 0 else 1.0)

    def overlap(self, lidar: LidarSensor) -> None:
        sid = str(lidar.id)
        n = len(lidar.frames)
        if n < 2:
            return
        pairs = _evenly(n - 1, self.limits.max_overlap_pairs)
        times = np.array([f.timestamp for f in lidar.frames], dtype=np.int64)
        pos = self.lidar_position(lidar, times)
        scores: list[tuple[int, float, float, float]] = []  # frame, score, ratio, moved
        for i in pairs:
            result = self._overlap(lidar, i, i + 1)
            if result is not None:
                moved = float(np.linalg.norm(pos[i + 1] - pos[i]))
                scores.append((i + 1, result[0], result[1], moved))
        if not scores:
            return
        moving = [s for _, s, _, d in scores if d >= self.limits.standing_m]
        median = float(np.median(moving)) if moving else 1.0
        for frame, score, ratio, moved in scores:
            ts = int(times[frame])
            if moved < self.limits.standing_m and ratio < self.limits.standing_overlap_ratio:
                self.report(
                    "G-P6", "warning", sid, f"sensors[{sid}].frames[{frame}]",
                    f"the poses stand still ({moved * 100:.1f} cm) from frame {frame - 1} to "
                    f"{frame} at {self._t(ts)}, but the posed frames agree only {ratio:.0%} as "
                    "well as a frame with itself: the lidar sees motion the poses miss (stale, "
                    "constant or another sensor's poses)",
                    frame=frame, timestamp=ts, measured=ratio,
                    limit=self.limits.standing_overlap_ratio, unit="ratio")
            elif (moved >= self.limits.standing_m
                  and score < self.limits.overlap_drop_ratio * median):
                self.report(
                    "G-S1", "warning", sid, f"sensors[{sid}].frames[{frame}]",
                    f"frames {frame - 1} and {frame} at {self._t(ts)} overlap {score:.0%} after "
                    f"posing, against a median of {median:.0%} for this lidar: the pose at frame "
                    f"{frame} is likely wrong",
                    frame=frame, timestamp=ts, measured=score,
                    limit=self.limits.overlap_drop_ratio * median, unit="share")
        if moving and median < self.limits.min_overlap:
            self.report(
                "G-S2", "warning", sid, f"sensors[{sid}].frames",
                f"consecutive frames overlap only {median:.0%} (median of {len(scores)} pairs, "
                f"voxel {self.limits.voxel_m:g} m) after posing: the poses may not belong to "
                "this lidar, or the quaternion order is wrong",
                measured=median, limit=self.limits.min_overlap)

    # --- G-T1..G-T3 ---------------------------------------------------------------------------

    def time_skew(self, camera: CameraSensor, lidar: LidarSensor) -> None:
        cid = str(camera.id)
        images = camera.content_timestamps().astype(np.int64)
        frames = np.array([f.timestamp for f in lidar.frames], dtype=np.int64)
        if len(images) == 0 or len(frames) == 0:
            return
        to_ms = 1e3 / self.ticks_per_s
        nearest = frames[_nearest(frames, images)]
        skew_ms = (images - nearest) * to_ms
        median = float(np.median(np.abs(skew_ms)))
        worst = int(np.argmax(np.abs(skew_ms)))
        content = "video.timestamps" if camera.video is not None else "images"
        if median > self.limits.max_time_skew_ms:
            self.report(
                "G-T1", "warning", cid, f"sensors[{cid}].{content}[{worst}]",
                f"images are a median {median:.0f} ms from the nearest {lidar.id} frame (worst "
                f"{skew_ms[worst]:+.0f} ms at image {worst}, {self._t(images[worst])})",
                frame=worst, timestamp=int(images[worst]),
                measured=median, limit=self.limits.max_time_skew_ms, unit="ms")
        start_ms = float(images[0] - frames[0]) * to_ms
        end_ms = float(images[-1] - frames[-1]) * to_ms
        period_ms = float(np.median(np.diff(frames))) * to_ms if len(frames) > 1 else math.inf
        offset = (start_ms + end_ms) / 2
        if (abs(offset) > self.limits.max_clock_offset_ms and start_ms * end_ms > 0
                and abs(start_ms - end_ms) < max(period_ms / 2, self.limits.max_clock_offset_ms)):
            self.report(
                "G-T2", "error", cid, f"sensors[{cid}].{content}[0]",
                f"the camera clock looks {offset:+.0f} ms off the lidar's: its first image is "
                f"{start_ms:+.0f} ms from {lidar.id}'s first frame and its last {end_ms:+.0f} ms "
                "from the last one",
                frame=0, timestamp=int(images[0]), measured=offset,
                limit=self.limits.max_clock_offset_ms, unit="ms")
        span_min = float(images[-1] - images[0]) / self.ticks_per_s / 60
        if len(images) == len(frames) and len(images) > 2 and span_min > 0:
            pair_ms = (images - frames) * to_ms
            slope = float(np.polyfit((images - images[0]) / self.ticks_per_s / 60, pair_ms, 1)[0])
            if abs(slope) > self.limits.max_drift_ms_per_min:
                self.report(
                    "G-T3", "warning", cid, f"sensors[{cid}].{content}",
                    f"the camera/lidar time offset drifts {slope:+.1f} ms per minute (from "
                    f"{pair_ms[0]:+.0f} ms to {pair_ms[-1]:+.0f} ms over {span_min * 60:.0f} s)",
                    frame=len(images) - 1, timestamp=int(images[-1]), measured=slope,
                    limit=self.limits.max_drift_ms_per_min, unit="ms/min")

    # --- G-C1..G-C3 --------------------------------------------------------------------------

    def camera_roll(self, camera: CameraSensor) -> None:
        cid = str(camera.id)
        rot = quat_to_matrix(camera.poses.values[:, 3:7])
        angle = np.degrees(np.arccos(np.clip(-rot[:, 2, 1], -1.0, 1.0)))
        over = angle > self.limits.max_camera_roll_deg
        if not over.any():
            return
        i = int(np.argmax(over))
        ts = int(camera.poses.timestamps[i])
        self.report(
            "G-C3", "warning", cid, f"sensors[{cid}].poses.values[{i}]",
            f"the camera's image-down axis (+y) is {angle[i]:.0f} deg from world down at pose {i} "
            f"({self._t(ts)}; {int(over.sum())} of {len(angle)} poses beyond "
            f"{self.limits.max_camera_roll_deg:g} deg): an inverted extrinsic, a swapped "
            "quaternion order, or a body-frame (x forward, z up) pose instead of the optical frame",
            frame=int(_nearest(camera.content_timestamps().astype(np.int64), [ts])[0]),
            timestamp=ts, measured=float(angle[i]), limit=self.limits.max_camera_roll_deg,
            unit="deg")

    def projection(self, camera: CameraSensor, lidar: LidarSensor) -> None:
        from sfs_kit.models.projection import project_world_points

        cid = str(camera.id)
        images = camera.content_timestamps().astype(np.int64)
        if len(images) == 0:
            return
        content = "video.timestamps" if camera.video is not None else "images"
        shares: list[tuple[int, int, float, int]] = []  # (frame, image, share, near count)
        for f in _evenly(len(lidar.frames), self.limits.sample_frames):
            t = lidar.frames[f].timestamp
            img = int(_nearest(images, [t])[0])
            t_img = int(images[img])
            centre = self.lidar_position(lidar, [t])[0]
            cam_pos, _ = interpolate_pose(camera.poses, [t_img])
            offset = float(np.linalg.norm(cam_pos[0] - self.lidar_position(lidar, [t_img])[0]))
            if offset > self.limits.max_camera_offset_m:
                self.report(
                    "G-C2", "error", cid, f"sensors[{cid}].poses",
                    f"at image {img} ({self._t(t_img)}) the camera is {offset:.1f} m from "
                    f"{lidar.id} (limit {self.limits.max_camera_offset_m:g} m): an inverted "
                    "extrinsic (sensor_from_camera given as camera_from_sensor) or poses of "
                    "another frame", frame=img, timestamp=t_img, measured=offset,
                    limit=self.limits.max_camera_offset_m, unit="m")
            pts = self.world_points(lidar, f)
            near = pts[np.linalg.norm(pts - centre, axis=1) < self.limits.near_range_m]
            if len(near) < self.limits.min_near_points:
                continue
            proj = project_world_points(near, camera.poses, camera.intrinsics, t_img)
            shares.append((f, img, float(proj.in_image.mean()), len(near)))
        low = [s for s in shares if s[2] < self.limits.min_projection_share]
        if not low:
            return
        f, img, share, count = min(low, key=lambda s: s[2])
        self.report(
            "G-C1", "error", cid, f"sensors[{cid}].{content}[{img}]",
            f"{share:.1%} of {count} lidar points within {self.limits.near_range_m:g} m project "
            f"into the image (image {img}, {lidar.id} frame {f}; {len(low)} of {len(shares)} "
            f"sampled frames below {self.limits.min_projection_share:.0%}): check the extrinsic "
            "direction, the quaternion order and that the camera pose is the optical frame "
            "(+z forward, +y down), not a body frame (x forward)",
            frame=img, timestamp=int(images[img]), measured=share,
            limit=self.limits.min_projection_share, unit="share")


