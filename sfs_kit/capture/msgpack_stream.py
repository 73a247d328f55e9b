"""The msgpack capture stream: one file of records that a logger appends to while it records.

Record schema (each record is one msgpack map, written back to back with no framing)::

    {"sensor": str, "timestamp_us": int, "kind": "points" | "image" | "pose" | "calibration",
     "payload": map}

``timestamp_us`` is absolute (any epoch) integer microseconds; the converter normalises it.
Arrays are maps ``{"dtype": "<f4", "shape": [N, 3], "data": bytes}`` with an explicit
little-endian dtype string, C order. Payloads by kind:

- ``points``: ``{"frame": "sensor" | "ego" | "world", "positions": array float (N, 3),
  "intensity"?: array (N,), "time_us"?: array int64 (N,) absolute µs}``. Intensity follows the
  rule of ``sfs_kit.capture._channels``: integers are 0..255 values (uint8 kept); float
  intensity needs the lidar's ``intensity_max`` in its calibration record.
- ``image``: ``{"data": bytes}``: the encoded JPEG or PNG file.
- ``pose``: ``{"position_m": [x, y, z], "quat_xyzw": [x, y, z, w]}``: ``world_from_ego``; the
  record's ``sensor`` must be ``"ego"``.
- ``calibration``: ``{"type": "lidar" | "camera", "ego_from_sensor": [16 floats, row-major]}``
  plus, for cameras, ``"intrinsics": {"fx", "fy", "cx", "cy", "width", "height",
  "distortion_model"?: str, "distortion_params"?: [float], "skew"?: float}``; for lidars an
  optional ``"intensity_max": float`` (the raw intensity that becomes 255, declared once per
  sensor). Every sensor with data needs exactly one calibration record, anywhere in the file.

Reading is incremental (``msgpack.Unpacker`` over the open file): the index pass keeps only
(sensor, time, kind, offset) per record plus the small pose and calibration payloads; points and
images are re-read from their offset when the converter asks for them.

Truncation (decided): a logger killed mid-write leaves a partial last record. It is **tolerated**:
the partial bytes are ignored, and the capture's ``notes`` say how many bytes at which offset.
Anything else malformed (a record that is not a map, a missing or mistyped key, an unknown kind,
data after which records no longer parse) is an ``InputError`` naming the file and byte offset.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

import msgpack
import numpy as np
import numpy.typing as npt

from sfs_kit._excerpt import excerpt
from sfs_kit._paths import name_problem, open_input
from sfs_kit.capture._channels import intensity_to_uint8
from sfs_kit.capture.base import (
    CameraIntrinsicsSource,
    CameraSource,
    Capture,
    EgoPoses,
    FramePoints,
    ImageSource,
    LidarFrameSource,
    LidarSource,
    LoadedImage,
    PointsFrame,
)
from sfs_kit.capture.sync import check_increasing
from sfs_kit.errors import InputError
from sfs_kit.readers.image import check_image_complete, image_size

__all__ = ["MsgpackCaptureWriter", "MsgpackRecord", "iter_msgpack_records", "read_msgpack_capture"]

logger = logging.getLogger(__name__)

RecordKind = Literal["points", "image", "pose", "calibration"]
_KINDS = ("points", "image", "pose", "calibration")
_MAX_RECORD_BYTES = 1 << 30
_ALLOWED_DTYPES = frozenset(
    {"|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8"}
)


@dataclass(frozen=True)
class MsgpackRecord:
    """One record header: who, when, what, and the byte offset where the record starts."""

    sensor: str
    timestamp_us: int
    kind: RecordKind
    offset: int
    payload: Mapping[str, Any]


# --- writing ----------------------------------------------------------------------------------


def _array(arr: npt.NDArray[Any]) -> dict[str, Any]:
    a = np.ascontiguousarray(arr)
    dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    a = a.astype(dtype, copy=False)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": a.tobytes()}


class MsgpackCaptureWriter:
    """Appends records to a capture stream file, flushing after each so a crash loses at most one.

    Opens ``path`` in append mode: a logger may reopen the same file and carry on.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "ab")  # noqa: SIM115 (closed by close())
        self._packer = msgpack.Packer(use_bin_type=True)

    def append(
        self, sensor: str, timestamp_us: int, kind: RecordKind, payload: Mapping[str, Any]
    ) -> None:
        """Write one record as given (see the module docstring for the payload schema)."""
        if kind not in _KINDS:
            raise InputError(f"Record kind must be one of {_KINDS!r}, got {kind!r}.", field="kind")
        if isinstance(timestamp_us, bool) or not isinstance(timestamp_us, int):
            raise InputError(
                f"timestamp_us must be an int, got {timestamp_us!r}.", field="timestamp_us"
            )
        record = {
            "sensor": sensor,
            "timestamp_us": timestamp_us,
            "kind": kind,
            "payload": dict(payload),
        }
        self._file.write(self._packer.pack(record))
        self._file.flush()

    def write_points(
        self,
        sensor: str,
        timestamp_us: int,
        positions_m: npt.NDArray[np.floating],
        *,
        intensity: npt.NDArray[Any] | None = None,
        time_us: npt.NDArray[np.int64] | None = None,
        frame: PointsFrame = "sensor",
    ) -> None:
        """One lidar sweep."""
        payload: dict[str, Any] = {"frame": frame, "positions": _array(positions_m)}
        if intensity is not None:
            payload["intensity"] = _array(intensity)
        if time_us is not None:
            payload["time_us"] = _array(np.asarray(time_us, dtype=np.int64))
        self.append(sensor, timestamp_us, "points", payload)

    def write_image(self, sensor: str, timestamp_us: int, data: bytes) -> None:
        """One encoded JPEG/PNG image."""
        self.append(sensor, timestamp_us, "image", {"data": bytes(data)})

    def write_pose(
        self,
        timestamp_us: int,
        position_m: tuple[float, float, float] | list[float],
        quat_xyzw: tuple[float, float, float, float] | list[float],
    ) -> None:
        """One ``world_from_ego`` pose."""
        self.append(
            "ego",
            timestamp_us,
            "pose",
            {
                "position_m": [float(v) for v in position_m],
                "quat_xyzw": [float(v) for v in quat_xyzw],
            },
        )

    def write_calibration(
        self,
        sensor: str,
        sensor_type: Literal["lidar", "camera"],
        ego_from_sensor: npt.NDArray[np.float64],
        *,
        intrinsics: Mapping[str, Any] | None = None,
        timestamp_us: int = 0,
        intensity_max: float | None = None,
    ) -> None:
        """A sensor's mounting (and a camera's intrinsics, a lidar's intensity scale)."""
        payload: dict[str, Any] = {
            "type": sensor_type,
            "ego_from_sensor": [
                float(v) for v in np.asarray(ego_from_sensor, dtype=np.float64).reshape(-1)
            ],
        }
        if intrinsics is not None:
            payload["intrinsics"] = dict(intrinsics)
        if intensity_max is not None:
            payload["intensity_max"] = float(intensity_max)
        self.append(sensor, timestamp_us, "calibration", payload)

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> MsgpackCaptureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- reading ----------------------------------------------------------------------------------


def _check_record(obj: object, source: str, offset: int) -> MsgpackRecord:
    where = f"{source}: record at byte {offset}"
    if not isinstance(obj, dict):
        raise InputError(
            f"{where} is a {type(obj).__name__}, expected a map.", source=source, offset=offset
        )
    for key, typ in (("sensor", str), ("timestamp_us", int), ("kind", str), ("payload", dict)):
        value = obj.get(key)
        if value is None:
            raise InputError(
                f"{where} has no {key!r} field.", source=source, offset=offset, field=key
            )
        if not isinstance(value, typ) or isinstance(value, bool):
            raise InputError(
                f"{where}: field {key!r} is {excerpt(value, 200)}, expected {typ.__name__}.",
                source=source,
                offset=offset,
                field=key,
            )
    if not -(2**63) <= obj["timestamp_us"] < 2**63:  # msgpack holds up to 2**64 - 1
        raise InputError(
            f"{where}: field 'timestamp_us' is {obj['timestamp_us']}, outside the int64 "
            "microsecond range.", source=source, offset=offset, field="timestamp_us")
    problem = name_problem(obj["sensor"])
    if problem is not None:
        raise InputError(
            f"{where}: field 'sensor' {excerpt(obj['sensor'])} {problem}; sensor ids become "
            "folder names.",
            source=source,
            offset=offset,
            field="sensor",
        )
    kind = obj["kind"]
    if kind not in _KINDS:
        raise InputError(
            f"{where}: field 'kind' is {kind!r}, expected one of {_KINDS!r}.",
            source=source,
            offset=offset,
            field="kind",
        )
    return MsgpackRecord(
        sensor=obj["sensor"],
        timestamp_us=obj["timestamp_us"],
        kind=kind,
        offset=offset,
        payload=obj["payload"],
    )


def iter_msgpack_records(
    path: str | os.PathLike[str], notes: list[str] | None = None
) -> Iterator[MsgpackRecord]:
    """Records in file order, read incrementally; a truncated last record is noted, not raised."""
    source = str(path)
    with open_input(path, what="capture stream") as f:
        size = os.fstat(f.fileno()).st_size
        unpacker = msgpack.Unpacker(
            f, raw=False, max_buffer_size=_MAX_RECORD_BYTES, strict_map_key=True
        )
        offset = 0
        while True:
            try:
                obj = unpacker.unpack()
            except msgpack.OutOfData:
                break
            except (ValueError, msgpack.UnpackException, TypeError) as err:
                raise _invalid_record(err, source, offset, unpacker.tell()) from err
            yield _check_record(obj, source, offset)
            offset = unpacker.tell()
    if offset < size:
        msg = (
            f"{source}: the last {size - offset} byte(s) from byte {offset} are a truncated "
            f"record (a logger still writing, or killed); ignored."
        )
        logger.warning(msg)
        if notes is not None:
            notes.append(msg)


def _read_record_at(source: str, offset: int) -> MsgpackRecord:
    with open_input(source, what="capture stream") as f:
        f.seek(offset)
        unpacker = msgpack.Unpacker(
            f, raw=False, max_buffer_size=_MAX_RECORD_BYTES, strict_map_key=True
        )
        try:
            obj = unpacker.unpack()
        except (ValueError, msgpack.UnpackException, TypeError) as err:
            raise _invalid_record(err, source, offset, offset + unpacker.tell()) from err
    return _check_record(obj, source, offset)


def _invalid_record(err: Exception, source: str, start: int, stop: int) -> InputError:
    """The error for a record msgpack cannot parse: where it starts, where parsing failed, why.

    ``stop`` is the unpacker's position at the failure (``Unpacker.tell()``: the offending byte);
    msgpack's own messages are often empty (``FormatError()``), so the exception type is named.
    """
    reason = type(err).__name__ + (f": {err}" if str(err) else "")
    failed_at = max(start, stop)
    return InputError(
        f"{source}: record at byte {start} is not valid msgpack: parsing failed at byte "
        f"{failed_at} ({reason}).",
        source=source,
        offset=failed_at,
    )


def _decode_array(
    value: object, *, where: str, source: str, offset: int, field: str, ndim: int
) -> npt.NDArray[Any]:
    if not isinstance(value, dict) or not {"dtype", "shape", "data"} <= value.keys():
        raise InputError(
            f"{where}: {field!r} must be a map with dtype, shape and data.",
            source=source,
            offset=offset,
            field=field,
        )
    dtype, shape, data = value["dtype"], value["shape"], value["data"]
    if dtype not in _ALLOWED_DTYPES:
        raise InputError(
            f"{where}: {field!r} has dtype {dtype!r}, expected one of {sorted(_ALLOWED_DTYPES)!r}.",
            source=source,
            offset=offset,
            field=field,
        )
    if (
        not isinstance(shape, list)
        or len(shape) != ndim
        or not all(isinstance(s, int) and s >= 0 for s in shape)
    ):
        raise InputError(
            f"{where}: {field!r} has shape {excerpt(shape)}, expected {ndim} non-negative ints.",
            source=source,
            offset=offset,
            field=field,
        )
    if not isinstance(data, bytes):
        raise InputError(
            f"{where}: {field!r} data must be bytes.", source=source, offset=offset, field=field
        )
    dt = np.dtype(dtype)
    expected = math.prod(shape) * dt.itemsize  # exact: numpy's product wraps around in int64
    if len(data) != expected or max(shape, default=0) > 2**31:  # [0, 2**63] is not a shape
        raise InputError(
            f"{where}: {field!r} has {len(data)} data bytes, expected {expected} for "
            f"shape {excerpt(shape)} and dtype {dtype!r}.",
            source=source,
            offset=offset,
            field=field,
        )
    return np.frombuffer(data, dtype=dt).reshape(shape)


def _load_points(
    source: str, offset: int, frame: PointsFrame, intensity_max: float | None
) -> FramePoints:
    rec = _read_record_at(source, offset)
    where = f"{source}: points record at byte {offset}"
    p = rec.payload
    positions = _decode_array(
        p.get("positions"), where=where, source=source, offset=offset, field="positions", ndim=2
    )
    if positions.shape[1] != 3 or not np.issubdtype(positions.dtype, np.floating):
        raise InputError(
            f"{where}: 'positions' must be float (N, 3), got {positions.dtype.str} "
            f"{list(positions.shape)!r}.",
            source=source,
            offset=offset,
            field="positions",
        )
    n = positions.shape[0]
    intensity = None
    if p.get("intensity") is not None:
        raw = _decode_array(
            p["intensity"], where=where, source=source, offset=offset, field="intensity", ndim=1
        )
        if raw.shape[0] != n:
            raise InputError(
                f"{where}: 'intensity' has {raw.shape[0]} values for {n} points.",
                source=source,
                offset=offset,
                field="intensity",
            )
        intensity = intensity_to_uint8(
            raw, source=f"{source}@{offset}", intensity_max=intensity_max
        )
    time_us = None
    if p.get("time_us") is not None:
        raw_t = _decode_array(
            p["time_us"], where=where, source=source, offset=offset, field="time_us", ndim=1
        )
        if raw_t.shape[0] != n or not np.issubdtype(raw_t.dtype, np.integer):
            raise InputError(
                f"{where}: 'time_us' must be {n} integers, got {raw_t.dtype.str} "
                f"{list(raw_t.shape)!r}.",
                source=source,
                offset=offset,
                field="time_us",
            )
        time_us = raw_t.astype(np.int64)
    return FramePoints(positions_m=positions, intensity=intensity, time_us=time_us)


def _load_image(source: str, offset: int) -> LoadedImage:
    rec = _read_record_at(source, offset)
    data = rec.payload.get("data")
    if not isinstance(data, bytes):
        raise InputError(
            f"{source}: image record at byte {offset} has no 'data' bytes.",
            source=source,
            offset=offset,
            field="data",
        )
    fmt, width, height = image_size(data, f"{source}@{offset}")
    check_image_complete(data, fmt, f"{source}@{offset}")
    return LoadedImage(format=fmt, width=width, height=height, content=data)


def _floats(
    value: object, n: int, *, where: str, source: str, offset: int, field: str
) -> npt.NDArray[np.float64]:
    if (
        not isinstance(value, list)
        or len(value) != n
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise InputError(
            f"{where}: {field!r} must be a list of {n} numbers, got {excerpt(value, 200)}.",
            source=source,
            offset=offset,
            field=field,
        )
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise InputError(
            f"{where}: {field!r} contains NaN or infinity.",
            source=source,
            offset=offset,
            field=field,
        )
    return arr


def _intrinsics(value: object, *, where: str, source: str, offset: int) -> CameraIntrinsicsSource:
    if not isinstance(value, dict):
        raise InputError(
            f"{where}: a camera calibration needs an 'intrinsics' map.",
            source=source,
            offset=offset,
            field="intrinsics",
        )
    nums: dict[str, float] = {}
    for key in ("fx", "fy", "cx", "cy", "width", "height"):
        v = value.get(key)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise InputError(
                f"{where}: intrinsics field {key!r} is {v!r}, expected a number.",
                source=source,
                offset=offset,
                field=f"intrinsics.{key}",
            )
        nums[key] = v
    for key in ("width", "height"):
        if not isinstance(value[key], int):
            raise InputError(
                f"{where}: intrinsics field {key!r} is {value[key]!r}, expected an int.",
                source=source,
                offset=offset,
                field=f"intrinsics.{key}",
            )
    model = value.get("distortion_model")
    params = value.get("distortion_params", [])
    if model is not None and not isinstance(model, str):
        raise InputError(
            f"{where}: 'distortion_model' must be a string, got {model!r}.",
            source=source,
            offset=offset,
            field="intrinsics.distortion_model",
        )
    if not isinstance(params, list) or not all(isinstance(v, int | float) for v in params):
        raise InputError(
            f"{where}: 'distortion_params' must be a list of numbers, got {params!r}.",
            source=source,
            offset=offset,
            field="intrinsics.distortion_params",
        )
    skew = value.get("skew", 0.0)
    if not isinstance(skew, int | float):
        raise InputError(
            f"{where}: 'skew' must be a number, got {skew!r}.",
            source=source,
            offset=offset,
            field="intrinsics.skew",
        )
    return CameraIntrinsicsSource(
        fx=float(nums["fx"]),
        fy=float(nums["fy"]),
        cx=float(nums["cx"]),
        cy=float(nums["cy"]),
        width=int(nums["width"]),
        height=int(nums["height"]),
        distortion_model=model,
        distortion_params=tuple(float(v) for v in params),
        skew=float(skew),
        source=f"{source}@{offset}",
    )


def read_msgpack_capture(path: str | os.PathLike[str]) -> Capture:
    """Index a msgpack capture stream into a ``Capture`` (frames and images load lazily)."""
    source = str(path)
    if not os.path.lexists(source):
        raise InputError(f"Capture stream {source!r} does not exist.", source=source)
    open_input(source, what="capture stream").close()  # a regular file, or a named error
    notes: list[str] = []
    points: dict[str, list[tuple[int, int, PointsFrame]]] = {}
    images: dict[str, list[tuple[int, int]]] = {}
    calib: dict[str, tuple[str, npt.NDArray[np.float64], CameraIntrinsicsSource | None, int]] = {}
    scales: dict[str, float] = {}  # lidar id -> declared intensity_max
    pose_rows: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
    for rec in iter_msgpack_records(path, notes):
        where = f"{source}: {rec.kind} record at byte {rec.offset}"
        p = rec.payload
        if rec.kind == "points":
            frame = p.get("frame", "sensor")
            if frame not in ("sensor", "ego", "world"):
                raise InputError(
                    f"{where}: 'frame' is {frame!r}, expected 'sensor', 'ego' or 'world'.",
                    source=source,
                    offset=rec.offset,
                    field="frame",
                )
            points.setdefault(rec.sensor, []).append((rec.timestamp_us, rec.offset, frame))
        elif rec.kind == "image":
            images.setdefault(rec.sensor, []).append((rec.timestamp_us, rec.offset))
        elif rec.kind == "pose":
            if rec.sensor != "ego":
                raise InputError(
                    f"{where}: pose records must have sensor 'ego', got {rec.sensor!r}.",
                    source=source,
                    offset=rec.offset,
                    field="sensor",
                )
            pos = _floats(
                p.get("position_m"),
                3,
                where=where,
                source=source,
                offset=rec.offset,
                field="position_m",
            )
            quat = _floats(
                p.get("quat_xyzw"),
                4,
                where=where,
                source=source,
                offset=rec.offset,
                field="quat_xyzw",
            )
            norm = float(np.linalg.norm(quat))
            if abs(norm - 1.0) > 1e-3:
                raise InputError(
                    f"{where}: 'quat_xyzw' has norm {norm:.6f}, expected 1.",
                    source=source,
                    offset=rec.offset,
                    field="quat_xyzw",
                )
            pose_rows.append((rec.timestamp_us, pos, quat / norm))
        else:
            if rec.sensor in calib:
                raise InputError(
                    f"{where}: sensor {rec.sensor!r} already has a calibration record at "
                    f"byte {calib[rec.sensor][3]}.",
                    source=source,
                    offset=rec.offset,
                    field="sensor",
                )
            stype = p.get("type")
            if stype not in ("lidar", "camera"):
                raise InputError(
                    f"{where}: 'type' is {stype!r}, expected 'lidar' or 'camera'.",
                    source=source,
                    offset=rec.offset,
                    field="type",
                )
            mat = _floats(
                p.get("ego_from_sensor"),
                16,
                where=where,
                source=source,
                offset=rec.offset,
                field="ego_from_sensor",
            ).reshape(4, 4)
            intr = (
                _intrinsics(p.get("intrinsics"), where=where, source=source, offset=rec.offset)
                if stype == "camera"
                else None
            )
            scale = p.get("intensity_max")
            if scale is not None:
                if isinstance(scale, bool) or not isinstance(scale, int | float) or not (
                    math.isfinite(scale) and scale > 0
                ):
                    raise InputError(
                        f"{where}: 'intensity_max' is {scale!r}, expected a number > 0.",
                        source=source,
                        offset=rec.offset,
                        field="intensity_max",
                    )
                scales[rec.sensor] = float(scale)
            calib[rec.sensor] = (stype, mat, intr, rec.offset)

    lidars: list[LidarSource] = []
    for sensor, rows in points.items():
        if sensor not in calib or calib[sensor][0] != "lidar":
            raise InputError(
                f"{source}: lidar {sensor!r} has points but no lidar calibration record.",
                source=source,
                field="calibration",
            )
        check_increasing(
            [r[0] for r in rows],
            source=source,
            names=[f"points record at byte {r[1]}" for r in rows],
        )
        frames_of = {r[2] for r in rows}
        if len(frames_of) != 1:
            raise InputError(
                f"{source}: lidar {sensor!r} mixes point frames {sorted(frames_of)!r}.",
                source=source,
                field="frame",
            )
        frame = rows[0][2]
        lidars.append(
            LidarSource(
                sensor_id=sensor,
                points_frame=frame,
                ego_from_sensor=calib[sensor][1],
                frames=tuple(
                    LidarFrameSource(
                        timestamp_us=ts,
                        source=f"{source}@{off}",
                        load=partial(_load_points, source, off, frame, scales.get(sensor)),
                    )
                    for ts, off, _ in rows
                ),
            )
        )
    cameras: list[CameraSource] = []
    for sensor, img_rows in images.items():
        entry = calib.get(sensor)
        if entry is None or entry[2] is None:
            raise InputError(
                f"{source}: camera {sensor!r} has images but no camera calibration record.",
                source=source,
                field="calibration",
            )
        check_increasing(
            [r[0] for r in img_rows],
            source=source,
            names=[f"image record at byte {r[1]}" for r in img_rows],
        )
        cameras.append(
            CameraSource(
                sensor_id=sensor,
                intrinsics=entry[2],
                ego_from_sensor=entry[1],
                images=tuple(
                    ImageSource(
                        timestamp_us=ts,
                        source=f"{source}@{off}",
                        load=partial(_load_image, source, off),
                    )
                    for ts, off in img_rows
                ),
            )
        )
    ego = None
    if pose_rows:
        check_increasing(
            [r[0] for r in pose_rows],
            source=source,
            names=[f"pose {i}" for i in range(len(pose_rows))],
        )
        ego = EgoPoses(
            timestamps_us=np.asarray([r[0] for r in pose_rows], dtype=np.int64),
            positions_m=np.stack([r[1] for r in pose_rows]),
            quat_xyzw=np.stack([r[2] for r in pose_rows]),
            source=source,
        )
    return Capture(
        path=Path(source),
        layout="msgpack",
        lidars=tuple(lidars),
        cameras=tuple(cameras),
        ego_poses=ego,
        notes=tuple(notes),
    )
