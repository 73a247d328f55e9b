"""The sfs_kit capture folder (``capture.yaml`` + files) -> ``Capture``.

Everything the manifest references is resolved and checked here, before any conversion: files
exist, each sensor's timestamps match its files one to one and increase strictly, every camera has
intrinsics and extrinsics, poses and calibrations parse. Errors name the manifest field (e.g.
``cameras[1].intrinsics``) or the file and line that is wrong.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sfs_kit._excerpt import excerpt
from sfs_kit._paths import check_name, is_inside, open_input, read_input_text
from sfs_kit.capture._calib import intrinsics_source
from sfs_kit.capture._channels import SensorIntensity, point_time_to_us
from sfs_kit.capture.base import (
    CameraSource,
    Capture,
    EgoPoses,
    FramePoints,
    ImageSource,
    LidarFrameSource,
    LidarSource,
    LoadedImage,
    VideoFileSource,
)
from sfs_kit.capture.manifest import (
    MANIFEST_NAMES,
    CameraEntry,
    CaptureManifest,
    ExtrinsicsEntry,
    LidarEntry,
    TimestampsEntry,
    load_manifest,
)
from sfs_kit.capture.sync import check_increasing
from sfs_kit.errors import InputError
from sfs_kit.models.geometry import pose_to_matrix
from sfs_kit.readers import read_point_cloud
from sfs_kit.readers.calibration import read_extrinsics
from sfs_kit.readers.image import read_image
from sfs_kit.readers.poses import read_poses, timestamp_to_us

__all__ = ["read_capture_folder"]

logger = logging.getLogger(__name__)

_MAX_PATTERN = 4096  # PATH_MAX: no file a longer pattern names can exist
_MAX_BRACKETS = 64  # character classes in one pattern ([0-9] per digit is the usual use)

F64 = npt.NDArray[np.float64]


class _Ctx:
    """The manifest path and folder, for resolving paths and naming fields in errors.

    Every referenced path must resolve (symlinks followed) inside the capture folder unless
    ``allow_outside`` (the manifest's ``allow_outside_capture`` or the caller's opt-in); each
    read outside it is then recorded in ``outside`` and reported.
    """

    def __init__(self, manifest_path: Path, allow_outside: bool = False) -> None:
        self.manifest = manifest_path
        self.root = manifest_path.parent
        self.notes: list[str] = []
        self.allow_outside = allow_outside
        self.outside: list[str] = []

    def fail(self, field: str, message: str) -> InputError:
        return InputError(
            f"{self.manifest}: {field}: {message}", source=str(self.manifest), field=field
        )

    def _inside(self, path: Path, rel: str, field: str) -> Path:
        """``path`` if it resolves inside the capture (or outside reads are allowed)."""
        if is_inside(path, self.root):
            return path
        real = os.path.realpath(path)
        if not self.allow_outside:
            raise self.fail(
                field,
                f"references {excerpt(rel, 200)}, which resolves to {excerpt(real, 200)}, outside "
                f"the capture folder {str(self.root)!r}; set 'allow_outside_capture: true' in the "
                "manifest (or pass --allow-outside-capture) to read it.",
            )
        self.outside.append(f"{field}: {rel} -> {real}")
        return path

    def _regular(self, path: Path, rel: str, field: str) -> Path:
        """``path`` if it is a regular input file (named error otherwise: FIFO, device...)."""
        try:
            open_input(path).close()
        except InputError as err:
            raise self.fail(field, f"references {excerpt(rel, 200)}: {err}") from err
        return path

    def existing(self, rel: str, field: str) -> Path:
        path = self.root / rel
        if not os.path.lexists(path):
            raise self.fail(
                field, f"references {excerpt(rel, 200)}, which does not exist (looked for "
                f"{excerpt(str(path), 200)})."
            )
        return self._regular(self._inside(path, rel, field), rel, field)

    def files(self, spec: str | Sequence[str], field: str) -> list[Path]:
        if isinstance(spec, str):
            if len(spec) > _MAX_PATTERN or spec.count("[") > _MAX_BRACKETS:
                # fnmatch's translation scans ahead from every '[': 70,000 of them took minutes
                raise self.fail(
                    field, f"the pattern {excerpt(spec, 200)} is too long or has too many '[' "
                    f"(at most {_MAX_PATTERN} characters and {_MAX_BRACKETS} '[')."
                )
            matches = sorted(glob.glob(str(self.root / spec)))
            if not matches:
                raise self.fail(
                    field, f"the pattern {excerpt(spec, 200)} matches no files in "
                    f"{str(self.root)!r}."
                )
            paths = [self._inside(Path(m), m, field) for m in matches]
            paths = [self._regular(p, str(p), field) for p in paths]
        elif not spec:
            raise self.fail(field, "the file list is empty.")
        else:
            paths = [self.existing(rel, f"{field}[{i}]") for i, rel in enumerate(spec)]
        seen: dict[str, int] = {}
        for i, path in enumerate(paths):
            real = os.path.realpath(path)
            if real in seen:
                raise self.fail(
                    field,
                    f"lists the file {excerpt(str(path), 200)} twice (entries {seen[real]} and "
                    f"{i}); each file is one frame.",
                )
            seen[real] = i
        return paths


def _timestamps(
    ctx: _Ctx, entry: TimestampsEntry, files: list[Path], field: str, *, video: bool = False
) -> list[int]:
    """One timestamp per file (or, for a ``video``, one per line: checked against its frames
    when it is converted)."""
    if entry.from_filename == (entry.file is not None):
        raise ctx.fail(field, "give exactly one of 'file' or 'from_filename: true'.")
    if video and entry.file is None:
        raise ctx.fail(field, "a camera video needs a timestamps 'file' (one line per frame).")
    if entry.file is not None:
        path = ctx.existing(entry.file, f"{field}.file")
        lines = [
            (i + 1, ln.strip())
            for i, ln in enumerate(read_input_text(path, what="timestamps file").splitlines())
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
        if not video and len(lines) != len(files):
            raise InputError(
                f"{path}: has {len(lines)} timestamps but {field.rsplit('.', 1)[0]} has "
                f"{len(files)} files; they must pair one to one.",
                source=str(path),
                field="timestamp",
            )
        stamps = [
            timestamp_to_us(
                text.split()[0].rstrip(","), entry.unit, source=str(path), field="timestamp", line=n
            )
            for n, text in lines
        ]
        source = str(path)
        if video:
            files = [Path(f"frame {i}") for i in range(len(stamps))]
    else:
        stamps = [
            timestamp_to_us(f.stem.split(".")[0], entry.unit, source=str(f), field="file name")
            for f in files
        ]
        source = f"{ctx.manifest} ({field})"
    check_increasing(stamps, source=source, names=[f.name for f in files])
    return stamps


def _extrinsics(ctx: _Ctx, entry: ExtrinsicsEntry | None, field: str, *, required: bool) -> F64:
    if entry is None:
        if required:
            raise ctx.fail(field, "is missing; a camera needs its mounting (ego_from_sensor).")
        return np.eye(4)
    given = [
        entry.file is not None,
        entry.matrix is not None,
        entry.translation_m is not None or entry.quat_xyzw is not None,
    ]
    if sum(given) != 1:
        raise ctx.fail(
            field, "give exactly one of 'file', 'matrix', or 'translation_m' + 'quat_xyzw'."
        )
    if entry.file is not None:
        path = ctx.existing(entry.file, f"{field}.file")
        return read_extrinsics(path, direction=entry.direction)
    if entry.matrix is not None:
        if len(entry.matrix) != 4 or any(len(row) != 4 for row in entry.matrix):
            shape = [len(row) for row in entry.matrix]
            raise ctx.fail(f"{field}.matrix",
                           f"must be 4x4 finite numbers, found rows of {excerpt(shape)} values.")
        m = np.asarray(entry.matrix, dtype=np.float64)
        if m.shape != (4, 4) or not np.isfinite(m).all():
            raise ctx.fail(
                f"{field}.matrix", f"must be 4x4 finite numbers, found shape {list(m.shape)!r}."
            )
    else:
        if (
            entry.translation_m is None
            or entry.quat_xyzw is None
            or len(entry.translation_m) != 3
            or len(entry.quat_xyzw) != 4
        ):
            raise ctx.fail(field, "needs 'translation_m' (3 numbers) and 'quat_xyzw' (4 numbers).")
        q = np.asarray(entry.quat_xyzw, dtype=np.float64)
        if not np.isfinite(q).all() or abs(float(np.linalg.norm(q)) - 1.0) > 1e-3:
            raise ctx.fail(
                f"{field}.quat_xyzw",
                f"must be a finite unit quaternion, found {entry.quat_xyzw!r}.",
            )
        m = pose_to_matrix(np.concatenate([np.asarray(entry.translation_m, dtype=np.float64), q]))
    rot = m[:3, :3]
    if (
        not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6)
        or abs(float(np.linalg.det(rot)) - 1) > 1e-6
        or not np.allclose(m[3], [0, 0, 0, 1])
    ):
        raise ctx.fail(
            field, "is not a rigid transform (rotation not orthonormal or bottom row not 0 0 0 1)."
        )
    return m if entry.direction == "sensor_to_ego" else np.linalg.inv(m).astype(np.float64)


def _load_points(  # noqa: PLR0917
    path: str,
    entry: LidarEntry,
    timestamp_us: int,
    ctx: _Ctx,
    field: str,
    scale: SensorIntensity,
) -> FramePoints:
    point_time = entry.point_time
    unit = "s" if point_time is None else point_time.unit
    cloud = read_point_cloud(
        path, columns=entry.columns, time_unit=unit, color_max=entry.color_max
    )
    intensity = None
    if cloud.intensity is not None:
        if entry.intensity_max is None and cloud.intensity_range is None:
            raise ctx.fail(
                f"{field}.intensity_max",
                f"is missing, but {path!r} stores intensity as floats with no nominal range; "
                "declare the raw value that becomes 255 (it is never inferred from a frame).",
            )
        intensity = scale.to_uint8(
            cloud.intensity,
            source=path,
            format=cloud.format,
            intensity_range=cloud.intensity_range,
        )
    time_us = None
    if cloud.time_s is not None and not entry.ignore_point_time:
        if point_time is None:
            raise ctx.fail(
                f"{field}.point_time",
                f"is missing, but {path!r} has per-point times; declare their unit and "
                "reference, e.g. {unit: s, reference: frame} (or 'ignore' to leave them out).",
            )
        time_us = point_time_to_us(
            cloud.time_s,
            unit="s",
            reference=point_time.reference,
            frame_timestamp_us=timestamp_us,
            source=path,
        )
    return FramePoints(
        positions_m=cloud.positions,
        intensity=intensity,
        time_us=time_us,
        origin_m=cloud.origin_m,
        viewpoint=None
        if "viewpoint" not in cloud.extra
        else np.asarray(cloud.extra["viewpoint"], dtype=np.float64),
        colors=cloud.colors,
        notes=() if scale.note is None else (scale.note,),
    )


def _load_image(path: str) -> LoadedImage:
    info = read_image(path)
    return LoadedImage(
        format=info.format, width=info.width, height=info.height, content=info.content
    )


def _lidar(ctx: _Ctx, entry: LidarEntry, i: int) -> LidarSource:
    field = f"lidars[{i}]"
    files = ctx.files(entry.files, f"{field}.files")
    stamps = _timestamps(ctx, entry.timestamps, files, f"{field}.timestamps")
    scale = SensorIntensity(entry.id, entry.intensity_max, [str(f) for f in files])
    if entry.ignore_point_time:
        ctx.notes.append(
            f"lidar {entry.id!r}: per-point times in its cloud files are not carried "
            "(point_time: ignore)."
        )
    return LidarSource(
        sensor_id=entry.id,
        points_frame=entry.frame,
        ego_from_sensor=_extrinsics(ctx, entry.extrinsics, f"{field}.extrinsics", required=False),
        frames=tuple(
            LidarFrameSource(
                timestamp_us=t,
                source=str(f),
                load=partial(_load_points, str(f), entry, t, ctx, field, scale),
            )
            for f, t in zip(files, stamps, strict=True)
        ),
    )


def _camera(ctx: _Ctx, entry: CameraEntry, i: int) -> CameraSource:
    field = f"cameras[{i}]"
    if entry.intrinsics is None:
        raise ctx.fail(
            f"{field}.intrinsics", f"camera {entry.id!r} has no calibration (intrinsics)."
        )
    path = ctx.existing(entry.intrinsics.file, f"{field}.intrinsics.file")
    files = None
    if entry.files is not None and entry.video is None:
        files = ctx.files(entry.files, f"{field}.files")
    intr, note = intrinsics_source(
        path,
        camera=entry.intrinsics.camera,
        sensor_id=entry.id,
        first_image=None if not files else files[0],
    )
    if note is not None:
        ctx.notes.append(note)
    ego_from_sensor = _extrinsics(ctx, entry.extrinsics, f"{field}.extrinsics", required=True)
    if entry.video is not None:
        if entry.files is not None:
            raise ctx.fail(field, f"camera {entry.id!r}: give 'files' or 'video', not both.")
        video = ctx.existing(entry.video, f"{field}.video")
        stamps = _timestamps(ctx, entry.timestamps, [], f"{field}.timestamps", video=True)
        return CameraSource(
            sensor_id=entry.id,
            intrinsics=intr,
            ego_from_sensor=ego_from_sensor,
            images=(),
            video=VideoFileSource(path=video, timestamps_us=tuple(stamps), source=str(video)),
        )
    if files is None:
        raise ctx.fail(f"{field}.files", f"camera {entry.id!r} needs 'files' (images) or 'video'.")
    stamps = _timestamps(ctx, entry.timestamps, files, f"{field}.timestamps")
    return CameraSource(
        sensor_id=entry.id,
        intrinsics=intr,
        ego_from_sensor=ego_from_sensor,
        images=tuple(
            ImageSource(timestamp_us=t, source=str(f), load=partial(_load_image, str(f)))
            for f, t in zip(files, stamps, strict=True)
        ),
    )


def _check_ids(ctx: _Ctx, manifest: CaptureManifest) -> None:
    ids = [(f"lidars[{i}].id", e.id) for i, e in enumerate(manifest.lidars)]
    ids += [(f"cameras[{i}].id", e.id) for i, e in enumerate(manifest.cameras)]
    seen: set[str] = set()
    for field, sensor_id in ids:
        check_name(sensor_id, source=str(ctx.manifest), field=field)
        if sensor_id in seen:
            raise ctx.fail(field, f"sensor id {sensor_id!r} is used twice.")
        seen.add(sensor_id)


def read_capture_folder(
    path: str | os.PathLike[str], *, allow_outside_capture: bool = False
) -> Capture:
    """Open a capture folder (or its ``capture.yaml``/``capture.json``) as a ``Capture``.

    Files outside the capture folder (absolute paths, ``..``, symlinks leading out) are refused
    unless ``allow_outside_capture`` or the manifest's ``allow_outside_capture: true``; every
    such read is then a note on the capture and a warning in the log.
    """
    p = Path(path)
    manifest_path = p
    if p.is_dir():
        found = [p / n for n in MANIFEST_NAMES if os.path.lexists(p / n)]
        if not found:
            raise InputError(
                f"Capture folder {str(p)!r} has no {' or '.join(MANIFEST_NAMES)}.",
                source=str(p),
                field="capture.yaml",
            )
        if len(found) > 1:
            raise InputError(
                f"Capture folder {str(p)!r} has {len(found)} manifests "
                f"({', '.join(f.name for f in found)}); keep one, so it is clear which is used.",
                source=str(p),
                field="capture.yaml",
            )
        manifest_path = found[0]
    manifest = load_manifest(manifest_path)
    ctx = _Ctx(manifest_path, allow_outside_capture or manifest.allow_outside_capture)
    _check_ids(ctx, manifest)
    ego = None
    tolerance = 0
    if manifest.poses is not None:
        pose_path = ctx.existing(manifest.poses.file, "poses.file")
        table = read_poses(
            pose_path,
            time_unit=manifest.poses.time_unit,
            quat_order=manifest.poses.quat_order,
            layout=manifest.poses.layout,
        )
        ego = EgoPoses(
            timestamps_us=table.timestamps_us,
            positions_m=table.positions_m,
            quat_xyzw=table.quat_xyzw,
            source=str(pose_path),
        )
        tolerance = manifest.poses.tolerance_us
    lidars = tuple(_lidar(ctx, e, i) for i, e in enumerate(manifest.lidars))
    cameras = tuple(_camera(ctx, e, i) for i, e in enumerate(manifest.cameras))
    metadata = dict(manifest.metadata)
    if manifest.name is not None:
        metadata.setdefault("capture_name", manifest.name)
    notes = [f"read outside the capture folder: {entry}" for entry in ctx.outside]
    for note in notes:
        logger.warning("%s", note)
    return Capture(
        path=manifest_path.parent,
        layout="sfs_kit",
        lidars=lidars,
        cameras=cameras,
        ego_poses=ego,
        pose_tolerance_us=tolerance,
        metadata=metadata,
        notes=(*notes, *ctx.notes),
    )
