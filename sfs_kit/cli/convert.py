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
from typing import IO, Any

from sfs_kit.capture.convert import ConvertResult, convert_capture
from sfs_kit.capture.layout import open_capture
from sfs_kit.cli._common import EXIT_INVALID, EXIT_OK, Progress, exit_code_for, print_json
from sfs_kit.errors import SceneValidationError, SfsKitError
from sfs_kit.models.validate import Issue

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a raw capture to .sfs or split_base64 frames",
        description="Convert a capture (a folder with capture.yaml, a KITTI raw drive folder or a "
        ".msgpack stream) to one .sfs file or a folder of split_base64 frames plus "
        "the images they reference (relative image_url until upload).",
    )
    parser.add_argument("capture", help="capture folder, capture.yaml, KITTI drive or .msgpack")
    parser.add_argument("--format", required=True, choices=("sfs", "split_base64"))
    parser.add_argument(
        "-o", "--out", required=True, help="OUT.sfs, or an output folder for frames"
    )
    recentre = parser.add_mutually_exclusive_group()
    recentre.add_argument(
        "--recentre",
        dest="recentre",
        action="store_const",
        const=True,
        help="shift coordinates near the origin (recorded in metadata)",
    )
    recentre.add_argument(
        "--no-recentre",
        dest="recentre",
        action="store_const",
        const=False,
        help="never shift (default: shift only beyond 10 km)",
    )
    parser.set_defaults(recentre="auto")
    parser.add_argument(
        "--voxel-size",
        type=float,
        metavar="M",
        dest="voxel_size_m",
        help="keep one point per voxel of this edge in metres",
    )
    parser.add_argument(
        "--max-points",
        type=int,
        metavar="N",
        dest="max_points",
        help="keep at most N points per frame (evenly spaced)",
    )
    parser.add_argument(
        "--keep-nonfinite",
        action="store_true",
        help="keep points with NaN/inf positions, so such frames fail validation (default: drop "
        "them and say how many in the notes)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def _print_summary(result: ConvertResult) -> None:
    what = "frame files" if result.format == "split_base64" else "file"
    print(f"wrote {result.output} ({result.format}, {len(result.paths)} {what})")
    print(
        f"  frames {result.frame_count}, points {result.point_count}, images {result.image_count}"
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
    capture = open_capture(args.capture)
    total = capture.frame_count + (
        0 if args.format == "split_base64" else sum(len(c.images) for c in capture.cameras)
    )
    try:
        with Progress("converting", total, unit=" steps") as progress:

            def step(done: int, _total: int) -> None:
                progress.update(done - progress.done)

            result = convert_capture(
                capture,
                args.out,
                format=args.format,
                recentre=args.recentre,
                voxel_size_m=args.voxel_size_m,
                max_points_per_frame=args.max_points,
                on_progress=step,
                keep_nonfinite=args.keep_nonfinite,
            )
    except SceneValidationError as err:
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
