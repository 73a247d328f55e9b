"""Checking split_base64 frames (one ``frame-*.json`` or a folder of them) before submitting.

The frame reader refuses malformed JSON; this adds the rules that span a frame's content and
the frames of a folder: finite points and intensities in [0, 1] (spec 4.2), frame times strictly
increasing in file order, frame files numbered without gaps, image URLs that Scale can fetch
(relative ones are not self-contained until ``sfs-kit upload DIR`` rewrites them; their files must
be in the folder), and images within 50 ms of their frame (D21). Each frame is decoded, checked and
released in turn, so memory grows with one frame. Repeated findings (an image URL kind over
hundreds of frames) are reported once, with a count and the first frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from sfs_kit._excerpt import excerpt
from sfs_kit.codecs.frame_json import decode_frame
from sfs_kit.codecs.frame_refs import FRAME_GLOB, is_relative_url
from sfs_kit.errors import SfsKitError
from sfs_kit.models.validate import Issue, Severity

__all__ = ["FramesReport", "check_frames", "is_frames_path"]

IMAGE_GAP_WARN_NS = 50_000_000  # D21
_FRAME_NAME = re.compile(r"frame-(\d+)\.json")


@dataclass
class _Repeated:
    """One finding seen in several frames: reported once with its count and first place."""

    code: str
    severity: Severity
    message: str
    first: str
    count: int = 0


@dataclass
class FramesReport:
    """What a frames check found: the issues and a summary (for ``inspect`` and ``validate``)."""

    path: Path
    frame_count: int = 0
    point_count: int = 0
    bytes: int = 0
    cameras_per_frame: set[int] = field(default_factory=set)
    image_urls: dict[str, int] = field(default_factory=dict)  # kind (relative, https, ...) -> n
    first_timestamp_ns: int | None = None
    last_timestamp_ns: int | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Number of error issues."""
        return sum(1 for i in self.issues if i.severity == "error")

    def to_dict(self) -> dict[str, Any]:
        """JSON view for ``inspect --json`` / ``validate --json``."""
        first, last = self.first_timestamp_ns, self.last_timestamp_ns
        return {
            "kind": "split_base64_frames",
            "path": str(self.path),
            "frames": self.frame_count,
            "points": self.point_count,
            "bytes": self.bytes,
            "cameras_per_frame": sorted(self.cameras_per_frame),
            "image_urls": dict(self.image_urls),
            "time_span_ns": [first, last] if first is not None and last is not None else None,
            "issues": [i.to_dict() for i in self.issues],
        }


def is_frames_path(path: Path) -> bool:
    """True for a ``frame-N.json`` file or a folder holding at least one (no frame is read)."""
    if path.is_dir():
        return any(path.glob(FRAME_GLOB))
    return path.is_file() and _FRAME_NAME.fullmatch(path.name) is not None


def _index(name: str) -> int | None:
    """N of ``frame-N.json``; None for other names."""
    match = _FRAME_NAME.fullmatch(name)
    return None if match is None else int(match.group(1))


def _frame_files(path: Path) -> list[tuple[int, Path]]:
    """The frame files of ``path`` with their numbers, in number order (a file: itself)."""
    if not path.is_dir():
        return [(_index(path.name) or 0, path)]
    found = [(_index(p.name), p) for p in path.glob(FRAME_GLOB) if p.is_file()]
    return sorted((n, p) for n, p in found if n is not None)


def _url_kind(url: str) -> str:
    return "relative" if is_relative_url(url) else urlsplit(url).scheme.lower()


def _is_file_inside(folder: Path, url: str) -> bool:
    """A relative image URL names a file inside the frames folder (a name over 255 bytes or
    with a NUL names none: ``resolve`` raises for those)."""
    try:
        target = (folder / url).resolve()
        return target.is_relative_to(folder.resolve()) and target.is_file()
    except (OSError, ValueError):
        return False


def check_frames(path: str | Path) -> FramesReport:
    """Decode and check every frame of ``path`` (a frame file or a folder of them); never raises
    for bad frames (each is an F-1 error), only for an unreadable folder (``SfsKitError``)."""
    root = Path(path)
    report = FramesReport(path=root)
    files = _frame_files(root)
    if not files:
        report.issues.append(Issue("F-0", "error", "", f"{str(root)!r} holds no frame-*.json."))
        return report
    repeated: dict[str, _Repeated] = {}

    def once(key: str, code: str, severity: Severity, message: str, where: str) -> None:
        found = repeated.setdefault(key, _Repeated(code, severity, message, where))
        found.count += 1

    folder = root if root.is_dir() else root.parent
    previous: int | None = None
    for n, (index, file) in enumerate(files):
        name = file.name
        if root.is_dir() and index != n:
            once("gap", "F-3", "warning", "frame files are not numbered 0, 1, 2, ... without "
                 "gaps (Scale orders frames by attachment order)", f"{name} (expected "
                 f"frame-{n:05d}.json)")
        try:
            data = file.read_bytes()
            frame = decode_frame(data, source=str(file))
        except (OSError, SfsKitError) as err:
            text = err.strerror if isinstance(err, OSError) else str(err)
            report.issues.append(Issue("F-1", "error", name, f"cannot be read: {text}"))
            continue
        report.frame_count += 1
        report.bytes += len(data)
        del data
        points = frame.points_world
        report.point_count += int(points.shape[0])
        if not np.isfinite(points).all():
            bad = int((~np.isfinite(points).all(axis=1)).sum())
            report.issues.append(Issue("F-4", "error", f"{name}:points",
                                       f"{bad} point(s) have NaN/inf coordinates."))
        intens = frame.intensities
        if intens is not None and intens.size and not (
            np.isfinite(intens).all() and float(intens.min()) >= 0 and float(intens.max()) <= 1
        ):
            report.issues.append(Issue("F-5", "error", f"{name}:intensities",
                                       "intensities must be finite and in [0, 1] (spec 4.2)."))
        stamp = frame.timestamp_ns
        if stamp is None:
            once("nostamp", "F-2", "warning", "frames have no 'timestamp'", name)
        else:
            if previous is not None and stamp <= previous:
                report.issues.append(Issue("F-2", "error", f"{name}:timestamp",
                                           f"{stamp} ns is not after the previous frame's "
                                           f"{previous} ns: frame times must increase."))
            previous = stamp
            if report.first_timestamp_ns is None:
                report.first_timestamp_ns = stamp
            report.last_timestamp_ns = stamp
        report.cameras_per_frame.add(len(frame.images))
        for c, image in enumerate(frame.images):
            where = f"{name}:images[{c}].image_url"
            kind = _url_kind(image.image_url)
            report.image_urls[kind] = report.image_urls.get(kind, 0) + 1
            if kind == "relative":
                if not _is_file_inside(folder, image.image_url):
                    report.issues.append(Issue("F-6", "error", where,
                                               f"{excerpt(image.image_url, 200)} is not a file "
                                               f"in {str(folder)!r}."))
                once("relative", "F-7", "warning", "image URLs are relative: the frames are not "
                     "self-contained until `sfs-kit upload DIR` uploads the images and rewrites "
                     "them", where)
            elif kind == "http":
                once("http", "F-8", "warning", "image URLs use plain http://", where)
            elif kind not in {"https", "s3", "file"}:
                report.issues.append(Issue("F-6", "error", where,
                                           f"scheme {excerpt(kind, 60)} is not fetchable "
                                           "(https, s3)."))
            if stamp is not None and image.timestamp_ns is not None:
                gap = abs(image.timestamp_ns - stamp)
                if gap > IMAGE_GAP_WARN_NS:
                    once(f"gap{c}", "F-9", "warning", f"camera {c}'s image is more than 50 ms "
                         "from its frame (D21)", f"{where.rsplit('.', 1)[0]} ({gap / 1e6:.1f} ms)")
        del frame, points
    if len(report.cameras_per_frame) > 1:
        report.issues.append(Issue("F-10", "warning", "", "frames carry different numbers of "
                                   f"cameras: {sorted(report.cameras_per_frame)}."))
    for found in repeated.values():
        times = f" ({found.count} places; the first is shown)" if found.count > 1 else ""
        report.issues.append(Issue(found.code, found.severity, found.first,
                                   found.message + times + "."))
    return report
