"""A short drive written with rosbags' own writers, as ROS 1 .bag, ROS 2 sqlite3 or MCAP.

Content (exact values, so tests can check the converted scene against them):
- ``/tf``: ``odom -> base_link`` at 20 Hz, ego moving at (2, 0.5, 0) m/s and turning at 0.2 rad/s
  (linear in time, so lerp + slerp interpolation is exact); ``/tf_static``: ``map -> odom``
  (translation (100, 50, 0)), the two lidars, an optical camera frame and a body camera frame.
- ``/sensing/lidar/top/points``: Ouster-like 2x8 organised cloud (point_step 48, row padding 16,
  float32 intensity, uint32 ``t`` ns, reflectivity/ring/ambient/range), two NaN points.
- ``/velodyne_points``: Velodyne-like 1x10 cloud (point_step 32, float32 intensity 0..255, ring,
  float32 ``time`` s relative).
- ``/cam/front/image_raw/compressed`` (JPEG) + ``/cam/front/camera_info`` (plumb_bob, optical);
  ``/cam/left/image_raw`` (raw rgb8) + ``/cam/left/camera_info`` (rational_polynomial, body frame).
- ``/diagnostics`` (std_msgs/String), not a sensor.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

Container = Literal["ros1", "ros2", "mcap"]
F64 = npt.NDArray[np.float64]

T0_NS = 1_700_000_000 * 1_000_000_000
SWEEPS = 5
PERIOD_NS = 100_000_000
LATENCY_NS = 5_000_000
OUSTER = "/sensing/lidar/top/points"
VELODYNE = "/velodyne_points"
FRONT = "/cam/front/image_raw/compressed"
FRONT_INFO = "/cam/front/camera_info"
LEFT = "/cam/left/image_raw"
LEFT_INFO = "/cam/left/camera_info"
OFFSETS_NS = {OUSTER: 0, VELODYNE: 3_000_000, FRONT: 10_000_000, LEFT: 20_000_000}
OUSTER_INTENSITY_MAX = 1000.0
VELODYNE_LAST_NS = 9 * 1_000_000_000 // 128  # the last Velodyne point's time field (9/128 s)
MAP_FROM_ODOM = (100.0, 50.0, 0.0)
VELOCITY = (2.0, 0.5, 0.0)
YAW_RATE = 0.2
PLUMB_BOB_D = [-0.1, 0.01, 0.001, -0.002, 0.0005]
FRONT_K = [500.0, 0.0, 32.0, 0.0, 510.0, 24.0, 0.0, 0.0, 1.0]
RATIONAL_D = [-0.2, 0.05, 0.0003, 0.0004, -0.01, 0.1, 0.02, 0.003]
LEFT_K = [300.0, 0.0, 16.0, 0.0, 305.0, 12.0, 0.0, 0.0, 1.0]
BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def yaw_quat(yaw: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


def roll_quat(roll: float) -> tuple[float, float, float, float]:
    return (math.sin(roll / 2), 0.0, 0.0, math.cos(roll / 2))


def quat_matrix(q: tuple[float, float, float, float]) -> F64:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_quat(m: F64) -> tuple[float, float, float, float]:
    """Quaternion xyzw of a rotation matrix (trace method; fine for the test's rotations)."""
    w = math.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    if w > 1e-6:
        return ((m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w),
                (m[1, 0] - m[0, 1]) / (4 * w), w)
    x = math.sqrt(max(0.0, 1 + m[0, 0] - m[1, 1] - m[2, 2])) / 2
    return (x, (m[0, 1] + m[1, 0]) / (4 * x), (m[0, 2] + m[2, 0]) / (4 * x),
            (m[2, 1] - m[1, 2]) / (4 * x))


def rigid(t: tuple[float, float, float], q: tuple[float, float, float, float]) -> F64:
    m = np.eye(4)
    m[:3, :3] = quat_matrix(q)
    m[:3, 3] = t
    return m


# static mountings: child -> (parent, translation, quaternion)
STATIC: dict[str, tuple[str, tuple[float, float, float], tuple[float, float, float, float]]] = {
    "odom": ("map", MAP_FROM_ODOM, (0.0, 0.0, 0.0, 1.0)),
    "os_sensor": ("base_link", (0.5, 0.0, 1.8), yaw_quat(0.3)),
    "velodyne": ("base_link", (1.2, 0.1, 0.9), roll_quat(0.1)),
    "cam_front_optical_frame": ("base_link", (1.5, 0.0, 1.2), matrix_quat(BODY_FROM_OPTICAL)),
    "cam_left": ("base_link", (0.8, 0.6, 1.3), yaw_quat(math.pi / 2)),
}
FRAME_IDS = {OUSTER: "os_sensor", VELODYNE: "velodyne", FRONT: "cam_front_optical_frame",
             LEFT: "cam_left"}


def odom_from_base(t_ns: int) -> F64:
    s = (t_ns - T0_NS) / 1e9
    return rigid((VELOCITY[0] * s, VELOCITY[1] * s, VELOCITY[2] * s), yaw_quat(YAW_RATE * s))


def world_from_ego(t_ns: int) -> F64:
    """``map <- base_link`` at t, from the analytic motion (what TF interpolation must give)."""
    m: F64 = rigid(*STATIC["odom"][1:]) @ odom_from_base(t_ns)
    return m


def ego_from(frame: str) -> F64:
    return rigid(*STATIC[frame][1:])


def stamp(topic: str, k: int) -> int:
    return T0_NS + k * PERIOD_NS + OFFSETS_NS[topic]


def ouster_points(k: int) -> dict[str, npt.NDArray[Any]]:
    i = np.arange(16)
    x = (5.0 + i * 0.25 + k * 0.01).astype(np.float32)
    y = (-2.0 + i * 0.1).astype(np.float32)
    z = (0.5 * (i % 3)).astype(np.float32)
    x[[3, 11]] = np.nan
    return {"x": x, "y": y, "z": z, "intensity": (i * 50.0).astype(np.float32),
            "t": (i * 1_000_000).astype(np.uint32), "reflectivity": (i * 3).astype(np.uint16),
            "ring": (i // 8).astype(np.uint16), "ambient": np.full(16, 7, np.uint16),
            "range": (i * 1000).astype(np.uint32)}


def velodyne_points(k: int) -> dict[str, npt.NDArray[Any]]:
    i = np.arange(10)
    return {"x": (-3.0 - i * 0.5).astype(np.float32), "y": (1.0 + k * 0.1 + i * 0.0).astype(
        np.float32), "z": (i * 0.2 - 1.0).astype(np.float32),
        "intensity": (i * 25.0).astype(np.float32), "ring": (i % 4).astype(np.uint16),
        "time": (i / 128).astype(np.float32)}


OUSTER_LAYOUT = [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 16, 7), ("t", 20, 6),
                 ("reflectivity", 24, 4), ("ring", 26, 4), ("ambient", 28, 4), ("range", 32, 6)]
VELODYNE_LAYOUT = [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 16, 7), ("ring", 20, 4),
                   ("time", 24, 7)]
_NP = {2: "u1", 4: "u2", 6: "u4", 7: "f4", 8: "f8"}


def pack_cloud(layout: list[tuple[str, int, int]], values: dict[str, npt.NDArray[Any]],
               point_step: int, width: int, height: int, row_pad: int = 0,
               big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    dtype = np.dtype({"names": [n for n, _, _ in layout],
                      "formats": [order + _NP[d] for _, _, d in layout],
                      "offsets": [o for _, o, _ in layout], "itemsize": point_step})
    arr = np.zeros(width * height, dtype=dtype)
    for name, _, _ in layout:
        arr[name] = values[name]
    rows = arr.tobytes()
    if not row_pad:
        return rows
    step = width * point_step
    return b"".join(rows[r * step:(r + 1) * step] + b"\xee" * row_pad for r in range(height))


def front_jpeg(k: int) -> bytes:
    img = Image.new("RGB", (64, 48), (40 * k, 100, 200 - 30 * k))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def left_pixels(k: int) -> npt.NDArray[np.uint8]:
    yy, xx = np.mgrid[0:24, 0:32]
    return np.stack([xx * 8, yy * 10, np.full_like(xx, 50 * k)], axis=-1).astype(np.uint8)


@dataclass
class DriveSpec:
    """Knobs for the bad-input tests (defaults: the drive described above)."""

    sweeps: int = SWEEPS
    camera_offset_ns: dict[str, int] = field(default_factory=dict)
    skip_topics: tuple[str, ...] = ()
    static_override: dict[str, tuple[str, tuple[float, float, float],
                                     tuple[float, float, float, float]]] = field(
        default_factory=dict)
    extra: Callable[[Any, Any, Callable[..., Any]], None] | None = None
    compression: Literal["lz4", "bz2", "message", "storage"] | None = None
    front_k_from: tuple[int, list[float]] | None = None  # (sweep, K): the front camera recalibrated
    velodyne_end_stamped: bool = False  # stamped by its last point, as ROS 1 velodyne_driver does


def front_k(spec: DriveSpec, k: int) -> list[float]:
    """The front camera's K at sweep k."""
    if spec.front_k_from is not None and k >= spec.front_k_from[0]:
        return spec.front_k_from[1]
    return FRONT_K


TF_MSG = "geometry_msgs/TransformStamped[] transforms\n"


class _Out:
    """One writer over the three containers with the matching typestore and serialiser."""

    def __init__(self, path: Path, container: Container, compression: str | None = None) -> None:
        self.ros1 = container == "ros1"
        self.store = get_typestore(Stores.ROS1_NOETIC if self.ros1 else Stores.ROS2_HUMBLE)
        if self.ros1:
            self.store.register(get_types_from_msg(TF_MSG, "tf2_msgs/msg/TFMessage"))
            self.writer: Any = Writer1(path)
            if compression is not None:
                self.writer.set_compression(Writer1.CompressionFormat[compression.upper()])
        else:
            plugin = StoragePlugin.MCAP if container == "mcap" else StoragePlugin.SQLITE3
            self.writer = Writer2(path, version=9, storage_plugin=plugin)
            if compression is not None:
                self.writer.set_compression(CompressionMode[compression.upper()],
                                            CompressionFormat.ZSTD)
        self.writer.open()
        self.conns: dict[str, Any] = {}
        self.t = self.store.types

    def conn(self, topic: str, msgtype: str) -> Any:
        if topic not in self.conns:
            self.conns[topic] = self.writer.add_connection(topic, msgtype, typestore=self.store)
        return self.conns[topic]

    def write(self, topic: str, msgtype: str, log_ns: int, msg: Any) -> None:
        data = (self.store.serialize_ros1(msg, msgtype) if self.ros1
                else self.store.serialize_cdr(msg, msgtype))
        self.writer.write(self.conn(topic, msgtype), log_ns, data)

    def header(self, t_ns: int, frame: str) -> Any:
        time = self.t["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        if self.ros1:
            return self.t["std_msgs/msg/Header"](seq=0, stamp=time, frame_id=frame)
        return self.t["std_msgs/msg/Header"](stamp=time, frame_id=frame)

    def transform(self, t_ns: int, parent: str, child: str, m: F64) -> Any:
        t = self.t
        q = matrix_quat(m[:3, :3])
        return t["geometry_msgs/msg/TransformStamped"](
            header=self.header(t_ns, parent), child_frame_id=child,
            transform=t["geometry_msgs/msg/Transform"](
                translation=t["geometry_msgs/msg/Vector3"](x=m[0, 3], y=m[1, 3], z=m[2, 3]),
                rotation=t["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3])))

    def cloud(self, t_ns: int, frame: str, layout: list[tuple[str, int, int]], data: bytes,
              point_step: int, width: int, height: int, row_step: int,
              big_endian: bool = False) -> Any:
        t = self.t
        fields = [t["sensor_msgs/msg/PointField"](name=n, offset=o, datatype=d, count=1)
                  for n, o, d in layout]
        return t["sensor_msgs/msg/PointCloud2"](
            header=self.header(t_ns, frame), height=height, width=width, fields=fields,
            is_bigendian=big_endian, point_step=point_step, row_step=row_step,
            data=np.frombuffer(data, dtype=np.uint8), is_dense=False)

    def camera_info(self, t_ns: int, frame: str, w: int, h: int, model: str, d: list[float],
                    k: list[float]) -> Any:
        t = self.t
        p = [k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
        arrays = {"d": np.array(d), "k": np.array(k), "r": np.eye(3).reshape(9), "p": np.array(p)}
        if self.ros1:
            arrays = {name.upper(): value for name, value in arrays.items()}
        roi = t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                     do_rectify=False)
        return t["sensor_msgs/msg/CameraInfo"](header=self.header(t_ns, frame), height=h, width=w,
                                              distortion_model=model, binning_x=0, binning_y=0,
                                              roi=roi, **arrays)

    def close(self) -> None:
        self.writer.close()


def write_drive(path: Path, container: Container, spec: DriveSpec | None = None) -> Path:
    """Write the drive; returns what to open (the .bag, the bag folder)."""
    spec = spec or DriveSpec()
    out = _Out(path, container, spec.compression)
    tf_type, cloud_type = "tf2_msgs/msg/TFMessage", "sensor_msgs/msg/PointCloud2"
    events: list[tuple[int, str, str, Any]] = []
    static = {**STATIC, **spec.static_override}
    t_static = T0_NS - 1_000_000_000
    events.append((t_static, "/tf_static", tf_type, out.t[tf_type](transforms=[
        out.transform(t_static, parent, child, rigid(tr, q))
        for child, (parent, tr, q) in static.items()])))
    for j in range(-2, 2 * spec.sweeps + 4):
        t_ns = T0_NS + j * 50_000_000
        msg = out.t[tf_type](transforms=[out.transform(t_ns, "odom", "base_link",
                                                       odom_from_base(t_ns))])
        events.append((t_ns + 1_000_000, "/tf", tf_type, msg))
    for k in range(spec.sweeps):
        ts = stamp(OUSTER, k)
        data = pack_cloud(OUSTER_LAYOUT, ouster_points(k), 48, 8, 2, row_pad=16)
        events.append((ts + LATENCY_NS, OUSTER, cloud_type,
                       out.cloud(ts, "os_sensor", OUSTER_LAYOUT, data, 48, 8, 2, 8 * 48 + 16)))
        ts = stamp(VELODYNE, k) + (VELODYNE_LAST_NS if spec.velodyne_end_stamped else 0)
        data = pack_cloud(VELODYNE_LAYOUT, velodyne_points(k), 32, 10, 1)
        events.append((ts + LATENCY_NS, VELODYNE, cloud_type,
                       out.cloud(ts, "velodyne", VELODYNE_LAYOUT, data, 32, 10, 1, 320)))
        ts = stamp(FRONT, k) + spec.camera_offset_ns.get(FRONT, 0)
        jpeg = front_jpeg(k)
        events.append((ts + LATENCY_NS, FRONT, "sensor_msgs/msg/CompressedImage",
                       out.t["sensor_msgs/msg/CompressedImage"](
                           header=out.header(ts, "cam_front_optical_frame"), format="jpeg",
                           data=np.frombuffer(jpeg, dtype=np.uint8))))
        events.append((ts + LATENCY_NS, FRONT_INFO, "sensor_msgs/msg/CameraInfo",
                       out.camera_info(ts, "cam_front_optical_frame", 64, 48, "plumb_bob",
                                       PLUMB_BOB_D, front_k(spec, k))))
        ts = stamp(LEFT, k) + spec.camera_offset_ns.get(LEFT, 0)
        pixels = left_pixels(k)
        events.append((ts + LATENCY_NS, LEFT, "sensor_msgs/msg/Image",
                       out.t["sensor_msgs/msg/Image"](
                           header=out.header(ts, "cam_left"), height=24, width=32,
                           encoding="rgb8", is_bigendian=0, step=96,
                           data=pixels.reshape(-1))))
        events.append((ts + LATENCY_NS, LEFT_INFO, "sensor_msgs/msg/CameraInfo",
                       out.camera_info(ts, "cam_left", 32, 24, "rational_polynomial",
                                       RATIONAL_D, LEFT_K)))
    events.append((T0_NS, "/diagnostics", "std_msgs/msg/String",
                   out.t["std_msgs/msg/String"](data="all good")))
    for log_ns, topic, msgtype, msg in sorted(events, key=lambda e: e[0]):
        if topic not in spec.skip_topics:
            out.write(topic, msgtype, log_ns, msg)
    if spec.extra is not None:
        spec.extra(out.writer, out.store, out.write)
    out.close()
    return path
