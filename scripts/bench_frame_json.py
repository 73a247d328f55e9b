"""Benchmark the split_base64 frame codec on one 120,000-point frame with 6 camera entries.

Run by hand: ``.venv/bin/python scripts/bench_frame_json.py``. Measures in the same run:
``encode_frame`` against plain ``base64.b64encode`` of the same point bytes (target <= 2x),
``decode_frame``, the JSON size, and scale-lidar-io 1.2.5's legacy ``LidarFrame.to_json`` for the
same frame when that package imports (spec §4: about 0.07 s and 9 MB).
"""

from __future__ import annotations

import base64
import importlib
import os
import platform
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable
from importlib import metadata

import numpy as np

from sfs_kit.codecs.frame_json import FrameImage, LidarFrameData, decode_frame, encode_frame

N_POINTS = 120_000
REPEATS = 15


def _median_s(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_bench_frame(n: int = N_POINTS) -> LidarFrameData:
    """A frame like a real sweep: float32 points, intensities, 6 cameras with presigned URLs."""
    rng = np.random.default_rng(0)
    points = rng.normal(0.0, 40.0, (n, 3)).astype(np.float32)
    intensities = rng.random(n, dtype=np.float32)
    url = (
        "https://bucket.s3.us-west-2.amazonaws.com/scenes/s1/cam{k}/000123.jpg"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-west-2"
        "%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=604800"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "f" * 64
    )
    images = tuple(
        FrameImage(
            image_url=url.format(k=k),
            position_m=(1.2 * k, -0.4, 1.6),
            heading_quat_xyzw=(-0.5, 0.5, -0.5, 0.5),
            camera_model="brown_conrady",
            fx=1266.4,
            fy=1266.4,
            cx=816.3,
            cy=491.5,
            k1=-0.1,
            k2=0.01,
            timestamp_ns=1_700_000_000_050_000_000 + k,
        )
        for k in range(6)
    )
    return LidarFrameData(
        points_world=points,
        device_position_m=(412.25, -1203.5, 2.1),
        device_heading_quat_xyzw=(0.0, 0.0, 0.2588190451, 0.9659258263),
        timestamp_ns=1_700_000_000_000_000_000,
        intensities=intensities,
        images=images,
    )


def _legacy_to_json(frame: LidarFrameData) -> Callable[[], str] | None:
    """A callable running scale-lidar-io's to_json on the same frame, or None if unavailable."""
    added: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, attrs in (("open3d", {}), ("laspy.file", {"File": object})):
                try:
                    importlib.import_module(name)
                except ImportError:  # open3d needs libusb; laspy 2 has no laspy.file
                    module = types.ModuleType(name)
                    module.__dict__.update(attrs)
                    sys.modules[name] = module
                    added.append(name)
            try:
                importlib.import_module("google.protobuf.json_format")
            except ImportError:
                helper = types.ModuleType("scale_lidar_io.protobuf_helper")
                helper.__dict__["create_scene_from_protobufs"] = None  # protobuf input unused
                sys.modules["scale_lidar_io.protobuf_helper"] = helper
            lidar_io = importlib.import_module("scale_lidar_io")
            if "mat" not in np.__dict__:
                np.mat = np.asmatrix  # type: ignore[attr-defined]  # NumPy 1 API used by Transform
            scene = lidar_io.LidarScene()
            legacy_frame = scene.get_frame(0)
            for k, image in enumerate(frame.images):
                camera = scene.get_camera(f"cam{k}")
                camera.calibrate(
                    K=np.array([[image.fx, 0, image.cx], [0, image.fy, image.cy], [0, 0, 1]]),
                    D=[image.k1, image.k2, image.p1, image.p2, image.k3, image.k4, 0.0, 0.0],
                )
                legacy_frame.get_image(f"cam{k}").load_file(f"cam{k}.jpg")
            n = len(frame.points_world)
            intensities = np.zeros(n) if frame.intensities is None else frame.intensities
            legacy_frame.points = np.column_stack(
                [frame.points_world, intensities, np.zeros((n, 2))]
            )
    except Exception as err:  # noqa: BLE001  (the reference is optional; report why it is missing)
        print(f"scale-lidar-io to_json not available: {type(err).__name__}: {err}")
        return None
    finally:
        for name in added:
            del sys.modules[name]

    def run() -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(legacy_frame.to_json(base_url="https://bucket.invalid/scene"))

    return run


def bench_frame_encode(*, include_legacy: bool = True) -> dict[str, float]:
    """Medians in seconds and sizes in bytes for one 120k-point frame; used by bench_sfs.py."""
    frame = make_bench_frame()
    raw_points = frame.points_world.tobytes()
    intensities = frame.intensities
    assert intensities is not None
    raw_all = raw_points + intensities.tobytes()
    encoded = encode_frame(frame)
    results = {
        "points": float(N_POINTS),
        "b64encode_points_s": _median_s(lambda: base64.b64encode(raw_points)),
        "b64encode_points_and_intensities_s": _median_s(lambda: base64.b64encode(raw_all)),
        "encode_s": _median_s(lambda: encode_frame(frame)),
        "decode_s": _median_s(lambda: decode_frame(encoded)),
        "json_bytes": float(len(encoded)),
    }
    results["encode_ratio_vs_b64_points"] = results["encode_s"] / results["b64encode_points_s"]
    results["encode_ratio_vs_b64_all"] = (
        results["encode_s"] / results["b64encode_points_and_intensities_s"]
    )
    if include_legacy:
        legacy = _legacy_to_json(frame)
        if legacy is not None:
            results["legacy_to_json_s"] = _median_s(legacy, repeats=5)
            results["legacy_json_bytes"] = float(len(legacy().encode()))
            results["legacy_ratio_vs_encode"] = results["legacy_to_json_s"] / results["encode_s"]
    return results


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    print(
        f"cpus={os.cpu_count()} python={platform.python_version()} numpy={np.__version__} "
        f"boto3={_version('boto3')} scale-lidar-io={_version('scale-lidar-io')}"
    )
    r = bench_frame_encode()
    print(f"frame: {int(r['points'])} points, 6 images, JSON {r['json_bytes'] / 1e6:.2f} MB")
    print(f"base64.b64encode(points bytes)          median {r['b64encode_points_s'] * 1e3:8.2f} ms")
    print(
        "base64.b64encode(points+intensities)    median "
        f"{r['b64encode_points_and_intensities_s'] * 1e3:8.2f} ms"
    )
    print(
        f"encode_frame                            median {r['encode_s'] * 1e3:8.2f} ms  "
        f"ratio {r['encode_ratio_vs_b64_points']:.2f}x vs points "
        f"({r['encode_ratio_vs_b64_all']:.2f}x vs all arrays); target <= 2x"
    )
    print(f"decode_frame                            median {r['decode_s'] * 1e3:8.2f} ms")
    if "legacy_to_json_s" in r:
        print(
            f"scale-lidar-io to_json (legacy)         median {r['legacy_to_json_s'] * 1e3:8.2f} ms"
            f"  JSON {r['legacy_json_bytes'] / 1e6:.2f} MB  "
            f"({r['legacy_ratio_vs_encode']:.1f}x slower than encode_frame)"
        )


if __name__ == "__main__":
    main()
