"""``sfs-kit preview INPUT -o preview.png``: one picture of a scene, capture or frames folder.

INPUT is a ``.sfs`` (ours or Scale-written), a split_base64 frames folder, or a capture (every
layout ``open_capture`` knows: capture folders, KITTI raw, msgpack, ROS 1 / ROS 2 / MCAP
recordings with the same topic flags as ``convert``), converted to a temporary ``.sfs`` first.
``--rerun OUT.rrd`` also writes a Rerun recording. Exit 0 written, 2 unreadable input or output.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfs_kit.cli._common import EXIT_OK, print_json
from sfs_kit.cli._recording import add_recording_arguments, recording_options
from sfs_kit.errors import InputError, OutputError

if TYPE_CHECKING:
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = ["register", "run"]


def _frames_arg(text: str) -> int | list[int]:
    """``--frames 12`` (a count spread over the scene) or ``--frames 0,10,20`` (indices)."""
    try:
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        return int(text)
    except ValueError:
        msg = f"expected a count like 12 or indices like 0,10,20, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add the ``preview`` subcommand."""
    parser = subparsers.add_parser(
        "preview", help="draw one PNG of a scene: bird's-eye view, cameras with lidar, timeline",
        description="Draw one PNG of a .sfs scene, a split_base64 frames folder or a capture: a "
        "bird's-eye view of several frames in the world (coloured by frame) with the trajectory "
        "and the cameras, every camera image of one frame with the lidar points projected "
        "(coloured by depth), and a timeline of every sensor's time stamps.")
    parser.add_argument("input", metavar="INPUT", help="a .sfs file, a frames folder or a capture")
    parser.add_argument("-o", "--out", required=True, type=Path, help="the PNG to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing PNG/RRD")
    parser.add_argument("--frame", type=int, default=None,
                        help="lidar frame for the camera panels (default: the middle one)")
    parser.add_argument("--frames", type=_frames_arg, default=None, metavar="N|I,J,...",
                        help="frames in the bird's-eye view: a count spread over the scene "
                             "(default 10) or indices")
    parser.add_argument("--cameras", default=None, metavar="ID,ID",
                        help="cameras to draw (default: all)")
    parser.add_argument("--lidar", default=None, metavar="ID",
                        help="the lidar to draw (default: the one with the most frames)")
    parser.add_argument("--max-points", type=_positive, default=100_000, metavar="N",
                        help="points drawn in the bird's-eye view and in each camera "
                             "(default 100000)")
    parser.add_argument("--rerun", type=Path, default=None, metavar="OUT.rrd",
                        help="also write a Rerun recording (needs the viz extra, rerun-sdk)")
    parser.add_argument("--json", action="store_true", help="print the layout as JSON")
    add_recording_arguments(parser)
    parser.set_defaults(func=run)


def _check_out(path: Path, overwrite: bool) -> None:
    parent = path.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"Cannot write {str(path)!r}: folder {str(parent)!r} does not exist.",
                          path=str(path))
    if path.is_dir():
        raise OutputError(f"Output {str(path)!r} is a folder; name a file.", path=str(path))
    if path.exists() and not overwrite:
        raise OutputError(f"Output {str(path)!r} exists; pass --overwrite to replace it.",
                          path=str(path))


def _recording(args: argparse.Namespace) -> RecordingOptions | None:
    """The recording mapping (flags over ``SFS_KIT_*`` over ``sfs-kit.toml``), read only for a
    capture input: building it imports the capture and recording readers, which a ``.sfs`` or
    a frames folder never needs (startup time)."""
    from sfs_kit.preview.source import input_kind

    if input_kind(args.input) != "capture":
        return None
    from sfs_kit.pipeline.config import load_recording_settings

    return load_recording_settings(recording_options(args))


def run(args: argparse.Namespace) -> int:
    """Open the input, draw the PNG (and the .rrd), print what was drawn."""
    from sfs_kit.preview import PreviewOptions, open_preview_scene, render_preview

    out: Path = args.out
    if out.suffix.lower() != ".png":
        raise OutputError(f"Output {str(out)!r} is not a .png file name.", path=str(out))
    _check_out(out, args.overwrite)
    if args.rerun is not None:
        _check_out(args.rerun, args.overwrite)
    if not os.path.exists(args.input):
        raise InputError(f"Input {args.input!r} does not exist.", source=args.input)
    cameras = [c.strip() for c in args.cameras.split(",") if c.strip()] if args.cameras else None
    options = PreviewOptions(frame=args.frame, frames=args.frames, cameras=cameras,
                             max_points=args.max_points, lidar=args.lidar)
    with open_preview_scene(args.input, options=options,
                            recording=_recording(args)) as source:
        layout, _ = render_preview(source.scene, out, options)
        recorded = None
        if args.rerun is not None:
            from sfs_kit.preview import write_rerun

            recorded = write_rerun(source.scene, args.rerun, frames=list(layout.frames),
                                   max_points=args.max_points, cameras=cameras)
    if args.json:
        print_json({
            "input": args.input, "kind": source.kind, "png": str(out),
            "width": layout.width, "height": layout.height, "lidar": layout.lidar,
            "frame": layout.frame, "frames": list(layout.frames),
            "bev_points": layout.bev_points,
            "cameras": [{"id": c.sensor_id, "image": c.image_index, "points": len(c.uv),
                         "near_share": c.near_share} for c in layout.cameras],
            "rerun": None if args.rerun is None else str(args.rerun),
            "rerun_frames": recorded, "notes": list(source.notes),
        })
    else:
        cams = ", ".join(f"{c.sensor_id} {len(c.uv)} pts" for c in layout.cameras) or "no cameras"
        print(f"{out}: {layout.width}x{layout.height} px, {source.kind} input, frame "
              f"{layout.frame}, bird's-eye view of {len(layout.frames)} frames "
              f"({layout.bev_points} points); {cams}")
        if args.rerun is not None:
            print(f"{args.rerun}: Rerun recording of {recorded} lidar frames")
        for note in source.notes:
            print(f"note: {note}")
    return EXIT_OK
