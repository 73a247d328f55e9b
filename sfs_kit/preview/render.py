"""``render_preview``: one PNG a reviewer reads in ten seconds (matplotlib, Agg, no display).

Layout (figure pixels, white background)::

    +----------------------+--------------------------------------+
    | bird's-eye view:     | camera 1 | camera 2 | camera 3        |
    | frames in the world, |  image of the chosen frame with the   |
    | coloured by frame;   |  lidar points projected, coloured by  |
    | trajectory; cameras  |  depth                                |
    | with their views     | camera 4 | ...    [depth colour bar]  |
    +----------------------+--------------------------------------+
    | timeline: one row per time stamp list (lidar frames, poses, camera images)     |
    +---------------------------------------------------------------------------------+

Only the frames drawn are read: ``frames`` lidar frames for the bird's-eye view, the chosen
``frame`` for the cameras, each through ``sample_rows`` (a few contiguous runs of a memory-mapped
array), so memory does not grow with the length of the scene. Points are painted with numpy
into rasters of exactly the panel's pixel size (``raster``), so dots stay crisp and the cost
does not depend on matplotlib. The returned ``PreviewLayout`` says where every panel landed in
the PNG, so tests (and tools) can check what was drawn.
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
from sfs_kit.models.projection import Projection, project_camera_points, project_world_points
from sfs_kit.models.sensors import CameraSensor, LidarSensor
from sfs_kit.models.validate_geometry import sample_rows
from sfs_kit.preview._deps import require
from sfs_kit.preview.images import decode_camera_image
from sfs_kit.preview.raster import colours, fit, paint_dots
from sfs_kit.preview.timeline import draw_timeline, timeline_rows

if TYPE_CHECKING:
    from sfs_kit.models.calibration import CameraIntrinsics
    from sfs_kit.models.scene import Scene

__all__ = ["CameraPanel", "PanelBox", "PreviewLayout", "PreviewOptions", "frames_drawn",
           "render_preview", "world_points"]

F64 = npt.NDArray[np.float64]
BACKGROUND = (255, 255, 255)
_DEFAULT_BEV_FRAMES = 10
_CAMERA_COLUMNS = 3
_FIGURE_WIDTH_IN = 17.0
_NEAR_M = 40.0  # points counted in a panel's "near points in view" share


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
    bev_extent_m: tuple[float, float, float, float] | None = None  # world x0, x1, y0, y1


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


def frames_drawn(n_frames: int, options: PreviewOptions) -> set[int]:
    """The lidar frame indices ``render_preview`` reads for ``options`` out of ``n_frames``
    (the bird's-eye frames and the camera frame), so a reader can skip the others."""
    if n_frames == 0:
        return set()
    frame = options.frame if options.frame is not None else n_frames // 2
    return {*_bev_frames(n_frames, options.frames), frame}


def _box(ax: Any, height: int) -> PanelBox:
    bb = ax.get_window_extent()
    return PanelBox(float(bb.x0), float(height - bb.y1), float(bb.x1), float(height - bb.y0))


def _pixel_size(ax: Any) -> tuple[int, int]:
    """The axes' box in PNG pixels (its final position: set before anything is drawn)."""
    fig = ax.figure
    pos = ax.get_position()
    w_px, h_px = fig.bbox.width, fig.bbox.height
    return max(1, int(pos.width * w_px)), max(1, int(pos.height * h_px))


@dataclass(frozen=True, eq=False)
class _Shot:
    """One camera at the chosen frame: which image, and the lidar points in its view."""

    camera: CameraSensor
    index: int
    timestamp: int
    uv: F64
    depth_m: F64
    near_share: float | None


def _shoot(camera: CameraSensor, points: F64, near: npt.NDArray[np.bool_] | None,
           frame_time: int | None) -> _Shot:
    stamps = camera.content_timestamps().astype(np.int64)
    index = _nearest(stamps, frame_time) if frame_time is not None else 0
    t_img = int(stamps[index]) if len(stamps) else 0
    if not len(points):
        return _Shot(camera, index, t_img, np.zeros((0, 2)), np.zeros(0), None)
    proj: Projection = project_world_points(points, camera.poses, camera.intrinsics, t_img)
    share = float(proj.in_image[near].mean()) if near is not None and near.any() else None
    return _Shot(camera, index, t_img, proj.uv[proj.in_image], proj.depth_m[proj.in_image], share)


def _depth_range(shots: Sequence[_Shot]) -> float:
    """Top of the depth colour scale: the 95th percentile of what the cameras see, rounded."""
    depths = [s.depth_m for s in shots if len(s.depth_m)]
    if not depths:
        return 60.0
    top = float(np.percentile(np.concatenate(depths), 95))
    step = 5.0 if top <= 50 else 10.0
    return max(step, math.ceil(top / step) * step)


def _plan(cameras: Sequence[CameraSensor], rows_in_timeline: list[str], dpi: int
          ) -> dict[str, float]:
    """Figure size and margins (inches and figure fractions) for this many cameras and rows."""
    cols = max(1, min(_CAMERA_COLUMNS, len(cameras)))
    rows = max(1, math.ceil(len(cameras) / _CAMERA_COLUMNS))
    longest = max((len(r) for r in rows_in_timeline), default=10)
    left_in = min(3.0, max(0.75, (14 + 5.6 * longest) / dpi))
    camera_w_in = (_FIGURE_WIDTH_IN - left_in - 0.2) * 1.9 / 3.0 / cols
    aspect = max((c.intrinsics.height / c.intrinsics.width for c in cameras), default=0.75)
    row_in = camera_w_in * aspect + 0.45
    top_in = max(5.0, rows * row_in + 0.6)
    timeline_in = 0.85 + 0.19 * max(1, len(rows_in_timeline))
    height_in = round((top_in + timeline_in + 0.55) * dpi) / dpi  # whole pixels
    return {"width_in": _FIGURE_WIDTH_IN, "height_in": height_in, "top_in": top_in,
            "timeline_in": timeline_in, "left": left_in / _FIGURE_WIDTH_IN,
            "top": 1 - 0.3 / height_in, "bottom": 0.45 / height_in, "rows": rows, "cols": cols}


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

    rows_tl = timeline_rows(scene, ticks_per_s)
    plan = _plan(cameras, [label for label, _ in rows_tl], opts.dpi)
    fig = figure_cls(figsize=(plan["width_in"], plan["height_in"]), dpi=opts.dpi,
                     facecolor="white")
    canvas = canvas_cls(fig)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.0, 1.9],
                            height_ratios=[plan["top_in"], plan["timeline_in"]],
                            left=plan["left"], right=0.985, top=plan["top"],
                            bottom=plan["bottom"], wspace=0.1, hspace=0.55 / plan["top_in"] * 2)
    bev_ax = fig.add_subplot(grid[0, 0])
    shots: list[_Shot] = []
    cam_axes: list[Any] = []
    if cameras:
        points = world_points(lidar, frame, opts.max_points) if lidar is not None and \
            frame is not None else np.zeros((0, 3))
        centre = interpolate_pose(lidar.poses, [frame_time])[0][0] if lidar is not None and \
            frame_time is not None else None
        near = None if centre is None else np.linalg.norm(points - centre, axis=1) < _NEAR_M
        shots = [_shoot(camera, points, near, frame_time) for camera in cameras]
        cols = int(plan["cols"])
        sub = grid[0, 1].subgridspec(int(plan["rows"]), cols, wspace=0.04,
                                     hspace=0.42 / (plan["top_in"] / plan["rows"]))
        cam_axes = [fig.add_subplot(sub[k // cols, k % cols]) for k in range(len(cameras))]
    depth_max = _depth_range(shots)
    if any(len(s.uv) for s in shots):
        _colour_bar(fig, cam_axes, "turbo", depth_max, "lidar depth (m)", horizontal=True)
    bev_count, bev_extent = _draw_bev(bev_ax, lidar, cameras, bev_frames, frame, frame_time, opts)
    for ax, shot in zip(cam_axes, shots, strict=True):
        _draw_camera(ax, shot, frame_time, ticks_per_s, depth_max)
    tl_ax = fig.add_subplot(grid[1, :])
    draw_timeline(tl_ax, rows_tl, frame_time, ticks_per_s)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    height, width = rgba.shape[:2]
    panels = tuple(
        CameraPanel(str(s.camera.id), s.index, s.timestamp,
                    (s.camera.intrinsics.width, s.camera.intrinsics.height), _box(ax, height),
                    s.uv, s.depth_m, s.near_share)
        for ax, s in zip(cam_axes, shots, strict=True)
    )
    png = _encode_png(rgba)
    if out is not None:
        try:
            write_bytes_atomic(out, png)
        except OSError as err:
            raise OutputError(f"Cannot write preview {os.fspath(out)!r}: {err.strerror or err}.",
                              path=os.fspath(out)) from err
    layout = PreviewLayout(width=width, height=height,
                           lidar=str(lidar.id) if lidar is not None else None, frame=frame,
                           frames=bev_frames, bev_box=_box(bev_ax, height),
                           timeline_box=_box(tl_ax, height), cameras=panels, bev_points=bev_count,
                           bev_extent_m=bev_extent)
    return layout, png


def _colour_bar(fig: Any, axes: Any, cmap: str, vmax: float, label: str, *,
                horizontal: bool) -> Any:
    """A colour bar beside ``axes`` (it takes its room from them, before their size is read)."""
    cm = require("matplotlib.cm", "preview", "The preview")
    colors = require("matplotlib.colors", "preview", "The preview")
    mappable = cm.ScalarMappable(norm=colors.Normalize(0.0, vmax), cmap=cmap)
    if horizontal:
        bar = fig.colorbar(mappable, ax=axes, orientation="horizontal", fraction=0.035,
                           pad=0.02, aspect=70, shrink=0.6, anchor=(1.0, 1.0))
    else:
        bar = fig.colorbar(mappable, ax=axes, fraction=0.035, pad=0.015, aspect=30)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return bar


# --- bird's-eye view -----------------------------------------------------------------------------


def _horizontal_fov(intr: CameraIntrinsics) -> tuple[float, float]:
    """The camera's horizontal field of view: the extreme angles (radians, + to the image's
    right) of rays in its optical x-z plane that land inside the image, for any model."""
    angles = np.radians(np.arange(-179.5, 180.0, 1.0))
    rays = np.column_stack([np.sin(angles), np.zeros_like(angles), np.cos(angles)])
    seen = project_camera_points(rays, intr).in_image
    if not seen.any():
        return -0.5, 0.5
    return float(angles[seen].min()), float(angles[seen].max())


def _draw_bev(  # noqa: PLR0917
    ax: Any, lidar: LidarSensor | None, cameras: list[CameraSensor],
    frames: tuple[int, ...], frame: int | None, frame_time: int | None, opts: PreviewOptions,
) -> tuple[int, tuple[float, float, float, float] | None]:
    """Points painted with numpy into a raster of the panel's pixel size, vectors on top;
    returns the points drawn and the world extent shown (x0, x1, y0, y1)."""
    drawn = 0
    span = 8.0
    extent = None
    if lidar is not None and frames:
        per_frame = max(1, opts.max_points // len(frames))
        clouds = [world_points(lidar, f, per_frame) for f in frames]
        xy = np.concatenate([c[:, :2] for c in clouds])
        order = np.concatenate([np.full(len(c), i, dtype=np.float64)
                                for i, c in enumerate(clouds)])
        drawn = len(xy)
        vmax = max(len(frames) - 1, 1)
        if len(frames) > 1:
            bar = _colour_bar(ax.figure, ax, "viridis", vmax, "frame (bird's-eye view)",
                              horizontal=False)
            ticks = list(range(len(frames)))[:: max(1, math.ceil(len(frames) / 8))]
            bar.set_ticks(ticks)
            bar.set_ticklabels([str(frames[i]) for i in ticks])
        w_px, h_px = _pixel_size(ax)
        traj = lidar.poses.values[:, :2]
        lo, hi = traj.min(axis=0), traj.max(axis=0)  # the whole drive, and most points
        if drawn:
            lo = np.minimum(lo, np.percentile(xy, 1, axis=0))
            hi = np.maximum(hi, np.percentile(xy, 99, axis=0))
        pad = 0.04 * float(np.max(hi - lo)) + 1.0
        lo, hi = lo - pad, hi + pad
        m_per_px = max((hi[0] - lo[0]) / w_px, (hi[1] - lo[1]) / h_px)
        mid = (lo + hi) / 2
        x0, y1 = mid[0] - w_px * m_per_px / 2, mid[1] + h_px * m_per_px / 2
        x1, y0 = x0 + w_px * m_per_px, y1 - h_px * m_per_px
        span = max(x1 - x0, y1 - y0)
        extent = (float(x0), float(x1), float(y0), float(y1))
        if drawn:
            raster = np.full((h_px, w_px, 3), 255, dtype=np.uint8)
            cols = np.floor((xy[:, 0] - x0) / m_per_px).astype(np.intp)
            rows = np.floor((y1 - xy[:, 1]) / m_per_px).astype(np.intp)
            radius = 0 if drawn > 0.08 * w_px * h_px else 1
            paint_dots(raster, rows, cols, colours("viridis", order, 0.0, vmax), radius)
            ax.imshow(raster, extent=(x0, x1, y0, y1), interpolation="nearest", origin="upper")
        ax.plot(traj[:, 0], traj[:, 1], "-", color="black", linewidth=1.2, label="trajectory")
        if frame_time is not None:
            here = interpolate_pose(lidar.poses, [frame_time])[0][0]
            ax.plot(here[0], here[1], "o", color="red", markersize=6, label=f"frame {frame}")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    _draw_cameras_bev(ax, cameras, frame_time, 0.07 * span)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"bird's-eye view: {len(frames)} frames of {lidar.id if lidar else '-'} in the "
                 "world (a smear of static structure = bad poses)", fontsize=9)
    ax.set_xlabel("x (m)", fontsize=8)
    ax.set_ylabel("y (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    if lidar is not None:
        ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    return drawn, extent


def _draw_cameras_bev(ax: Any, cameras: list[CameraSensor], frame_time: int | None,
                      length: float) -> None:
    """Each camera at the frame time: a wedge of its horizontal field of view and its id."""
    for camera in cameras:
        t = frame_time if frame_time is not None else int(camera.poses.timestamps[0])
        pos, quat = interpolate_pose(camera.poses, [t])
        rot = quat_to_matrix(quat[0])
        left, right = _horizontal_fov(camera.intrinsics)
        arc = np.linspace(left, right, 24)
        rays = rot @ np.vstack([np.sin(arc), np.zeros_like(arc), np.cos(arc)])
        tips = pos[0, :2, None] + length * rays[:2]
        wedge = np.column_stack([pos[0, :2], tips, pos[0, :2]])
        ax.fill(wedge[0], wedge[1], color="crimson", alpha=0.12, linewidth=0)
        ax.plot(wedge[0], wedge[1], color="crimson", linewidth=0.8)
        axis = rot[:, 2]
        ax.text(pos[0, 0] + 1.15 * length * axis[0], pos[0, 1] + 1.15 * length * axis[1],
                str(camera.id), fontsize=7, color="crimson", ha="center", va="center")


# --- camera panels -------------------------------------------------------------------------------


def _draw_camera(ax: Any, shot: _Shot, frame_time: int | None, ticks_per_s: float,
                 depth_max: float) -> None:
    camera, intr = shot.camera, shot.camera.intrinsics
    box_w, box_h = _pixel_size(ax)
    shown_w = max(1, min(box_w, round(box_h * intr.width / intr.height)))
    shown_h = max(1, round(shown_w * intr.height / intr.width))
    note = None
    try:
        pixels = decode_camera_image(camera, shot.index, max_width=shown_w)
        pixels = np.array(fit(pixels, shown_w, shown_h))
    except (InputError, MissingDependencyError) as err:
        pixels = np.full((shown_h, shown_w, 3), 200, dtype=np.uint8)
        note = f"image not shown:\n{err}"
    if len(shot.uv):
        order = np.argsort(-shot.depth_m)  # near points painted last, on top
        cols = np.floor(shot.uv[order, 0] * shown_w / intr.width).astype(np.intp)
        rows = np.floor(shot.uv[order, 1] * shown_h / intr.height).astype(np.intp)
        paint_dots(pixels, rows, cols, colours("turbo", shot.depth_m[order], 0.0, depth_max), 1)
    ax.imshow(pixels, extent=(0, intr.width, intr.height, 0), interpolation="nearest")
    if note is not None:
        ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=7, transform=ax.transAxes,
                wrap=True)
    ax.set_xlim(0, intr.width)
    ax.set_ylim(intr.height, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    name = str(camera.id)
    name = name if len(name) <= 30 else name[:28] + ".."
    skew = "" if frame_time is None else \
        f" ({(shot.timestamp - frame_time) * 1e3 / ticks_per_s:+.0f} ms)"
    share = "" if shot.near_share is None else f", {shot.near_share:.0%} of near pts in view"
    ax.set_title(f"{name}  image {shot.index}\n{shot.timestamp / ticks_per_s:.2f} s{skew}, "
                 f"{len(shot.uv)} pts{share}", fontsize=7, linespacing=1.2)


def _encode_png(rgba: npt.NDArray[np.uint8]) -> bytes:
    """The drawn canvas as PNG bytes (Pillow, fast compression: the figure is drawn once)."""
    image_mod = require("PIL.Image", "preview", "The preview")
    buf = io.BytesIO()
    image_mod.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buf, format="PNG",
                                                                 compress_level=3)
    return buf.getvalue()
