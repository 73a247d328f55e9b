"""What ``inspect`` and ``validate`` were pointed at, and the frames/capture halves of both.

A path is a .sfs scene (by its suffix), split_base64 frames (a ``frame-N.json`` or a folder of
them), a capture (any other folder, a capture.yaml/.json manifest, a msgpack stream or a ROS
recording) or another file. Frames and captures are checked and described by the library
(``codecs.frame_check``, ``capture.convert.check``); this module only prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Literal

from sfs_kit.cli._common import EXIT_INVALID, EXIT_OK, print_json

__all__ = [
    "NOT_SFS_HINT",
    "describe_frames",
    "describe_the_capture",
    "not_sfs",
    "target_kind",
    "validate_capture",
    "validate_frames",
]

Kind = Literal["sfs", "frames", "capture", "other"]
NOT_SFS_HINT = (
    "validate reads a .sfs scene, split_base64 frames (a frame-N.json or their folder) and "
    "captures (a capture folder, capture.yaml, a .msgpack stream or a ROS recording)"
)


def target_kind(path: Path) -> Kind:
    """Classify ``path`` by its name and, for folders, their entries (no file is parsed)."""
    from sfs_kit.capture.layout import MSGPACK_SUFFIXES, RECORDING_SUFFIXES
    from sfs_kit.capture.manifest import MANIFEST_NAMES
    from sfs_kit.codecs.frame_check import is_frames_path

    if path.suffix.lower() == ".sfs":
        return "sfs"
    if is_frames_path(path):
        return "frames"
    if path.is_dir():
        return "capture"
    suffix = path.suffix.lower()
    if path.name in MANIFEST_NAMES or suffix in MSGPACK_SUFFIXES or suffix in RECORDING_SUFFIXES:
        return "capture"
    return "other"


def _print_issues(issues: list[Any], path: str, what: str, as_json: dict[str, Any] | None,
                  notes: list[str] | None = None) -> int:
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    if as_json is not None:
        print_json({"file": path, "kind": what, "valid": errors == 0, "errors": errors,
                    "warnings": warnings, **as_json})
    else:
        for issue in issues:
            print(issue)
        for note in notes or []:
            print(f"note: {note}")
        verdict = "valid" if errors == 0 else "INVALID"
        print(f"{path}: {verdict} ({what}): {errors} error(s), {warnings} warning(s)")
    return EXIT_OK if errors == 0 else EXIT_INVALID


def validate_frames(path: Path, args: argparse.Namespace) -> int:
    """``validate`` of split_base64 frames: every frame decoded and checked (F-* rules)."""
    from sfs_kit.codecs.frame_check import check_frames

    report = check_frames(path)
    data = report.to_dict() if args.json else None
    return _print_issues(report.issues, os.fspath(path), "split_base64 frames", data)


def _open(path: Path, args: argparse.Namespace) -> tuple[Any, Any]:
    """The opened capture and the conversion options it is checked with."""
    from sfs_kit.capture.layout import open_capture

    opts = _options(args)
    return open_capture(path, allow_outside_capture=opts.allow_outside_capture,
                        frame_rate_hz=opts.frame_rate_hz, radar_frame=opts.radar_frame), opts


def _options(args: argparse.Namespace) -> Any:
    """The conversion options of ``sfs-kit.toml`` / ``SFS_KIT_*`` (``--config`` if given)."""
    from sfs_kit.pipeline.config import load_config

    return load_config(config_path=getattr(args, "config", None)).convert


def validate_capture(path: Path, args: argparse.Namespace) -> int:
    """``validate`` of a capture: a dry conversion (every frame converted and checked, nothing
    written) with the conversion options of ``sfs-kit.toml``."""
    from sfs_kit.capture.convert.check import check_capture

    capture, opts = _open(path, args)
    report = check_capture(capture, opts)
    data = ({**report.summary, "issues": [i.to_dict() for i in report.issues],
             "notes": report.notes} if args.json else None)
    return _print_issues(report.issues, os.fspath(path), f"{capture.layout} capture", data,
                         report.notes)


def describe_frames(path: Path, as_json: bool) -> int:
    """``inspect`` of split_base64 frames: counts, time span, image URL kinds, issues."""
    from sfs_kit.codecs.frame_check import check_frames

    report = check_frames(path)
    summary = report.to_dict()
    if as_json:
        print_json(summary)
        return EXIT_OK
    span = summary["time_span_ns"]
    span_text = (f", {span[0]}..{span[1]} ns ({(span[1] - span[0]) / 1e9:.3f} s)"
                 if span else "")
    cams = "/".join(str(n) for n in summary["cameras_per_frame"]) or "0"
    print(f"{path}: split_base64 frames, {report.frame_count} frame(s), "
          f"{report.point_count:,} points, {report.bytes:,} bytes{span_text}")
    urls = ", ".join(f"{n} {kind}" for kind, n in sorted(report.image_urls.items()))
    print(f"  cameras per frame: {cams}; image URLs: {urls or 'none'}")
    for issue in report.issues:
        print(f"  {issue}")
    return EXIT_OK


def describe_the_capture(path: Path, args: argparse.Namespace) -> int:
    """``inspect`` of a capture: what will be converted (sensors, frames, time span, warnings)."""
    from sfs_kit.capture.convert.check import describe_capture

    capture, opts = _open(path, args)
    report = describe_capture(capture, opts)
    summary = {**report.summary, "issues": [i.to_dict() for i in report.issues]}
    if args.json:
        print_json(summary)
        return EXIT_OK
    span = summary["time_span_us"]
    span_text = (f", {span[0]}..{span[1]} us ({(span[1] - span[0]) / 1e6:.3f} s)"
                 if span else "")
    radars = f", {len(summary['radars'])} radar(s)" if summary["radars"] else ""
    print(f"{path}: {summary['layout']} capture, {len(summary['lidars'])} lidar(s), "
          f"{len(summary['cameras'])} camera(s){radars}{span_text}")
    for lidar in summary["lidars"]:
        print(f"  lidar  {lidar['id']:<16} {lidar['frames']:>6} frames, points in the "
              f"{lidar['points_frame']} frame")
    for cam in summary["cameras"]:
        model = cam["distortion_model"] or "no distortion"
        print(f"  camera {cam['id']:<16} {cam['count']:>6} {cam['content']}, "
              f"{cam['size'][0]}x{cam['size'][1]}, {model}")
    for radar in summary["radars"]:
        print(f"  radar  {radar['id']:<16} {radar['frames']:>6} frames, points in the "
              f"{radar['points_frame']} frame")
    poses = summary["ego_poses"]
    print(f"  ego poses: {poses['count']} from {poses['source']}" if poses else
          "  ego poses: none (a static ego at the origin)")
    if summary["origin_offset_m"] is not None:
        print(f"  recentred by {summary['origin_offset_m']} m")
    for note in summary["notes"]:
        print(f"  note: {note}")
    for issue in summary["issues"]:
        print(f"  {issue['severity']} {issue['code']} at {issue['path'] or '<scene>'}: "
              f"{issue['message']}")
    return EXIT_OK


def not_sfs(path: str, reason: str) -> None:
    """Print that ``path`` is not a .sfs file (and what validate reads) to stderr."""
    print(f"sfs-kit: error: {path!r} is not a .sfs file ({reason}); {NOT_SFS_HINT}.",
          file=sys.stderr)
