"""``sfs-kit convert``: a capture folder / KITTI raw drive / msgpack stream -> .sfs or frames.

Prints a summary and the validation report (warnings) at the end, or ``--json``. Exit codes: 0
written; 1 the converted scene is invalid (the report is printed, nothing is written); 2 the input
cannot be read or the output cannot be written (one line naming the file and field). With
``--json`` every outcome is one JSON object on stdout; a failure carries
``{"valid": false, "error": {"code", "type", "message"}, "issues": [...]}``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sfs_kit.cli._common import EXIT_INVALID, EXIT_OK, Progress, exit_code_for, print_json
from sfs_kit.cli._options import add_convert_options, add_format_option, convert_settings
from sfs_kit.cli._outputs import check_convert_output
from sfs_kit.cli._recording import add_recording_arguments, recording_options
from sfs_kit.cli._startup import start_up
from sfs_kit.errors import SceneValidationError, SfsKitError

if TYPE_CHECKING:
    from sfs_kit.capture.convert import ConvertResult
    from sfs_kit.models.validate import Issue

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a raw capture to .sfs or split_base64 frames",
        description="Convert a capture (a folder with capture.yaml, a KITTI raw drive folder, a "
        ".msgpack stream or a ROS 1/ROS 2/MCAP recording) to one .sfs file or a folder of "
        "split_base64 frames plus the images they reference (relative image_url until upload). "
        "The conversion options "
        "are also read from sfs-kit.toml and SFS_KIT_* (as for run).",
    )
    parser.add_argument(
        "capture",
        help="capture folder, capture.yaml, KITTI drive, .msgpack, or a ROS recording (.bag, "
        ".mcap, ROS 2 bag folder)",
    )
    add_format_option(parser)
    parser.add_argument(
        "-o", "--out", required=True,
        help="OUT.sfs (format sfs), or a new folder for frames (format split_base64); its parent "
             "folder must exist",
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing OUT (a .sfs file, or a frames folder)")
    add_convert_options(parser)
    add_recording_arguments(parser)
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="settings file (default: ./sfs-kit.toml if present)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def _print_summary(result: ConvertResult) -> None:
    if result.format == "split_base64":
        what = f"{result.frame_count} frame files, {result.image_count} images"
    else:
        what = "1 file"
    print(f"wrote {result.output} ({result.format}, {what})")
    videos = f", camera videos {result.video_count}" if result.video_count else ""
    print(
        f"  frames {result.frame_count}, points {result.point_count}, "
        f"images {result.image_count}{videos}"
    )
    print(f"  time_offset {result.time_offset_us} us")
    if result.origin_offset_m is not None:
        print(f"  recentred: origin_offset {list(result.origin_offset_m)} m")
    for note in result.notes:
        print(f"  note: {note}")
    _print_report(result.issues, sys.stdout)


def _print_report(issues: Sequence[Issue], stream: IO[str]) -> None:
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    print(f"validation: {errors} error(s), {warnings} warning(s)", file=stream)
    for issue in issues:
        print(f"  {issue.severity:<7} {issue.code:<6} {issue.path}: {issue.message}", file=stream)


def _json_error(err: SfsKitError) -> dict[str, object]:
    """The ``--json`` form of a failure: the exit code, the error class and its message."""
    return {"code": exit_code_for(err), "type": type(err).__name__, "message": str(err)}


def run(args: argparse.Namespace) -> int:
    """Convert; with ``--json`` every outcome, failures included, is one JSON object on stdout."""
    try:
        return _run(args)
    except SfsKitError as err:
        if not args.json:
            raise  # main prints the one-line message
        print_json({"valid": False, "error": _json_error(err), "issues": []})
        return exit_code_for(err)


def _run(args: argparse.Namespace) -> int:
    """Open the capture, convert with a progress bar, print the report."""
    with start_up():  # the imports and the opening: no collector passes (see _startup)
        from sfs_kit.capture.convert import convert_capture
        from sfs_kit.capture.layout import open_capture
        from sfs_kit.pipeline.config import load_convert_settings, load_recording_settings

        fmt, options = load_convert_settings({"format": args.format, **convert_settings(args)},
                                             config_path=args.config)
        options.check_format(fmt)
        out = check_convert_output(args.out, fmt, overwrite=args.overwrite)
        recording = load_recording_settings(recording_options(args), config_path=args.config)
        capture = open_capture(args.capture, recording=recording,
                               allow_outside_capture=options.allow_outside_capture,
                               frame_rate_hz=options.frame_rate_hz,
                               radar_frame=options.radar_frame)
    total = capture.frame_count + (
        0 if fmt == "split_base64" else sum(c.content_count for c in capture.cameras)
    )
    try:
        with Progress("converting", total, unit=" steps") as progress:

            def step(done: int, _total: int) -> None:
                progress.update(done - progress.done)

            result = convert_capture(capture, out, format=fmt, options=options,
                                     on_progress=step, overwrite=args.overwrite)
    except SceneValidationError as err:
        from sfs_kit.models.validate import Issue

        issues = [i for i in err.issues if isinstance(i, Issue)]
        if args.json:
            print_json(
                {
                    "valid": False,
                    "error": _json_error(err),
                    "issues": [i.to_dict() for i in issues],
                }
            )
        else:
            print(f"sfs-kit: error: {err}", file=sys.stderr)
            _print_report(issues, sys.stderr)
        return EXIT_INVALID
    if args.json:
        print_json({"valid": True, **result.to_dict()})
    else:
        _print_summary(result)
    return EXIT_OK
