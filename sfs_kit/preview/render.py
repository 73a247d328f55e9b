"""``render_preview``: one PNG a reviewer reads in ten seconds (matplotlib, Agg, no display).

Layout (figure pixels, white background)::

    +----------------------+--------------------------------------+
    | bird's-eye view:     | camera 1 | camera 2 | camera 3        |
    | frames in the world, |  image of the chosen frame with the   |
    | coloured by frame;   |  lidar points projected, coloured by  |
    | trajectory; cameras  |  depth                                |
    | and view directions  | camera 4 | ...                        |
    +----------------------+--------------------------------------+
    | timeline: one row per time stamp list (lidar frames, poses, camera images)     |
    +---------------------------------------------------------------------------------+

Only the frames drawn are read: ``frames`` lidar frames for the bird's-eye view, the chosen
``frame`` for the cameras, each through ``sample_rows`` (a few contiguous runs of a memory-mapped
array), so memory does not grow with the length of the scene. The returned ``PreviewLayout``
says where every panel landed in the PNG, so tests (and tools) can check what was drawn.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sfs_kit._atomic import write_bytes_atomic
from sfs_kit.errors import InputError, MissingDependencyError, OutputError
from sfs_kit.models.geometry import interpolate_pose, quat_to_matrix
from sfs_kit.models.projection import project_world_points
from sfs_kit.models.sensors import CameraSensor, LidarSensor
from sfs_kit.models.validate_geometry import sample_rows
from sfs_kit.preview._deps import require
from sfs_kit.preview.images import decode_camera_image

if TYPE_CHECKING:
    from sfs_kit.models.scene import Scene

__all__ = ["CameraPanel", "PanelBox", "PreviewLayout", "PreviewOptions", "render_preview",
           "world_points"]

F64 = npt.NDArray[np.float64]
BACKGROUND = (255, 255, 255)
_DEFAULT_BEV_FRAMES = 10
_CAMERA_COLUMNS = 3
_MAX_DEPTH_COLOUR_M = 60.0


@dataclass(frozen=True)
class PreviewOptions:
    """What to draw: ``frame`` for the cameras (default the middle one), ``frames`` for the
    bird's-eye view (a count spread over the scene, default 10, or explicit indices),
    ``cameras`` (ids, default all), ``max_points`` drawn in the bird's-eye view and in each
    camera panel, ``lidar`` (id, default the lidar with the most frames)."""

    frame: int | None = None
    frames: int | Sequence[int] | None = None
    cameras: Sequence[str] | None = None
    max_points: int = 100_000
    lidar: str | None = None
    dpi: int = 100


@dataclass(frozen=True)
class PanelBox:
    """A panel's drawing area in PNG pixels: columns ``left..right``, rows ``top..bottom``."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True, eq=False)
class CameraPanel:
    """One camera panel: which image, where it is in the PNG, and the points drawn on it
    (``uv`` in pixels of the full-size image, ``depth_m``)."""

    sensor_id: str
    image_index: int
    timestamp: int
    image_size: tuple[int, int]
    box: PanelBox
    uv: F64
    depth_m: F64
    near_share: float | None


@dataclass(frozen=True, eq=False)
class PreviewLayout:
    """Where everything landed: PNG size, the frames drawn, and each panel's box."""

    width: int
    height: int
    lidar: str | None
    frame: int | None
    frames: tuple[int, ...]
    bev_box: PanelBox
    timeline_box: PanelBox
    cameras: tuple[CameraPanel, ...] = field(default_factory=tuple)
    bev_points: int = 0


def _matplotlib() -> tuple[Any, Any]:
    agg = require("matplotlib.backends.backend_agg", "preview", "The preview")
    figure = require("matplotlib.figure", "preview", "The preview")
    return figure.Figure, agg.FigureCanvasAgg


def world_points(lidar: LidarSensor, index: int, max_points: int) -> F64:
    """About ``max_points`` points of one lidar frame in the world frame (float64)."""
    frame = lidar.frames[index]
    positions = frame.points.positions
    pts = np.asarray(positions[sample_rows(len(positions), max_points)], dtype=np.float64)
    if lidar.coordinates == "ego" and len(pts):
        pos, quat = interpolate_pose(lidar.poses, [frame.timestamp])
        pts = pts @ quat_to_matrix(quat[0]).T + pos[0]
    return pts


def _nearest(times: npt.NDArray[np.int64], t: int) -> int:
    return int(np.argmin(np.abs(times - t))) if len(times) else 0


def _pick_lidar(scene: Scene, lidar_id: str | None) -> LidarSensor | None:
    lidars = [s for s in scene.sensors if isinstance(s, LidarSensor)]
    if lidar_id is not None:
        for lidar in lidars:
            if str(lidar.id) == lidar_id:
                return lidar
        raise InputError(f"The scene has no lidar {lidar_id!r}; lidars: "
                         f"{[str(s.id) for s in lidars]}.", field="lidar")
    return max(lidars, key=lambda s: len(s.frames)) if lidars else None


def _pick_cameras(scene: Scene, wanted: Sequence[str] | None) -> list[CameraSensor]:
    cameras = [s for s in scene.sensors if isinstance(s, CameraSensor)]
    if wanted is None:
        return cameras
    by_id = {str(c.id): c for c in cameras}
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise InputError(f"The scene has no camera {missing[0]!r}; cameras: {sorted(by_id)}.",
                         field="cameras")
    return [by_id[w] for w in wanted]


def _bev_frames(n: int, frames: int | Sequence[int] | None) -> tuple[int, ...]:
    if n == 0:
        return ()
    if frames is None or isinstance(frames, int):
        count = max(1, min(n, _DEFAULT_BEV_FRAMES if frames is None else frames))
        return tuple(sorted({round(i * (n - 1) / max(count - 1, 1)) for i in range(count)}))
    bad = [f for f in frames if not 0 <= f < n]
    if bad:
        raise InputError(f"Frame {bad[0]} is out of range; the lidar has {n} frames (0..{n - 1}).",
                         field="frames")
    return tuple(sorted(set(frames)))


def _box(ax: Any, height: int) -> PanelBox:
    bb = ax.get_window_extent()
    return PanelBox(float(bb.x0), float(height - bb.y1), float(bb.x1), float(height - bb.y0))


def render_preview(
    scene: Scene, out: str | os.PathLike[str] | None, options: PreviewOptions | None = None
) -> tuple[PreviewLayout, bytes]:
    """Draw the preview of ``scene``; write it to ``out`` (atomically) unless ``None``.

    Returns the layout and the PNG bytes. Raises ``InputError`` for a frame, camera or lidar
    the scene does not have, ``OutputError`` when ``out`` cannot be written.
    """
    opts = options or PreviewOptions()
    figure_cls, canvas_cls = _matplotlib()
    lidar = _pick_lidar(scene, opts.lidar)
    cameras = _pick_cameras(scene, opts.cameras)
    n_frames = len(lidar.frames) if lidar is not None else 0
    frame = opts.frame if opts.frame is not None else (n_frames // 2 if n_frames else None)
    if frame is not None and not 0 <= frame < max(n_frames, 1):
        raise InputError(f"Frame {frame} is out of range; the lidar has {n_frames} frames "
                         f"(0..{n_frames - 1}).", field="frame")
    bev_frames = _bev_frames(n_frames, opts.frames)
    ticks_per_s = 1e9 if scene.time_unit == "nanoseconds" else 1e6
    frame_time = int(lidar.frames[frame].timestamp) if lidar is not None and frame is not None \
        else None

    rows = max(1, math.ceil(len(cameras) / _CAMERA_COLUMNS))
    cols = max(1, min(_CAMERA_COLUMNS, len(cameras)))
    timeline_rows = _timeline_rows(scene)
    top_h = max(6.0, 2.9 * rows)
    tl_h = 0.8 + 0.22 * len(timeline_rows)
    fig = figure_cls(figsize=(17.0, top_h + tl_h), dpi=opts.dpi, facecolor="white")
    canvas = canvas_cls(fig)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.0, 1.9], height_ratios=[top_h, tl_h],
                            left=0.07, right=0.99, top=0.96, bottom=0.05, wspace=0.08,
                            hspace=0.25)
    bev_ax = fig.add_subplot(grid[0, 0])
    bev_count = _draw_bev(bev_ax, scene, lidar, cameras, bev_frames, frame, frame_time, opts)
    panels_spec = []
    if cameras:
        sub = grid[0, 1].subgridspec(rows, cols, wspace=0.04, hspace=0.18)
        points = world_points(lidar, frame, opts.max_points) if lidar is not None and \
            frame is not None else np.zeros((0, 3))
        centre = interpolate_pose(lidar.poses, [frame_time])[0][0] if lidar is not None and \
            frame_time is not None else None
        near = None if centre is None else np.linalg.norm(points - centre, axis=1) < 40.0
        panel_w_px = 17.0 * opts.dpi * 1.9 / 2.9 / cols
        for k, camera in enumerate(cameras):
            ax = fig.add_subplot(sub[k // cols, k % cols])
            panels_spec.append((ax, *_draw_camera(ax, camera, points, near, frame_time,
                                                  ticks_per_s, int(panel_w_px))))
    tl_ax = fig.add_subplot(grid[1, :])
    _draw_timeline(tl_ax, timeline_rows, frame_time, ticks_per_s)
    canvas.draw()
    width, height = (round(float(v)) for v in fig.bbox.size)
    panels = tuple(
        CameraPanel(str(cam.id), idx, ts, size, _box(ax, height), uv, depth, share)
        for ax, cam, idx, ts, size, uv, depth, share in panels_spec
    )
    png = _encode_png(np.asarray(canvas.buffer_rgba()))
    if out is not None:
        try:
            write_bytes_atomic(out, png)
        except OSError as err:
            raise OutputError(f"Cannot write preview {os.fspath(out)!r}: {err.strerror or err}.",
                              path=os.fspath(out)) from err
    layout = PreviewLayout(width=width, height=height,
                           lidar=str(lidar.id) if lidar is not None else None, frame=frame,
                           frames=bev_frames, bev_box=_box(bev_ax, height),
                           timeline_box=_box(tl_ax, height), cameras=panels, bev_points=bev_count)
    return layout, png


# --- bird's-eye view -----------------------------------------------------------------------------


def _paint(canvas: npt.NDArray[np.uint8], rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp],
           colours: npt.NDArray[np.uint8], radius: int) -> None:
    """Paint square dots of ``2 radius + 1`` pixels into ``canvas`` (later points on top)."""
    height, width = canvas.shape[:2]
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = rows + dr, cols + dc
            ok = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            canvas[r[ok], c[ok]] = colours[ok]


def _colours(cmap: str, values: F64, vmin: float, vmax: float) -> npt.NDArray[np.uint8]:
    colormaps = require("matplotlib", "preview", "The preview").colormaps
    t = np.clip((values - vmin) / max(vmax - vmin, 1e-9), 0.0, 1.0)
    rgba = colormaps[cmap](t)
    return np.asarray(rgba[:, :3] * 255, dtype=np.uint8)


def _draw_bev(  # noqa: PLR0917
    ax: Any, scene: Scene, lidar: LidarSensor | None, cameras: list[CameraSensor],
    frames: tuple[int, ...], frame: int | None, frame_time: int | None, opts: PreviewOptions,
) -> int:
    """Points rasterised with numpy into one image (fast for any count), vectors on top."""
    drawn = 0
    if lidar is not None and frames:
        per_frame = max(1, opts.max_points // len(frames))
        clouds = [world_points(lidar, f, per_frame) for f in frames]
        xy = np.concatenate([c[:, :2] for c in clouds])
        order = np.concatenate([np.full(len(c), i, dtype=np.float64)
                                for i, c in enumerate(clouds)])
        drawn = len(xy)
        traj = lidar.poses.values[:, :2]
        view = np.concatenate([xy, traj]) if drawn else traj
        lo, hi = np.percentile(view, 1, axis=0), np.percentile(view, 99, axis=0)
        pad = 0.05 * float(np.max(hi - lo)) + 1.0
        x0, x1, y0, y1 = lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad
        if drawn:
            side = 900
            m_per_px = max(x1 - x0, y1 - y0) / side
            w, h = max(1, int((x1 - x0) / m_per_px)), max(1, int((y1 - y0) / m_per_px))
            raster = np.full((h, w, 3), 255, dtype=np.uint8)
            cols = ((xy[:, 0] - x0) / m_per_px).astype(np.intp)
            rows = ((y1 - xy[:, 1]) / m_per_px).astype(np.intp)
            vmax = max(len(frames) - 1, 1)
            _paint(raster, rows, cols, _colours("viridis", order, 0.0, vmax), 0)
            ax.imshow(raster, extent=(x0, x0 + w * m_per_px, y1 - h * m_per_px, y1),
                      interpolation="nearest", origin="upper")
            cm = require("matplotlib.cm", "preview", "The preview")
            colors = require("matplotlib.colors", "preview", "The preview")
            mappable = cm.ScalarMappable(norm=colors.Normalize(0, vmax), cmap="viridis")
            bar = ax.figure.colorbar(mappable, ax=ax, fraction=0.04, pad=0.01)
            bar.set_label("frame")
            ticks = list(range(len(frames)))[:: max(1, len(frames) // 6)]
            bar.set_ticks(ticks)
            bar.set_ticklabels([str(frames[i]) for i in ticks])
        ax.plot(traj[:, 0], traj[:, 1], "-", color="black", linewidth=1.2, label="trajectory")
        if frame_time is not None:
            here = interpolate_pose(lidar.poses, [frame_time])[0][0]
            ax.plot(here[0], here[1], "o", color="red", markersize=6, label=f"frame {frame}")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    length = 0.06 * max(xlim[1] - xlim[0], ylim[1] - ylim[0]) if lidar is not None else 4.0
    for camera in cameras:
        t = frame_time if frame_time is not None else int(camera.poses.timestamps[0])
        pos, quat = interpolate_pose(camera.poses, [t])
        axis = quat_to_matrix(quat[0])[:, 2]
        ax.annotate("", xy=(pos[0, 0] + length * axis[0], pos[0, 1] + length * axis[1]),
                    xytext=(pos[0, 0], pos[0, 1]),
                    arrowprops={"arrowstyle": "->", "color": "crimson", "linewidth": 1.4})
        ax.text(pos[0, 0] + length * axis[0], pos[0, 1] + length * axis[1], str(camera.id),
                fontsize=7, color="crimson")
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"bird's-eye view: {len(frames)} frames of {lidar.id if lidar else '-'} in the "
                 "world", fontsize=10)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    if lidar is not None:
        ax.legend(loc="upper right", fontsize=7)
    return drawn


# --- camera panels -------------------------------------------------------------------------------


def _draw_camera(  # noqa: PLR0917
    ax: Any, camera: CameraSensor, points: F64, near: npt.NDArray[np.bool_] | None,
    frame_time: int | None,
    ticks_per_s: float, panel_px: int,
) -> tuple[CameraSensor, int, int, tuple[int, int], F64, F64, float | None]:
    intr = camera.intrinsics
    stamps = camera.content_timestamps().astype(np.int64)
    index = _nearest(stamps, frame_time) if frame_time is not None else 0
    t_img = int(stamps[index]) if len(stamps) else 0
    note = None
    try:
        pixels = np.array(decode_camera_image(camera, index, max_width=max(panel_px, 64)))
    except (InputError, MissingDependencyError) as err:
        scale = max(1, intr.width // max(panel_px, 64))
        pixels = np.full((intr.height // scale, intr.width // scale, 3), 200, dtype=np.uint8)
        note = f"image not shown:\n{err}"
    uv = np.zeros((0, 2))
    depth = np.zeros(0)
    share: float | None = None
    if len(points):
        proj = project_world_points(points, camera.poses, intr, t_img)
        uv, depth = proj.uv[proj.in_image], proj.depth_m[proj.in_image]
        if near is not None and near.any():
            share = float(proj.in_image[near].mean())
        if len(uv):
            order = np.argsort(-depth)  # near points painted last, on top
            sx, sy = pixels.shape[1] / intr.width, pixels.shape[0] / intr.height
            cols = (uv[order, 0] * sx).astype(np.intp)
            rows = (uv[order, 1] * sy).astype(np.intp)
            colours = _colours("turbo", depth[order], 0.0, _MAX_DEPTH_COLOUR_M)
            _paint(pixels, rows, cols, colours, 1 if pixels.shape[1] >= 400 else 0)
    ax.imshow(pixels, extent=(0, intr.width, intr.height, 0), interpolation="bilinear")
    if note is not None:
        ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=7, transform=ax.transAxes,
                wrap=True)
    ax.set_xlim(0, intr.width)
    ax.set_ylim(intr.height, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    skew = "" if frame_time is None else f", {(t_img - frame_time) * 1e3 / ticks_per_s:+.0f} ms"
    share_text = "" if share is None else f", {share:.0%} of near points in view"
    ax.set_title(f"{camera.id} #{index} ({t_img / ticks_per_s:.2f} s{skew}){share_text}",
                 fontsize=8)
    return camera, index, t_img, (intr.width, intr.height), uv, depth, share


def _encode_png(rgba: npt.NDArray[np.uint8]) -> bytes:
    """The drawn canvas as PNG bytes (Pillow, fast compression: the figure is drawn once)."""
    image_mod = require("PIL.Image", "preview", "The preview")
    buf = io.BytesIO()
    image_mod.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buf, format="PNG",
                                                                 compress_level=3)
    return buf.getvalue()


# --- timeline ------------------------------------------------------------------------------------


def _timeline_rows(scene: Scene) -> list[tuple[str, npt.NDArray[np.int64]]]:
    rows: list[tuple[str, npt.NDArray[np.int64]]] = []
    for sensor in scene.sensors:
        sid = str(sensor.id)
        frames = getattr(sensor, "frames", None)
        if frames is not None:
            rows.append((f"{sid} frames", np.array([f.timestamp for f in frames], np.int64)))
        if isinstance(sensor, CameraSensor):
            kind = "video" if sensor.video is not None else "images"
            rows.append((f"{sid} {kind}", sensor.content_timestamps().astype(np.int64)))
        poses = getattr(sensor, "poses", None)
        if poses is not None:
            rows.append((f"{sid} poses", poses.timestamps.astype(np.int64)))
    return rows


def _draw_timeline(ax: Any, rows: list[tuple[str, npt.NDArray[np.int64]]],
                   frame_time: int | None, ticks_per_s: float) -> None:
    if rows:
        ax.eventplot([r[1] / ticks_per_s for r in rows], lineoffsets=list(range(len(rows))),
                     linelengths=0.7, linewidths=0.8,
                     colors=["tab:blue" if "frames" in r[0] else "tab:orange"
                             if "poses" in r[0] else "tab:green" for r in rows])
        ax.set_yticks(list(range(len(rows))))
        ax.set_yticklabels([r[0] for r in rows], fontsize=7)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.invert_yaxis()
    if frame_time is not None:
        ax.axvline(frame_time / ticks_per_s, color="red", linewidth=1.0)
    ax.set_xlabel("scene time (s)")
    ax.set_title("time stamps (red: the frame shown)", fontsize=9)
