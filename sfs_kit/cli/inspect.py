"""``sfs-kit inspect PATH``: what a .sfs holds (from its header only), what split_base64 frames or a
capture hold (what will be converted: sensors, frames, time span, warnings), or what a raw input is.

For a .sfs file only the header and item table are read (``index_sfs``), so inspecting a
multi-GB scene touches no data page. Any other file goes to ``sfs_kit.readers.describe_input``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sfs_kit.cli._common import EXIT_OK, EXIT_UNREADABLE, print_json
from sfs_kit.cli._recording import add_recording_arguments, recording_options

__all__ = ["describe_lines", "register", "run", "summarize_index"]


def register(subparsers: Any) -> None:
    """Add the ``inspect`` subcommand."""
    parser = subparsers.add_parser(
        "inspect",
        help="summarise a .sfs scene, split_base64 frames, a capture or a raw input file",
        description="Summarise a .sfs scene (sensors, frames, points, time span, bytes per "
        "sensor) without reading its arrays, split_base64 frames (counts, time span, image URLs, "
        "problems), a capture (what will be converted: sensors, frames, time span, warnings), "
        "or describe a raw input (point cloud, image, poses, calibration).",
    )
    parser.add_argument(
        "file", help="a .sfs file, split_base64 frames (file or folder), a capture (folder, "
        "capture.yaml, .msgpack, ROS recording) or a raw input file"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--time-unit",
        choices=("s", "ms", "us", "ns"),
        default=None,
        help="unit of a pose file's timestamps (default: from a _s/_ms/_us/_ns column suffix)",
    )
    parser.add_argument(
        "--columns",
        type=_column_list,
        default=None,
        metavar="x,y,z,intensity",
        help="column names of an (N, k) .npy or raw float .bin ('_' skips a column)",
    )
    parser.add_argument(
        "--layout",
        choices=("quaternion", "matrix"),
        default=None,
        help="pose rows: position + quaternion, or 4x4 matrices (default: try both)",
    )
    parser.add_argument(
        "--camera", default=None, help="the camera to describe (e.g. M1 of a stereo file)"
    )
    parser.add_argument(
        "--quat-order",
        choices=("xyzw", "wxyz"),
        default=None,
        help="order of unnamed quaternion 4-vectors in pose/extrinsics files",
    )
    add_recording_arguments(parser)
    parser.set_defaults(func=run)


def _column_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    path = Path(args.file)
    from sfs_kit.capture.layout import recording_target

    target = None
    if path.exists():
        from sfs_kit.pipeline.config import load_recording_settings

        target = recording_target(path, load_recording_settings(recording_options(args)))
    if target is not None:
        from sfs_kit.capture.recording.inspect import (
            inspect_recording,
            recording_lines,
        )

        report = inspect_recording(target.path, target.options)
        if args.json:
            print_json(report)
        else:
            for line in recording_lines(report):
                print(line)
        return EXIT_OK
    from sfs_kit.cli import _targets

    kind = _targets.target_kind(path)
    if kind == "frames":
        return _targets.describe_frames(path, args.json)
    if kind == "capture":
        return _targets.describe_the_capture(path, args)
    try:
        if path.suffix.lower() == ".sfs":
            from sfs_kit.codecs.sfs import index_sfs

            index = index_sfs(path)
            summary = summarize_index(index)
            _add_videos(summary, path, index)
        else:
            from sfs_kit.readers import describe_input

            summary = describe_input(
                path,
                time_unit=args.time_unit,
                columns=args.columns,
                layout=args.layout,
                camera=args.camera,
                quat_order=args.quat_order,
            )
    except OSError as err:
        print(f"sfs-kit: error: cannot read {str(path)!r}: {err.strerror or err}.", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print_json(summary)
    elif path.suffix.lower() == ".sfs":
        _print_scene(summary)
    else:
        for line in describe_lines(summary):
            print(line)
    return EXIT_OK


def _add_videos(summary: dict[str, Any], path: Path, index: Any) -> None:
    """Codec, size, frame count and bit rate of each camera video (reads only those bytes)."""
    raw = index.header.get("sensors")
    # summary["sensors"] lists the header's sensor objects in order, skipping non-objects
    position = {
        i: n for n, i in enumerate(i for i, s in enumerate(raw or []) if isinstance(s, Mapping))
    }
    if not any(isinstance(s, Mapping) and isinstance(s.get("video"), Mapping) for s in raw or []):
        return
    from sfs_kit.codecs.video import probe_sfs_videos

    for i, found in probe_sfs_videos(path, index).items():
        if i in position:
            summary["sensors"][position[i]]["video"] = (
                {"error": str(found)} if isinstance(found, Exception) else found.to_dict()
            )


def _video_line(video: Mapping[str, Any]) -> str:
    if "error" in video:
        return f"    video: {video['error']}"
    rate = video.get("bit_rate")
    duration = video.get("duration_s")
    return (
        f"    video {video['codec']} {video['width']}x{video['height']} {video['pix_fmt']}, "
        f"{video['frame_count']} frames"
        + (f", {duration:.3f} s" if isinstance(duration, float) else "")
        + (f", {rate / 1e6:.3g} Mbit/s" if isinstance(rate, int) else "")
    )


def _num(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _vector(values: object) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]" if isinstance(values, list) else "-"


def _observed_lines(observed: object) -> list[str]:
    """Observed column ranges of a headerless file and what cannot be its layout."""
    if not isinstance(observed, Mapping):
        return []
    lines = [f"  observed ({observed['bytes']:,} bytes, {observed['record_bytes']}-byte "
             f"records as {observed['layout']}):"]
    for name, col in observed["columns"].items():
        bad = f", {col['nonfinite']} NaN/inf" if col["nonfinite"] else ""
        lines.append(f"    {name}: {_num(col['min'])} .. {_num(col['max'])}{bad}")
    lines += [f"  warning: {w}" for w in observed["warnings"]]
    return lines


def describe_lines(summary: Mapping[str, Any]) -> list[str]:
    """Human-readable lines for a ``describe_input`` summary: no Python reprs."""
    kind = summary.get("kind")
    head = f"{summary.get('path')}: "
    if kind == "point_cloud":
        stored = summary.get("stored")
        data = f", DATA {stored['data']}" if isinstance(stored, Mapping) else ""
        lines = [head + f"point cloud ({summary['format']}{data}), {summary['points']:,} points"]
        fields = stored.get("fields", {}) if isinstance(stored, Mapping) else {}
        if fields:
            lines.append("  stored fields: " + ", ".join(
                f"{n} {f['dtype']}" + (f" x{f['count']}" if f["count"] != 1 else "")
                for n, f in fields.items()))
        lines.append("  channels:")
        width = max((len(name) for name in summary["channels"]), default=0)
        for name, channel in summary["channels"].items():
            shape = " x ".join(str(n) for n in channel["shape"])
            lines.append(f"    {name:<{width}}  {channel['dtype']:<4} ({shape})  "
                         f"{channel['units']}")
        if summary.get("intensity_range"):
            lines.append(f"  intensity range: {_vector(summary['intensity_range'])}")
        bounds = summary.get("bounds")
        if isinstance(bounds, Mapping):
            lines.append(f"  bounds: min {_vector(bounds['min'])}  max {_vector(bounds['max'])}")
        if summary.get("viewpoint") is not None:
            lines.append(f"  viewpoint [tx, ty, tz, qx, qy, qz, qw]: "
                         f"{_vector(summary['viewpoint'])}")
        if any(summary.get("origin_m") or ()):
            lines.append(f"  origin_m: {_vector(summary['origin_m'])}")
        return lines + _observed_lines(summary.get("observed"))
    if kind == "raw_points":
        return [head + f"headerless float32 data, not readable as {summary['format']}: "
                f"{summary['error']}", *_observed_lines(summary.get("observed"))]
    if kind == "image":
        return [head + f"{str(summary['format']).upper()} image {summary['width']}x"
                f"{summary['height']}, {summary['bytes']:,} bytes"]
    if kind == "intrinsics":
        lines = [head + f"camera intrinsics ({len(summary['cameras'])} camera(s))"]
        for name, cam in summary["cameras"].items():
            size = ("size not in the file" if cam["width"] is None or cam["height"] is None
                    else f"{cam['width']}x{cam['height']}")
            lines.append(f"  {name}: fx {_num(cam['fx'])} fy {_num(cam['fy'])} cx "
                         f"{_num(cam['cx'])} cy {_num(cam['cy'])} skew {_num(cam['skew'])}, "
                         f"{size}")
            lines.append(f"    distortion {cam['distortion_model']}: "
                         f"{_vector(cam['distortion_params'])}")
        return lines
    if kind == "extrinsics":
        lines = [head + "extrinsics (4x4 transform, " + str(summary["direction"]) + ")"]
        lines += [f"  {_vector(row)}" for row in summary["matrix"]]
        lines.append(f"  translation_m {_vector(summary['translation_m'])}  quat_xyzw "
                     f"{_vector(summary['quat_xyzw'])}")
        return lines
    if kind == "poses":
        return [head + f"{summary['count']} poses ({summary['layout']} rows), "
                f"{summary['first_timestamp_us']}..{summary['last_timestamp_us']} us, span "
                f"{summary['span_us'] / 1e6:.6g} s"]
    return [f"{key}: {value}" for key, value in summary.items()]  # pragma: no cover


def _ints(values: object) -> list[int]:
    if not isinstance(values, list):
        return []
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def summarize_index(index: Any) -> dict[str, Any]:
    """A JSON-ready summary built from an ``SfsIndex`` (header tree plus item table)."""
    header: Mapping[str, Any] = index.header
    sensors_raw = header.get("sensors")
    sensors: Sequence[Any] = sensors_raw if isinstance(sensors_raw, list) else []
    bytes_by_sensor: dict[int, int] = {}
    points_by_sensor: dict[int, int] = {}
    other_bytes = 0
    for item in index.items:
        keys = item.keys
        if len(keys) >= 2 and keys[0] == "sensors" and isinstance(keys[1], int):
            bytes_by_sensor[keys[1]] = bytes_by_sensor.get(keys[1], 0) + item.length
            if keys[-1] == "positions" and item.shape:
                rows = item.shape[0] if len(item.shape) == 2 else item.shape[0] // 3
                points_by_sensor[keys[1]] = points_by_sensor.get(keys[1], 0) + rows
        else:
            other_bytes += item.length
    out_sensors = []
    for i, sensor in enumerate(sensors):
        if not isinstance(sensor, Mapping):
            continue
        frames = sensor.get("frames")
        images = sensor.get("images")
        video = sensor.get("video")
        stamps: list[int] = []
        if isinstance(frames, list):
            stamps = _ints([f.get("timestamp") for f in frames if isinstance(f, Mapping)])
        elif isinstance(images, list):
            stamps = _ints([im.get("timestamp") for im in images if isinstance(im, Mapping)])
        elif isinstance(video, Mapping):
            stamps = _ints(video.get("timestamps"))
        poses = sensor.get("poses")
        if not stamps and isinstance(poses, Mapping):
            stamps = _ints(poses.get("timestamps"))
        count = (
            len(frames)
            if isinstance(frames, list)
            else len(images)
            if isinstance(images, list)
            else len(stamps)
        )
        out_sensors.append(
            {
                "id": sensor.get("id"),
                "type": sensor.get("type"),
                "frames": count,
                "points": points_by_sensor.get(i, 0),
                "time_span": [min(stamps), max(stamps)] if stamps else None,
                "bytes": bytes_by_sensor.get(i, 0),
            }
        )
    annotations = header.get("annotations")
    return {
        "file": index.source,
        "file_bytes": index.file_size,
        "header_bytes": index.header_length,
        "version": header.get("version"),
        "time_unit": header.get("time_unit", "microseconds"),
        "time_offset": header.get("time_offset"),
        "items": len(index.items),
        "sensors": out_sensors,
        "annotations": len(annotations) if isinstance(annotations, list) else 0,
        "other_bytes": other_bytes,
    }


def _print_scene(summary: Mapping[str, Any]) -> None:
    unit = "us" if summary["time_unit"] == "microseconds" else "ns"
    version = f"SFS {summary['version']}" if summary["version"] is not None else \
        "SFS (no version field: a legacy file)"
    offset = f"time_offset {summary['time_offset']} {unit}" if summary["time_offset"] is not None \
        else "no time_offset (timestamps as stored)"
    print(
        f"{summary['file']}: {version}, {summary['file_bytes']:,} bytes, "
        f"{len(summary['sensors'])} sensor(s), {summary['items']} arrays, {offset}"
    )
    for s in summary["sensors"]:
        span = s["time_span"]
        span_text = f"{span[0]}..{span[1]} {unit}" if span else "-"
        print(
            f"  {s['type']!s:<9} {s['id']!s:<16} frames {s['frames']:>6}  "
            f"points {s['points']:>12,}  span {span_text:<24}  {s['bytes']:>14,} bytes"
        )
        if "video" in s:
            print(_video_line(s["video"]))
    if summary["annotations"]:
        print(f"  annotations: {summary['annotations']}")
