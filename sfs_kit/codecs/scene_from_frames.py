"""A folder of split_base64 (or legacy) frame files read back as a ``Scene`` (checks, preview).

One lidar ``lidar`` in world coordinates, posed by each frame's ``device_position`` /
``device_heading``; one camera per ``images[]`` slot, named after the ``images/<camera>/...``
folder of relative image URLs (else ``camera_<i>``), posed by each image's ``position`` /
``heading`` at its ``timestamp``. Times become microseconds relative to the first frame (D10).
Images whose URL is not a local relative file (presigned ``https://`` URLs) get a grey PNG of
the size ``2 cx`` x ``2 cy``, so the geometry stays checkable without fetching anything.

Memory: ``keep_points`` limits which frames keep their points (the others get an empty cloud)
and ``max_points`` subsamples the kept ones, so a long capture can be previewed or checked with
bounded memory; every frame still contributes its pose and time stamps.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sfs_kit.codecs.frame_json import FrameImage, is_relative_image_url, read_frame
from sfs_kit.errors import InputError
from sfs_kit.models._imagesize import image_size
from sfs_kit.models.scene import Scene

__all__ = ["FRAME_FILE_PATTERN", "find_frame_files", "read_frames_scene"]

FRAME_FILE_PATTERN = re.compile(r"^frame-(\d{5,})\.json$")


def find_frame_files(folder: str | Path) -> list[Path]:
    """The ``frame-NNNNN.json`` files of ``folder`` in frame order (empty if there are none)."""
    root = Path(folder)
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if p.is_file() and (m := FRAME_FILE_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


@dataclass
class _Camera:
    sensor_id: str
    image: FrameImage
    timestamps_ns: list[int] = field(default_factory=list)
    poses: list[list[float]] = field(default_factory=list)
    contents: list[npt.NDArray[np.uint8]] = field(default_factory=list)


def _grey_png(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A valid grey 8-bit greyscale PNG, built with zlib alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    raw = (b"\x00" + b"\x80" * width) * height
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) \
        + chunk(b"IEND", b"")
    return np.frombuffer(png, dtype=np.uint8)


def _camera_id(image: FrameImage, slot: int) -> str:
    parts = image.image_url.split("/")
    if is_relative_image_url(image.image_url) and len(parts) >= 3 and parts[0] == "images":
        return parts[1]
    return f"camera_{slot}"


def _image_content(folder: Path, image: FrameImage) -> npt.NDArray[np.uint8] | None:
    if not is_relative_image_url(image.image_url):
        return None
    path = folder / image.image_url
    try:
        return np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError:
        return None


def _distortion(image: FrameImage) -> dict[str, object] | None:
    names = {
        "brown_conrady": ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6", "lx", "ly"),
        "fisheye": ("k1", "k2", "k3", "k4"),
        "omnidirectional": ("k1", "k2", "k3", "k4", "p1", "p2", "xi", "lx", "ly"),
    }[image.camera_model]
    params = [float(getattr(image, n)) for n in names]
    if image.camera_model == "brown_conrady" and not any(params):
        return None
    return {"model": image.camera_model, "params": params}


def read_frames_scene(
    folder: str | Path,
    *,
    keep_points: Collection[int] | None = None,
    max_points: int | None = None,
) -> Scene:
    """The frames in ``folder`` as a ``Scene`` (see the module docstring for the mapping)."""
    root = Path(folder)
    files = find_frame_files(root)
    if not files:
        raise InputError(f"Folder {str(root)!r} holds no frame-NNNNN.json files.",
                         source=str(root))
    times_ns: list[int] = []
    poses: list[list[float]] = []
    frames: list[dict[str, object]] = []
    cameras: dict[int, _Camera] = {}
    for index, path in enumerate(files):
        data = read_frame(path)
        if data.timestamp_ns is None:
            raise InputError(f"Frame {str(path)!r} has no 'timestamp' to place it in time.",
                             source=str(path), field="timestamp")
        times_ns.append(data.timestamp_ns)
        poses.append([*data.device_position_m, *data.device_heading_quat_xyzw])
        points = data.points_world
        if keep_points is not None and index not in keep_points:
            points = points[:0]
        elif max_points is not None and len(points) > max_points:
            points = points[np.linspace(0, len(points) - 1, max_points).astype(np.intp)]
        frames.append({"timestamp": data.timestamp_ns, "points": {
            "positions": np.ascontiguousarray(points, dtype=np.float32)}})
        for slot, image in enumerate(data.images):
            cam = cameras.setdefault(slot, _Camera(_camera_id(image, slot), image))
            cam.timestamps_ns.append(image.timestamp_ns if image.timestamp_ns is not None
                                     else data.timestamp_ns)
            cam.poses.append([*image.position_m, *image.heading_quat_xyzw])
            content = _image_content(root, image)
            cam.contents.append(content if content is not None else np.zeros(0, np.uint8))
    base_ns = min([*times_ns, *(t for c in cameras.values() for t in c.timestamps_ns)])

    def rel_us(t_ns: int) -> int:
        return (t_ns - base_ns) // 1000

    for f, t_ns in zip(frames, times_ns, strict=True):
        f["timestamp"] = rel_us(t_ns)
    sensors: list[dict[str, object]] = [{
        "type": "lidar", "id": "lidar", "coordinates": "world",
        "poses": {"timestamps": [rel_us(t) for t in times_ns], "values": poses},
        "frames": frames,
    }]
    for cam in cameras.values():
        sensors.append(_camera_tree(cam, rel_us))
    return Scene.model_validate({"version": "1.0", "time_offset": base_ns // 1000,
                                 "sensors": sensors})


def _camera_tree(cam: _Camera, rel_us: Callable[[int], int]) -> dict[str, object]:
    img = cam.image
    size = next((image_size(c) for c in cam.contents if len(c)), None)
    width, height = size or (max(1, round(2 * img.cx)), max(1, round(2 * img.cy)))
    stub = _grey_png(width, height)
    stamps = [rel_us(t) for t in cam.timestamps_ns]
    keep = np.concatenate([[True], np.diff(stamps) > 0])  # strictly increasing (V-T2)
    return {
        "type": "camera", "id": cam.sensor_id,
        "poses": {"timestamps": [t for t, k in zip(stamps, keep, strict=True) if k],
                  "values": [p for p, k in zip(cam.poses, keep, strict=True) if k]},
        "intrinsics": {"fx": img.fx, "fy": img.fy, "cx": img.cx, "cy": img.cy,
                       "width": width, "height": height, "distortion": _distortion(img)},
        "images": [{"timestamp": t, "content": c if len(c) else stub}
                   for t, c, k in zip(stamps, cam.contents, keep, strict=True) if k],
    }

