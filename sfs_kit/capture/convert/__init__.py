"""Capture -> streamed ``.sfs``, streamed split_base64 frames, or an in-memory ``Scene``.

Memory grows with one frame, not with the capture: each lidar frame and image is loaded,
converted, written to the output (``SfsAppendWriter`` for .sfs, in place after a generously
reserved header, so each byte is written once; one file per frame for split_base64) and
released; only timestamps, poses and calibration are kept.

What the converter decides, once:

- **Coordinates.** Output points are always in the world frame (SFS compat mode D9 and split_base64
  both need it). Points given in the ``sensor`` frame are mapped by ``world_from_ego(t) @
  ego_from_sensor``, ``ego`` points by ``world_from_ego(t)``, ``world`` points are kept; ``t`` is
  the frame timestamp, poses are interpolated there (``sync.sample_poses``), all in float64, cast to
  float32 last. A capture without a pose file has a static ego at the world origin.
- **Recentring** (D15). ``recentre=True`` subtracts a whole-metre origin (the first lidar pose's
  translation, or the first frame's centre when the poses sit at the origin) in float64 before the
  float32 cast; ``"auto"`` does so when a pose or the first frame exceeds 10 km. The origin is
  recorded in ``metadata.sfs_kit.origin_offset``. Without a pose file the static ego is placed
  at that origin, so the recentred sensor poses stay beside the points.
- **Time** (D10). ``time_offset`` = the smallest frame or image timestamp (absolute µs); every
  timestamp is relative to it; per-point times become uint32 µs on that clock (D11). Sensor poses
  are written at their own content timestamps, so every frame lies inside its pose span.
- **Non-finite points.** NaN/inf positions (missing returns of organised clouds) are dropped per
  frame, counted in ``ConvertResult.notes``; ``keep_nonfinite=True`` keeps them (V-A7 then fails).
- **PCD VIEWPOINT** is not applied. PCL defines it as the acquisition viewpoint stored beside the
  points (``sensor_origin_``/``sensor_orientation_``, used e.g. to orient normals); PCL never
  moves the points by it, and the manifest's ``frame`` already says which frame they are in. A
  non-identity viewpoint often means the cloud was saved in another frame (a registered map),
  so each lidar with one gets a note naming the frames and the first viewpoint, for the user to
  check the declared ``frame`` and extrinsics.
- **Colours.** Point colours (uint8 sRGB from PCD, PLY, LAS) go into each .sfs lidar frame's
  ``colors`` (kept through the non-finite drop and downsampling); split_base64 has no colour
  field (spec 4.2), so there each coloured lidar gets a note (and a warning) saying they were
  dropped. Loaders' decisions (e.g. a LAS lidar's intensity scale) are notes too.
- **Radar.** A capture's radars (scale-lidar-toolkit's ``radar_points``) become SFS radar
  sensors in the world frame, posed by their ``points_frame`` like lidar points (directions
  rotated only, sizes kept as ``lengths``), not thinned; in split_base64 each radar frame's
  points join the lidar frame nearest in time as its ``radar_points`` (spec 4.4).
- **Validation.** Each frame is validated as it is produced (``validate_tree`` on a one-frame tree)
  and the whole scene's metadata at the end (a skeleton tree with empty frames); an error means
  nothing is written at the destination (``SceneValidationError`` carrying the issues).

The modules, each importing only those before it: ``result`` (what a conversion returns),
``progress``, ``plan`` (times, poses, origin), ``frame`` (one lidar frame or image), ``trees`` (the
scene tree and its checks), ``video`` (cameras as MP4), ``notes``, ``radar`` (radar points of
each split_base64 frame), ``build`` (the whole tree),
``to_sfs`` and ``to_frames`` (the two file outputs); this package holds the entry points.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sfs_kit._atomic import clean_stale
from sfs_kit.capture.base import Capture
from sfs_kit.capture.convert.build import build_tree
from sfs_kit.capture.convert.notes import load_notes, nonfinite_notes, viewpoint_notes
from sfs_kit.capture.convert.plan import make_plan
from sfs_kit.capture.convert.progress import Counter, ProgressCallback, count_steps
from sfs_kit.capture.convert.result import ConvertResult, Format
from sfs_kit.capture.convert.to_sfs import convert_sfs
from sfs_kit.capture.convert.trees import check_issues
from sfs_kit.capture.convert.video import VideoOut
from sfs_kit.capture.options import ConvertOptions, RecentreMode
from sfs_kit.codecs._output import check_output_file
from sfs_kit.errors import InputError

if TYPE_CHECKING:  # the scene models and the split_base64 writer load on use only
    from sfs_kit.models.scene import Scene

__all__ = [
    "ConvertOptions",
    "ConvertResult",
    "Format",
    "ProgressCallback",
    "convert_capture",
    "read_capture_scene",
]

log = logging.getLogger(__name__)


def _read_file(path: Path) -> npt.NDArray[np.uint8]:
    data = np.fromfile(path, dtype=np.uint8)
    data.flags.writeable = False
    return data


def _as_capture(capture: Capture | str | os.PathLike[str], opts: ConvertOptions) -> Capture:
    if isinstance(capture, Capture):
        return capture
    from sfs_kit.capture.layout import open_capture  # layout imports every reader

    return open_capture(
        capture,
        allow_outside_capture=opts.allow_outside_capture,
        frame_rate_hz=opts.frame_rate_hz,
        radar_frame=opts.radar_frame,
    )


def read_capture_scene(
    capture: Capture | str | os.PathLike[str],
    *,
    options: ConvertOptions | None = None,
    recentre: RecentreMode | None = None,
    voxel_size_m: float | None = None,
    max_points_per_frame: int | None = None,
    keep_nonfinite: bool | None = None,
    camera_video: bool | None = None,
) -> Scene:
    """The whole capture as an in-memory ``Scene`` (small captures and tests; holds every array).

    ``options`` as in ``convert_capture`` (a keyword given here overrides it). Points with
    NaN/inf positions are dropped (logged) unless ``keep_nonfinite``. ``camera_video`` encodes
    every camera as an H.264 MP4 (D8); a camera whose input is a video is always stored as one.
    """
    opts = _options(options, recentre=recentre, voxel_size_m=voxel_size_m,
                    max_points_per_frame=max_points_per_frame, keep_nonfinite=keep_nonfinite,
                    camera_video=camera_video)
    cap = _as_capture(capture, opts)
    plan = make_plan(cap, opts.recentre)
    plan.keep_nonfinite = opts.keep_nonfinite
    with tempfile.TemporaryDirectory(prefix="sfs_kit-video-") as tmp:
        video = VideoOut(
            temp_prefix=Path(tmp) / "scene", put_file=_read_file, all_cameras=opts.camera_video
        )
        try:
            tree, issues, _ = build_tree(
                cap,
                plan,
                lambda a: a,
                voxel_size_m=opts.voxel_size_m,
                max_points=opts.max_points_per_frame,
                counter=Counter(0, None),
                video=video,
            )
        finally:
            video.cleanup()
    check_issues(issues, "the scene")
    load_notes(plan, colours_dropped=False)
    nonfinite_notes(plan)
    viewpoint_notes(plan)
    from sfs_kit.models.scene import Scene

    return Scene.model_validate(tree)


# upper bounds on the JSON of one lidar frame / image entry and one "$items" entry (20-digit


def convert_capture(
    capture_path: Capture | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: Format,
    options: ConvertOptions | None = None,
    on_progress: ProgressCallback | None = None,
    recentre: RecentreMode | None = None,
    voxel_size_m: float | None = None,
    max_points_per_frame: int | None = None,
    keep_nonfinite: bool | None = None,
    overwrite: bool = False,
    camera_video: bool | None = None,
) -> ConvertResult:
    """Convert a capture to ``out`` (a .sfs file or a split_base64 folder), streaming frames.

    ``options`` (``ConvertOptions``) says how: recentring, thinning, non-finite points, ...; the
    keywords ``recentre``, ``voxel_size_m``, ``max_points_per_frame`` and ``keep_nonfinite``
    override single fields of it (None: keep ``options``' value). A .sfs file is replaced
    atomically; an existing non-empty frames folder is refused unless ``overwrite``, which swaps
    in the new folder only once it is complete.

    Raises ``OutputError`` before reading anything when ``out`` cannot be written (its folder
    must exist; a .sfs may not be a folder, a frames folder must be new or empty), ``InputError``
    for bad input and ``SceneValidationError`` (with ``issues``) when the result would be invalid;
    in every case nothing is written at ``out``. Warnings are returned in ``ConvertResult.issues``.

    Points whose position is NaN/inf (the missing returns of organised clouds) are dropped, with
    a note per lidar giving the count per frame and the total; ``keep_nonfinite=True`` keeps
    them, so such a frame fails validation (V-A7) and nothing is written.

    ``camera_video`` (.sfs only) stores each camera as one H.264 MP4 (``video``: Scale's encoder
    settings, D8, fps from the timestamps), encoded one image at a time into a temporary file that
    the writer copies in. A camera whose input is already a video is always stored as video:
    unchanged when it is H.264 in MP4, re-encoded otherwise. Needs the ``video`` extra (PyAV).
    """
    if format not in ("sfs", "split_base64"):
        raise InputError(f"format must be 'sfs' or 'split_base64', got {format!r}.", field="format")
    opts = _options(options, recentre=recentre, voxel_size_m=voxel_size_m,
                    max_points_per_frame=max_points_per_frame, keep_nonfinite=keep_nonfinite,
                    camera_video=camera_video)
    opts.check_format(format)
    if format == "sfs":
        check_output_file(out)
    else:
        from sfs_kit.capture.convert.to_frames import check_frames_folder, convert_frames

        check_frames_folder(Path(os.fspath(out)), overwrite=overwrite)
    for stale in clean_stale(out):  # what a killed conversion to the same output left
        log.info("Removed %s, left by an earlier conversion that was killed.", stale)
    cap = _as_capture(capture_path, opts)
    plan = make_plan(cap, opts.recentre)
    plan.keep_nonfinite = opts.keep_nonfinite
    counter = Counter(count_steps(cap), on_progress)
    dest = Path(os.fspath(out))
    if format == "sfs":
        return convert_sfs(
            cap,
            plan,
            dest,
            voxel_size_m=opts.voxel_size_m,
            max_points=opts.max_points_per_frame,
            counter=counter,
            camera_video=opts.camera_video,
        )
    return convert_frames(
        cap, plan, dest, voxel_size_m=opts.voxel_size_m, max_points=opts.max_points_per_frame,
        counter=counter, overwrite=overwrite,
    )


def _options(options: ConvertOptions | None, **overrides: Any) -> ConvertOptions:
    """``options`` (default ``ConvertOptions()``) with the keyword overrides that are not None."""
    base = options if options is not None else ConvertOptions()
    given = {name: value for name, value in overrides.items() if value is not None}
    return replace(base, **given) if given else base
