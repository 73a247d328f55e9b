"""The recording decoders on their own: PointCloud2 field tables, TF lookups, CameraInfo, images."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sfs_kit.capture.recording.camera import camera_intrinsics, image_from_message
from sfs_kit.capture.recording.pointcloud2 import CloudMapping, PointTime, decode_cloud
from sfs_kit.capture.recording.tf import TfBuffer
from sfs_kit.errors import InputError

_CODES = {"i1": 1, "u1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "f4": 7, "f8": 8}


def _cloud(columns: dict[str, np.ndarray], *, step: int | None = None, big: bool = False,
           width: int | None = None, height: int = 1, row_pad: int = 0) -> SimpleNamespace:
    """A PointCloud2-like message with the columns packed at increasing offsets."""
    order = ">" if big else "<"
    names, formats, offsets, fields, offset = [], [], [], [], 0
    for name, values in columns.items():
        kind = values.dtype.str[1:]
        names.append(name)
        formats.append(order + kind)
        offsets.append(offset)
        fields.append(SimpleNamespace(name=name, offset=offset, datatype=_CODES[kind], count=1))
        offset += values.dtype.itemsize + 2  # 2 bytes of padding after each field
    step = step or offset
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": step})
    n = len(next(iter(columns.values())))
    arr = np.zeros(n, dtype=dtype)
    for name, values in columns.items():
        arr[name] = values
    width = width or n // height
    raw = arr.tobytes()
    row = width * step
    data = b"".join(raw[r * row:(r + 1) * row] + b"\x00" * row_pad for r in range(height))
    return SimpleNamespace(fields=fields, point_step=step, is_bigendian=big, width=width,
                           height=height, row_step=row + row_pad,
                           data=np.frombuffer(data, dtype=np.uint8))


def _xyz(n: int, dtype: str = "f4") -> dict[str, np.ndarray]:
    i = np.arange(n, dtype=np.float64)
    return {"x": (i * 0.5).astype(dtype), "y": (-i).astype(dtype), "z": (i + 0.25).astype(dtype)}


@pytest.mark.parametrize("big", [False, True])
def test_field_table_offsets_padding_and_byte_order(big: bool) -> None:
    cols = {**_xyz(6), "intensity": np.arange(6, dtype=np.uint8) * 40}
    pts = decode_cloud(_cloud(cols, big=big), stamp_us=0, where="t")
    np.testing.assert_array_equal(pts.positions_m, np.stack([cols["x"], cols["y"], cols["z"]], 1))
    assert pts.intensity is not None
    assert pts.intensity.tolist() == cols["intensity"].tolist()
    assert pts.time_us is None


def test_organised_cloud_with_row_padding_and_float64_positions() -> None:
    cols = _xyz(12, "f8")
    pts = decode_cloud(_cloud(cols, height=3, row_pad=8), stamp_us=0, where="t")
    assert pts.positions_m.dtype == np.float64
    np.testing.assert_array_equal(pts.positions_m[:, 0], cols["x"])


@pytest.mark.parametrize(("kind", "height", "row_pad"), [("f4", 1, 0), ("f8", 1, 0), ("f4", 2, 8)])
def test_consecutive_xyz_are_a_view_of_the_points_not_a_copy(kind: str, height: int,
                                                               row_pad: int) -> None:
    """x, y, z back to back (every driver's layout) come out as a strided view of the cloud's
    points, so posing reads them once; other layouts (the tests above) are copied."""
    n, size = 6, np.dtype(kind).itemsize
    step = 3 * size + 8  # x, y, z, a float32 intensity, 4 bytes of padding
    dtype = np.dtype({"names": ["x", "y", "z", "intensity"], "formats": [kind] * 3 + ["<f4"],
                      "offsets": [0, size, 2 * size, 3 * size], "itemsize": step})
    arr = np.zeros(n, dtype=dtype)
    for name, values in _xyz(n, kind).items():
        arr[name] = values
    arr["intensity"] = np.arange(n) * 10
    width, raw = n // height, arr.tobytes()
    data = b"".join(raw[r * width * step:(r + 1) * width * step] + b"\x00" * row_pad
                    for r in range(height))
    fields = [SimpleNamespace(name=f, offset=o, datatype=_CODES[k], count=1)
              for f, o, k in (("x", 0, kind), ("y", size, kind), ("z", 2 * size, kind),
                              ("intensity", 3 * size, "f4"))]
    msg = SimpleNamespace(fields=fields, point_step=step, is_bigendian=False, width=width,
                          height=height, row_step=width * step + row_pad,
                          data=np.frombuffer(data, dtype=np.uint8))
    pts = decode_cloud(msg, stamp_us=0, where="t", mapping=CloudMapping(intensity_max=255.0))
    want = np.stack([arr["x"], arr["y"], arr["z"]], axis=1)
    np.testing.assert_array_equal(pts.positions_m, want)
    assert pts.positions_m.dtype == np.dtype(kind)
    assert pts.positions_m.shape == (n, 3)
    assert np.shares_memory(pts.positions_m, msg.data) == (row_pad == 0)
    assert pts.intensity is not None
    assert pts.intensity.tolist() == [0, 10, 20, 30, 40, 50]


@pytest.mark.parametrize(
    ("field", "values", "want_us"),
    [
        ("t", np.array([0, 1_500, 2_000_000], np.uint32), [1000, 1001, 3000]),  # Ouster ns
        ("time", np.array([0.0, 0.0015, 0.002], np.float64), [1000, 2500, 3000]),  # Velodyne s
        ("timestamp", np.array([1.0, 1.5, 2.0]), [1_000_000, 1_500_000, 2_000_000]),  # Hesai s
        ("offset_time", np.array([0, 7_000, 2_000_000], np.uint32), [1000, 1007, 3000]),  # Livox
    ],
)
def test_per_point_time_of_the_common_drivers(field: str, values: np.ndarray,
                                              want_us: list[int]) -> None:
    pts = decode_cloud(_cloud({**_xyz(3), field: values}), stamp_us=1000, where="t")
    assert pts.time_us is not None
    assert pts.time_us.tolist() == want_us


def test_a_time_field_of_an_unexpected_type_names_topic_and_field() -> None:
    msg = _cloud({**_xyz(3), "t": np.array([1.0, 2.0, 3.0], np.float32)})
    with pytest.raises(InputError, match=r"/lidar at 5 ns: per-point time field 't' is f4") as e:
        decode_cloud(msg, stamp_us=0, where="/lidar at 5 ns")
    assert e.value.field == "t"
    # the user's mapping reads it instead
    mapping = CloudMapping(point_time=PointTime("t", "ms", "frame"))
    pts = decode_cloud(msg, stamp_us=0, where="/lidar", mapping=mapping)
    assert pts.time_us is not None
    assert pts.time_us.tolist() == [1000, 2000, 3000]


def test_missing_axis_unknown_datatype_and_short_data() -> None:
    with pytest.raises(InputError, match="no 'z' field"):
        decode_cloud(_cloud({"x": np.zeros(2, "f4"), "y": np.zeros(2, "f4")}), stamp_us=0,
                     where="t")
    msg = _cloud(_xyz(2))
    msg.fields[1].datatype = 9
    with pytest.raises(InputError, match="datatype 9"):
        decode_cloud(msg, stamp_us=0, where="t")
    msg = _cloud(_xyz(4))
    msg.data = msg.data[:-3]
    with pytest.raises(InputError, match=r"needed for"):
        decode_cloud(msg, stamp_us=0, where="t")
    msg = _cloud(_xyz(2))
    msg.fields[0].offset = msg.point_step - 2
    with pytest.raises(InputError, match="does not fit in point_step"):
        decode_cloud(msg, stamp_us=0, where="t")


def test_float_intensity_needs_a_scale_unless_velodyne_layout() -> None:
    cols = {**_xyz(3), "intensity": np.array([0.0, 100.0, 255.0], np.float32)}
    with pytest.raises(InputError, match="intensity_max"):
        decode_cloud(_cloud(cols), stamp_us=0, where="t")
    velodyne = {**cols, "ring": np.zeros(3, np.uint16), "time": np.zeros(3, np.float32)}
    pts = decode_cloud(_cloud(velodyne), stamp_us=0, where="t")
    assert pts.intensity is not None
    assert pts.intensity.tolist() == [0, 100, 255]
    scaled = decode_cloud(_cloud(cols), stamp_us=0, where="t",
                          mapping=CloudMapping(intensity_max=510.0))
    assert scaled.intensity is not None
    assert scaled.intensity.tolist() == [0, 50, 128]


@settings(max_examples=60, deadline=None)
@given(step=st.integers(0, 64), offsets=st.lists(st.integers(-4, 70), min_size=3, max_size=3),
       types=st.lists(st.integers(0, 10), min_size=3, max_size=3), width=st.integers(0, 5),
       height=st.integers(0, 3), size=st.integers(0, 400), big=st.booleans())
def test_hostile_field_tables_raise_input_error_or_decode(
        step: int, offsets: list[int], types: list[int], width: int, height: int, size: int,
        big: bool) -> None:
    fields = [SimpleNamespace(name=n, offset=o, datatype=t, count=1)
              for n, o, t in zip("xyz", offsets, types, strict=True)]
    msg = SimpleNamespace(fields=fields, point_step=step, is_bigendian=big, width=width,
                          height=height, row_step=width * step,
                          data=np.zeros(size, np.uint8))
    try:
        pts = decode_cloud(msg, stamp_us=0, where="fuzz")
    except InputError:
        return
    assert pts.positions_m.shape == (width * height, 3)


def _yaw(a: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(a / 2), math.cos(a / 2))


def test_tf_slerp_between_samples_and_static_chain() -> None:
    tf = TfBuffer("rec")
    tf.add("map", "odom", 0, (10.0, 0.0, 0.0), _yaw(0.0), static=True, topic="/tf_static")
    tf.add("odom", "base_link", 0, (0.0, 0.0, 0.0), _yaw(0.0), static=False, topic="/tf")
    tf.add("odom", "base_link", 100, (2.0, 4.0, 0.0), _yaw(1.0), static=False, topic="/tf")
    tf.add("base_link", "lidar", 0, (1.0, 0.0, 0.0), _yaw(0.0), static=True, topic="/tf_static")
    m = tf.lookup("map", "lidar", np.array([25]), what="test")[0]
    yaw = 0.25
    np.testing.assert_allclose(m[:3, 3], [10.5 + math.cos(yaw), 1.0 + math.sin(yaw), 0.0])
    np.testing.assert_allclose(m[:2, :2], [[math.cos(yaw), -math.sin(yaw)],
                                           [math.sin(yaw), math.cos(yaw)]], atol=1e-12)
    inverse = tf.lookup("lidar", "map", np.array([25]), what="test")[0]
    np.testing.assert_allclose(inverse @ m, np.eye(4), atol=1e-12)
    assert tf.is_static("base_link", "lidar")
    assert not tf.is_static("map", "lidar")


def test_tf_errors_name_the_frames_and_the_time() -> None:
    tf = TfBuffer("rec.bag")
    tf.add("odom", "base_link", 0, (0.0, 0.0, 0.0), _yaw(0.0), static=False, topic="/tf")
    tf.add("odom", "base_link", 100, (1.0, 0.0, 0.0), _yaw(0.0), static=False, topic="/tf")
    with pytest.raises(InputError, match=r"'odom' -> 'base_link' \(/tf\) spans \[0, 100\] ns but "
                                         r"the ego pose needs it at 150 ns"):
        tf.lookup("odom", "base_link", np.array([50, 150]), what="the ego pose")
    with pytest.raises(InputError, match=r"no TF path from frame 'camera' to frame 'odom'.*at 7"):
        tf.lookup("odom", "camera", np.array([7]), what="x")
    with pytest.raises(InputError, match="already has the dynamic parent 'odom'"):
        tf.add("map", "base_link", 5, (0.0, 0.0, 0.0), _yaw(0.0), static=False, topic="/tf")


def _info(model: str, d: list[float], **more: object) -> SimpleNamespace:
    k = [400.0, 0.5, 320.0, 0.0, 410.0, 240.0, 0.0, 0.0, 1.0]
    p = [390.0, 0.0, 321.0, 0.0, 0.0, 395.0, 241.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    values: dict[str, object] = {"k": k, "p": p, "d": d, "distortion_model": model,
                                 "width": 640, "height": 480, **more}
    return SimpleNamespace(**values)


def test_camera_info_models() -> None:
    eq = camera_intrinsics(_info("equidistant", [0.1, 0.2, 0.3, 0.4]), where="i")
    assert (eq.distortion_model, eq.distortion_params) == ("fisheye", (0.1, 0.2, 0.3, 0.4))
    assert (eq.fx, eq.fy, eq.cx, eq.cy, eq.skew) == (400.0, 410.0, 320.0, 240.0, 0.5)
    none = camera_intrinsics(_info("", []), where="i")
    assert none.distortion_model is None
    rect = camera_intrinsics(_info("plumb_bob", [0.1, 0, 0, 0, 0]), where="i", rectified=True)
    assert (rect.fx, rect.cx, rect.distortion_model) == (390.0, 321.0, None)
    # ROS 1 spells the arrays in capitals
    ros1 = SimpleNamespace(K=[400.0, 0, 320.0, 0, 410.0, 240.0, 0, 0, 1], P=[0.0] * 12,
                           D=[0.1, 0.2, 0.0, 0.0, 0.3], distortion_model="plumb_bob",
                           width=640, height=480)
    assert camera_intrinsics(ros1, where="i").distortion_params[:5] == (0.1, 0.2, 0.0, 0.0, 0.3)


def test_camera_info_unknown_model_and_bad_coefficients() -> None:
    with pytest.raises(InputError, match="distortion_model 'double_sphere' has no SFS"):
        camera_intrinsics(_info("double_sphere", [0.1]), where="/cam/info at 3 ns")
    with pytest.raises(InputError, match="needs 8 D coefficients, found 5"):
        camera_intrinsics(_info("rational_polynomial", [0.1] * 5), where="i")
    with pytest.raises(InputError, match="uncalibrated"):
        camera_intrinsics(_info("plumb_bob", [0.0] * 5, k=[0.0] * 9), where="i")


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8", "mono16"])
def test_raw_images_are_encoded_once_to_jpeg(encoding: str) -> None:
    h, w = 8, 12
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = 200  # red
    if encoding == "rgb8":
        data, step = rgb.tobytes(), w * 3
    elif encoding == "bgr8":
        data, step = rgb[..., ::-1].tobytes(), w * 3
    elif encoding == "mono8":
        data, step = np.full((h, w), 90, np.uint8).tobytes(), w
    else:
        data, step = np.full((h, w), 90 * 256, "<u2").tobytes(), w * 2
    msg = SimpleNamespace(encoding=encoding, width=w, height=h, step=step, is_bigendian=0,
                          data=np.frombuffer(data, np.uint8))
    loaded = image_from_message(msg, "sensor_msgs/msg/Image", where="i")
    assert (loaded.format, loaded.width, loaded.height) == ("jpeg", w, h)
    pixels = np.asarray(Image.open(io.BytesIO(loaded.content)).convert("RGB")).astype(int)
    want = rgb if encoding in ("rgb8", "bgr8") else np.full((h, w, 3), 90)
    assert np.abs(pixels - want).mean() < 6


def test_unsupported_encoding_and_short_image() -> None:
    msg = SimpleNamespace(encoding="yuv422", width=2, height=2, step=4, is_bigendian=0,
                          data=np.zeros(8, np.uint8))
    with pytest.raises(InputError, match="encoding 'yuv422'"):
        image_from_message(msg, "sensor_msgs/msg/Image", where="i")
    msg = SimpleNamespace(encoding="rgb8", width=4, height=4, step=12, is_bigendian=0,
                          data=np.zeros(20, np.uint8))
    with pytest.raises(InputError, match="needs 48 bytes, found 20"):
        image_from_message(msg, "sensor_msgs/msg/Image", where="i")
    bad = SimpleNamespace(format="jpeg", data=np.frombuffer(b"not a jpeg", np.uint8))
    with pytest.raises(InputError):
        image_from_message(bad, "sensor_msgs/msg/CompressedImage", where="i")


def test_user_mapping_names_the_intensity_field() -> None:
    cols = {**_xyz(3), "signal": np.array([0, 1000, 2000], np.uint16)}
    msg = _cloud(cols)
    assert decode_cloud(msg, stamp_us=0, where="t").intensity is None  # no known name
    mapping = CloudMapping(intensity_field="signal", intensity_max=2000.0)
    pts = decode_cloud(msg, stamp_us=0, where="t", mapping=mapping)
    assert pts.intensity is not None
    assert pts.intensity.tolist() == [0, 128, 255]
    with pytest.raises(InputError, match="intensity field 'nope' is not in the cloud"):
        decode_cloud(msg, stamp_us=0, where="t", mapping=CloudMapping(intensity_field="nope"))
