"""Scale's recommended capture folder (scale-lidar-toolkit ``scale_format``) -> ``Capture``.

Recognised without a manifest (like a KITTI raw drive) by its ``pointcloud/`` folder::

    pointcloud/N.ply | N.pcd          one lidar frame each, points in the ego (device) frame
    poses/N.json | N.yaml              world_from_ego: {"heading": [w,x,y,z], "position": [x,y,z]}
    cameras/<cam>/N.jpg | N.png        images named like the frame they belong to
    cameras/<cam>/intrinsics.json      fx, fy, cx, cy (+ optional distortion/size keys); .yaml
                                       too, with the toolkit's one-element lists (fx: [1970.0])
    cameras/<cam>/extrinsics.json      the camera's pose on the rig (ego_from_camera, OpenCV axes)
    radar_points/N.txt                 radar points of frame N (a radar sensor; see below)

The toolkit's data comes in JSON and (older) YAML twins; JSON is read when both exist. Every
file read must resolve (symlinks followed) inside the folder unless ``allow_outside_capture``,
and each read outside it is then noted, as for a manifest capture.

Conventions, as the toolkit's example (``scale_format/scale-example.py``) uses them with
scale-lidar-io: headings are pyquaternion ``[w, x, y, z]`` (lists or ``{w,x,y,z}`` objects,
positions ``[x,y,z]`` or ``{x,y,z}``); points are added in device coordinates and the frame pose
is applied to them; a camera's ``pose`` is given in the device frame with OpenCV optical axes
(``LidarCamera.calibrate(pose=...)``). Every image is stamped with its frame's time.

Time: the toolkit names files by "timestamps or a numerical order". Names that are Unix epoch
times are read by their digit count (10 s, 13 ms, 16 µs, 19 ns; ``1700000000.25`` is seconds);
frame numbers (``1``, ``2``, ...) carry no time, so a rate must be declared (``frame_rate_hz``,
``--frame-rate``), which also overrides time-stamp names. The decision is in the notes.
Intrinsics without an image size take it from the camera's first image (noted).

Radar (``radar_points/N.txt``: ``position_x, position_y, position_z, direction_x, direction_y,
direction_z, size`` per line, read by ``sfs_kit.readers.scale_radar``) becomes the radar sensor
``radar``, one frame per file at the time of the cloud of the same name (a file without one is
an error; frames without a file have no radar frame). The toolkit never says which frame the
positions are in: its example adds them to the frame untransformed, and scale-lidar-io copies them
as they are into the world-frame frame JSON, while it poses the lidar points by the frame pose.
We follow that by default (``radar_frame="world"``: positions and directions kept as world
coordinates, so our output matches what scale-lidar-io builds from the same folder);
``radar_frame="ego"`` (``--radar-frame ego``) declares them in the device frame, posed with each
frame's pose like the lidar points (directions rotated only). The radar is mounted at the device
origin (the toolkit has no radar extrinsics), so its poses are the frame poses. The choice is in
the notes.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from functools import partial
from pathlib import Path

import numpy as np

from sfs_kit._paths import check_name, is_inside
from sfs_kit.capture._calib import intrinsics_source
from sfs_kit.capture.base import (
    CameraSource,
    Capture,
    EgoPoses,
    FramePoints,
    ImageSource,
    LidarFrameSource,
    LidarSource,
    LoadedImage,
    RadarFramePoints,
    RadarFrameSource,
    RadarSource,
)
from sfs_kit.capture.options import RadarFrame
from sfs_kit.capture.sync import check_increasing
from sfs_kit.errors import InputError
from sfs_kit.models.geometry import pose_to_matrix
from sfs_kit.readers import read_point_cloud
from sfs_kit.readers.image import read_image
from sfs_kit.readers.scale_pose import POSE_SUFFIXES, read_scale_pose
from sfs_kit.readers.scale_radar import read_scale_radar

__all__ = ["LIDAR_ID", "RADAR_ID", "is_scale_folder", "read_scale_folder"]

LIDAR_ID = "lidar"
RADAR_ID = "radar"
_RADAR_FRAMES = ("world", "ego")
_CLOUD_SUFFIXES = (".ply", ".pcd")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_INTRINSICS_NAMES = tuple(f"intrinsics{suffix}" for suffix in POSE_SUFFIXES)
_EPOCH_DIGITS = {10: 1_000_000, 13: 1_000, 16: 1}  # digits -> µs per unit (19 digits: ns)
_NUMBER = re.compile(r"^\d+(\.\d+)?$", re.ASCII)


class _Inside:
    """Every path read must resolve inside the folder, unless outside reads are allowed (noted)."""

    def __init__(self, root: Path, allow_outside: bool) -> None:
        self.root = root
        self.allow_outside = allow_outside
        self.outside: list[str] = []

    def __call__(self, path: Path) -> Path:
        if is_inside(path, self.root):
            return path
        real = os.path.realpath(path)
        if not self.allow_outside:
            raise InputError(
                f"{path}: resolves to {real}, outside the capture folder {str(self.root)!r}; "
                "pass --allow-outside-capture (allow_outside_capture=True) to read it.",
                source=str(path),
                field="allow_outside_capture",
            )
        self.outside.append(f"{path} -> {real}")
        return path

    def note(self) -> str | None:
        if not self.outside:
            return None
        shown = "; ".join(self.outside[:5]) + ("; ..." if len(self.outside) > 5 else "")
        return (
            f"{self.root}: {len(self.outside)} file(s) read from outside the capture folder "
            f"(allow_outside_capture): {shown}."
        )


def _document(folder: Path, stem: str) -> Path | None:
    """``stem.json`` (preferred), ``stem.yaml`` or ``stem.yml`` in ``folder``, if any exists."""
    return next(
        (folder / f"{stem}{s}" for s in POSE_SUFFIXES if os.path.lexists(folder / f"{stem}{s}")),
        None,
    )


def is_scale_folder(path: Path) -> bool:
    """A folder with ``pointcloud/`` holding .ply/.pcd files: scale-lidar-toolkit's layout."""
    cloud = path / "pointcloud"
    return cloud.is_dir() and any(
        f.suffix.lower() in _CLOUD_SUFFIXES for f in cloud.iterdir() if f.is_file()
    )


def _frame_files(folder: Path) -> list[Path]:
    files = [
        f
        for f in folder.iterdir()
        if f.is_file() and f.suffix.lower() in _CLOUD_SUFFIXES and not f.name.startswith(".")
    ]
    for f in files:
        if not _NUMBER.match(f.stem):
            raise InputError(
                f"{f}: scale-lidar-toolkit frames are named by a frame number or a time stamp "
                f"(e.g. 1.ply, 1700000000100000.ply), not {f.stem!r}.",
                source=str(f),
                field="file name",
            )
    stems = [f.stem for f in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise InputError(
            f"{folder}: frame {twice[0]!r} has more than one cloud file.",
            source=str(folder),
            field="file name",
        )
    return sorted(files, key=lambda f: Decimal(f.stem))


def _epoch_us(stem: str) -> int | None:
    """µs of a Unix-epoch time-stamp name, by its digit count; ``None`` for a frame number."""
    whole, _, fraction = stem.partition(".")
    if fraction:
        return int(Decimal(stem) * 1_000_000) if len(whole) == 10 else None
    if len(whole) == 19:
        return int(whole) // 1000
    scale = _EPOCH_DIGITS.get(len(whole))
    return None if scale is None else int(whole) * scale


def _frame_times(
    files: list[Path], frame_rate_hz: float | None, folder: Path
) -> tuple[list[int], str]:
    if frame_rate_hz is not None:
        if not frame_rate_hz > 0:
            raise InputError(
                f"frame_rate_hz must be > 0, got {frame_rate_hz!r}.", field="frame_rate_hz"
            )
        period = 1e6 / frame_rate_hz
        stamps = [round(k * period) for k in range(len(files))]
        note = (
            f"{folder}: {len(files)} frames in name order, {period / 1000:g} ms apart (declared "
            f"frame rate {frame_rate_hz:g} Hz)."
        )
        return stamps, note
    parsed = [_epoch_us(f.stem) for f in files]
    if any(t is None for t in parsed):
        bad = files[parsed.index(None)]
        raise InputError(
            f"{folder}: frame names such as {bad.name!r} are frame numbers, not time stamps; "
            "declare the frame rate (--frame-rate HZ, frame_rate_hz) so each frame gets a time.",
            source=str(folder),
            field="frame_rate_hz",
        )
    stamps = [int(t) for t in parsed if t is not None]
    check_increasing(stamps, source=str(folder), names=[f.name for f in files])
    note = f"{folder}: frame times taken from the file names as Unix epoch time stamps."
    return stamps, note


def _load_points(path: str, notes: list[str]) -> FramePoints:
    cloud = read_point_cloud(path)
    intensity = None
    if cloud.intensity is not None:
        values = cloud.intensity
        top = float(values.max()) if values.size else 0.0
        integral = cloud.intensity_range is not None and cloud.intensity_range[1] <= 255
        if integral and float(values.min(initial=0.0)) >= 0 and top <= 255:
            intensity = np.rint(values).astype(np.uint8)
        elif not notes:
            notes.append(
                f"lidar {LIDAR_ID!r}: intensity of {path} has no 8-bit scale (range "
                f"{cloud.intensity_range!r}); it is not carried (write a capture.yaml declaring "
                "intensity_max to keep it)."
            )
    return FramePoints(
        positions_m=cloud.positions,
        intensity=intensity,
        time_us=None,
        origin_m=cloud.origin_m,
        colors=cloud.colors,
        notes=tuple(notes),
    )


def _load_image(path: str) -> LoadedImage:
    info = read_image(path)
    return LoadedImage(
        format=info.format, width=info.width, height=info.height, content=info.content
    )


def _mounting(folder: Path, inside: _Inside) -> np.ndarray:
    path = _document(folder, "extrinsics")
    if path is None:
        raise InputError(
            f'{folder / "extrinsics.json"}: missing; each camera folder needs its extrinsics.json '
            '(or .yaml: {"heading": [w, x, y, z], "position": [x, y, z]}, the camera\'s pose on '
            "the rig).",
            source=str(folder / "extrinsics.json"),
        )
    pose = read_scale_pose(inside(path))
    matrix: np.ndarray = pose_to_matrix(np.array([*pose.position_m, *pose.quat_xyzw]))
    return matrix


def _check_frame_named(path: Path, stamps: dict[str, int], what: str) -> None:
    """An image or radar file is named like its frame's cloud (``cameras/c/2.jpg``: ``2.ply``)."""
    if path.stem not in stamps:
        raise InputError(
            f"{path}: no point cloud pointcloud/{path.stem}.* for this {what}; the toolkit "
            f"names each {what} like its frame.",
            source=str(path),
            field="file name",
        )


def _camera(
    folder: Path, stamps: dict[str, int], notes: list[str], inside: _Inside
) -> CameraSource:
    sensor_id = check_name(folder.name, what="camera folder name", source=str(folder))
    images = sorted(
        (f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES),
        key=lambda f: Decimal(f.stem) if _NUMBER.match(f.stem) else Decimal(-1),
    )
    if not images:
        raise InputError(
            f"{folder}: the camera folder has no .jpg/.png images.", source=str(folder)
        )
    for image in images:
        _check_frame_named(image, stamps, "image")
    intrinsics = next((folder / n for n in _INTRINSICS_NAMES if (folder / n).is_file()), None)
    if intrinsics is None:
        raise InputError(
            f"{folder}: no intrinsics.json (fx, fy, cx, cy) for camera {sensor_id!r}.",
            source=str(folder),
        )
    intr, note = intrinsics_source(
        inside(intrinsics), camera=None, sensor_id=sensor_id, first_image=inside(images[0])
    )
    if note is not None:
        notes.append(note)
    return CameraSource(
        sensor_id=sensor_id,
        intrinsics=intr,
        ego_from_sensor=_mounting(folder, inside),
        images=tuple(
            ImageSource(
                timestamp_us=stamps[f.stem],
                source=str(f),
                load=partial(_load_image, str(inside(f))),
            )
            for f in images
        ),
    )


def _load_radar(path: str) -> RadarFramePoints:
    found = read_scale_radar(path)
    return RadarFramePoints(
        positions_m=found.positions, directions=found.directions, sizes_m=found.sizes
    )


def _radar(
    root: Path, stamps: dict[str, int], radar_frame: RadarFrame, inside: _Inside
) -> tuple[RadarSource | None, str | None]:
    """The radar sensor of ``radar_points/`` (and the note saying how it was read), if any."""
    folder = root / "radar_points"
    if not folder.is_dir():
        return None, None
    # not only regular files: a FIFO or a dangling link named N.txt is refused when read, by name
    files = [
        f
        for f in folder.iterdir()
        if f.suffix.lower() == ".txt" and not f.name.startswith(".") and not f.is_dir()
    ]
    if not files:
        return None, f"{folder}: no .txt radar files; the scene has no radar."
    for f in files:
        _check_frame_named(f, stamps, "radar file")
    files.sort(key=lambda f: stamps[f.stem])
    radar = RadarSource(
        sensor_id=RADAR_ID,
        frames=tuple(
            RadarFrameSource(
                timestamp_us=stamps[f.stem],
                source=str(f),
                load=partial(_load_radar, str(inside(f))),
            )
            for f in files
        ),
        points_frame=radar_frame,
        ego_from_sensor=np.eye(4),
    )
    if radar_frame == "world":
        how = (
            "their positions and directions are taken as world coordinates, as scale-lidar-io "
            "writes them (the toolkit declares no radar frame; scale-lidar-io copies them "
            "unposed into its world-frame frames, while it poses the lidar points); declare "
            "--radar-frame ego (radar_frame = \"ego\") if they are in the device frame"
        )
    else:
        how = (
            "their positions and directions are in the device frame (radar_frame ego, as "
            "declared) and are posed with each frame's pose, like the lidar points"
        )
    note = (
        f"{folder}: {len(files)} radar file(s) for {len(stamps)} frame(s) became radar "
        f"{RADAR_ID!r}; {how}."
    )
    return radar, note


def _ego_poses(
    root: Path, files: list[Path], times: list[int], inside: _Inside
) -> EgoPoses | None:
    folder = root / "poses"
    if not folder.is_dir():
        return None
    positions, quats = [], []
    for f in files:
        path = _document(folder, f.stem)
        if path is None:
            missing = folder / f"{f.stem}.json"
            raise InputError(
                f"{missing}: missing; poses/ holds one heading/position JSON (or YAML) per frame "
                f"and frame {f.name} has none.",
                source=str(missing),
            )
        pose = read_scale_pose(inside(path))
        positions.append(pose.position_m)
        quats.append(pose.quat_xyzw)
    return EgoPoses(
        timestamps_us=np.asarray(times, dtype=np.int64),
        positions_m=np.asarray(positions, dtype=np.float64),
        quat_xyzw=np.asarray(quats, dtype=np.float64),
        source=str(folder),
    )


def read_scale_folder(
    path: str | Path,
    *,
    frame_rate_hz: float | None = None,
    allow_outside_capture: bool = False,
    radar_frame: RadarFrame = "world",
) -> Capture:
    """Open a scale-lidar-toolkit folder; see the module docstring for what is read and how.

    ``allow_outside_capture`` lets files resolve (through symlinks) outside the folder; each such
    read is noted. ``radar_frame`` says which frame ``radar_points/`` are in: ``"world"`` (as
    scale-lidar-io writes them) or ``"ego"`` (posed with each frame's pose).
    """
    if radar_frame not in _RADAR_FRAMES:
        raise InputError(
            f"radar_frame must be world or ego, got {radar_frame!r}.",
            field="radar_frame",
        )
    root = Path(path)
    if not is_scale_folder(root):
        raise InputError(
            f"{root}: not a scale-lidar-toolkit folder (no pointcloud/ with .ply/.pcd files).",
            source=str(root),
        )
    inside = _Inside(root, allow_outside_capture)
    files = [inside(f) for f in _frame_files(root / "pointcloud")]
    times, time_note = _frame_times(files, frame_rate_hz, root)
    notes = [time_note]
    by_stem = {f.stem: t for f, t in zip(files, times, strict=True)}
    load_notes: list[str] = []  # shared by the lidar's frames: one intensity note at most
    lidar = LidarSource(
        sensor_id=LIDAR_ID,
        frames=tuple(
            LidarFrameSource(
                timestamp_us=t, source=str(f), load=partial(_load_points, str(f), load_notes)
            )
            for f, t in zip(files, times, strict=True)
        ),
        points_frame="ego",
        ego_from_sensor=np.eye(4),
    )
    cameras_dir = root / "cameras"
    cameras: list[CameraSource] = []
    if cameras_dir.is_dir():
        for folder in sorted(p for p in cameras_dir.iterdir() if p.is_dir()):
            cameras.append(_camera(folder, by_stem, notes, inside))
    radar, radar_note = _radar(root, by_stem, radar_frame, inside)
    if radar_note is not None:
        notes.append(radar_note)
    ego = _ego_poses(root, files, times, inside)
    if ego is None:
        notes.append(f"{root}: no poses/ folder: the ego is static.")
    outside = inside.note()
    if outside is not None:
        notes.append(outside)
    return Capture(
        path=root,
        layout="scale_toolkit",
        lidars=(lidar,),
        cameras=tuple(cameras),
        ego_poses=ego,
        notes=tuple(notes),
        radars=() if radar is None else (radar,),
    )
