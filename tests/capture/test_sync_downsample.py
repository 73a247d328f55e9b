"""Timestamp matching, pose sampling, voxel/budget downsampling and channel conversions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sfs_kit.capture._channels import intensity_to_uint8, point_time_to_us
from sfs_kit.capture.downsample import budget_indices, downsample_indices, voxel_indices
from sfs_kit.capture.sync import check_increasing, match_nearest, sample_poses
from sfs_kit.errors import InputError


def test_match_nearest_picks_the_closest_and_reports_the_gap() -> None:
    ref = np.array([0, 100, 200], dtype=np.int64)
    m = match_nearest(ref, np.array([-5, 40, 60, 150, 260], dtype=np.int64))
    assert m.indices.tolist() == [0, 0, 1, 1, 2]
    assert m.gap_us.tolist() == [5, 40, 40, 50, 60]
    with pytest.raises(InputError, match="empty reference list"):
        match_nearest(np.zeros(0, dtype=np.int64), ref)


def test_sample_poses_interpolates_and_names_frames_outside() -> None:
    ts = np.array([0, 100], dtype=np.int64)
    pos = np.array([[0.0, 0, 0], [10.0, 0, 0]])
    half = math.pi / 4
    quat = np.array([[0, 0, 0, 1.0], [0, 0, math.sin(half), math.cos(half)]])  # yaw 0 -> 90 deg
    s = sample_poses(ts, pos, quat, np.array([50], dtype=np.int64), names=["f0"], source="p.csv")
    np.testing.assert_allclose(s.positions_m[0], [5, 0, 0])
    np.testing.assert_allclose(s.quat_xyzw[0], [0, 0, math.sin(math.pi / 8), math.cos(math.pi / 8)])
    with pytest.raises(
        InputError,
        match=r"p\.csv: frame b at 130 us has no pose: the poses span \[0, 100\] us \(tolerance 20",
    ):
        sample_poses(
            ts,
            pos,
            quat,
            np.array([110, 130], dtype=np.int64),
            names=["frame a", "frame b"],
            source="p.csv",
            tolerance_us=20,
        )
    end = sample_poses(
        ts, pos, quat, np.array([110], dtype=np.int64), names=["a"], source="p", tolerance_us=20
    )
    np.testing.assert_allclose(end.positions_m[0], [10, 0, 0])


def test_check_increasing_messages() -> None:
    check_increasing([1, 2, 3], source="s")
    with pytest.raises(
        InputError,
        match=r"s: timestamp of entry 2 \(1 us\) goes backwards from the previous one \(3 us\)",
    ):
        check_increasing([2, 3, 1], source="s")


def test_voxel_keeps_first_point_per_voxel_in_scan_order() -> None:
    pts = np.array(
        [[0.1, 0, 0], [5.2, 0, 0], [0.2, 0.1, 0], [5.9, 0.5, 0], [-0.5, 0, 0]], np.float32
    )
    assert voxel_indices(pts, 1.0).tolist() == [0, 1, 4]
    assert voxel_indices(np.zeros((0, 3), np.float32), 1.0).tolist() == []
    with pytest.raises(InputError, match=r"voxel_size_m must be a finite number > 0, got 0\.0\."):
        voxel_indices(pts, 0.0)
    bad = pts.copy()
    bad[1, 0] = np.nan
    with pytest.raises(InputError, match="contain NaN or infinity; cannot voxelise"):
        voxel_indices(bad, 1.0)


def test_budget_is_even_and_deterministic() -> None:
    assert budget_indices(10, 4).tolist() == [0, 2, 5, 7]
    assert budget_indices(3, 5).tolist() == [0, 1, 2]
    with pytest.raises(InputError, match=r"max_points_per_frame must be >= 1, got 0\."):
        budget_indices(3, 0)
    pts = np.random.default_rng(0).uniform(0, 10, (1000, 3))
    keep = downsample_indices(pts, voxel_size_m=2.0, max_points=50)
    assert keep is not None
    assert len(keep) == 50
    assert np.all(np.diff(keep) > 0)
    assert downsample_indices(pts) is None


def test_intensity_rules() -> None:
    assert intensity_to_uint8(
        np.array([0.0, 0.5, 1.0]), source="s", intensity_max=1.0
    ).tolist() == [0, 128, 255]
    assert intensity_to_uint8(np.array([0, 200], np.int32), source="s").tolist() == [0, 200]
    assert intensity_to_uint8(
        np.array([0, 65535], np.float32), source="s", intensity_range=(0.0, 65535.0)
    ).tolist() == [0, 255]
    assert intensity_to_uint8(np.array([3], np.uint8), source="s").tolist() == [3]
    with pytest.raises(
        InputError,
        match=r"s: intensity values span \[0\.0, 300\.0\], outside \[0, 255\]; declare",
    ):
        intensity_to_uint8(np.array([0, 300], np.uint16), source="s")
    with pytest.raises(InputError, match=r"outside \[0, 100\.0\] \(intensity_max\)"):
        intensity_to_uint8(np.array([0.0, 300.0]), source="s", intensity_max=100.0)
    with pytest.raises(InputError, match=r"intensity_max must be > 0, got -1\.0\."):
        intensity_to_uint8(np.array([0.0]), source="s", intensity_max=-1.0)
    with pytest.raises(InputError, match=r"s: intensity contains NaN or infinity\."):
        intensity_to_uint8(np.array([np.nan]), source="s", intensity_max=1.0)


@pytest.mark.parametrize("values", [[0.0, 0.2, 0.9], [0.0, 40.0, 200.0], []])
def test_float_intensity_needs_a_declared_scale(values: list[float]) -> None:
    # a dark frame of a 0..255 sensor looks like 0..1: the scale is never read off one frame
    with pytest.raises(InputError, match=r"s: float intensity \(float32\) has no declared "
                                         r"scale; set intensity_max for this sensor \(the raw "
                                         r"value that becomes 255\): it is never inferred from "
                                         r"one frame's values\.") as caught:
        intensity_to_uint8(np.array(values, np.float32), source="s")
    assert caught.value.field == "intensity_max"
    dark = intensity_to_uint8(np.array([0.0, 0.2, 0.9]), source="s", intensity_max=255.0)
    assert dark.tolist() == [0, 0, 1]  # the same sensor's dark frame keeps its scale


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "uint16", "int32", "bool"])
@pytest.mark.parametrize("intensity_max", [None, 255.0, 1.0, 100.0])
def test_intensity_equals_the_float64_formula(dtype: str, intensity_max: float | None) -> None:
    rng = np.random.default_rng(5)
    top = intensity_max if intensity_max is not None else 255.0
    values = (rng.random(3001) * top).astype(dtype)
    if dtype == "float32" and intensity_max == 255.0:  # ties round to even
        values = np.concatenate([values, np.array([0.5, 254.5, 2.5], np.float32)])
    if values.dtype.kind == "f" and intensity_max is None:
        with pytest.raises(InputError, match=r"float intensity .* has no declared scale"):
            intensity_to_uint8(values, source="s")
        return
    v = values.astype(np.float64)
    if intensity_max is not None:
        expected = np.rint(v * (255.0 / intensity_max)).astype(np.uint8)
    else:
        expected = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    got = intensity_to_uint8(values, source="s", intensity_max=intensity_max)
    assert got.dtype == np.uint8
    assert np.array_equal(got, expected)


def test_intensity_checks_float32_extremes_without_overflow() -> None:
    big = np.array([3e38, 3e38], np.float32)  # min + max overflows float32, not the check
    with pytest.raises(InputError, match=r"s: intensity values span \[3\.0000000054977558e\+38, "):
        intensity_to_uint8(big, source="s", intensity_max=255.0)
    with pytest.raises(InputError, match=r"s: intensity contains NaN or infinity\."):
        intensity_to_uint8(np.array([0.0, -np.inf], np.float32), source="s", intensity_max=9.0)
    assert intensity_to_uint8(np.zeros(0, np.float32), source="s", intensity_max=1.0).shape == (0,)


def test_point_time_float_path_equals_the_float64_formula() -> None:
    values = np.random.default_rng(6).random(5000).astype(np.float32) * 0.1
    expected = np.floor(values.astype(np.float64) * 1e6 + 1e-6).astype(np.int64) + 77
    got = point_time_to_us(values, unit="s", reference="frame", frame_timestamp_us=77, source="s")
    assert np.array_equal(got, expected)
    assert not np.shares_memory(got, values)


def test_point_time_too_large_for_int64_us() -> None:
    with pytest.raises(
        InputError,
        match=r"s: per-point times do not fit int64 microseconds once scaled from 's' "
        r"\(largest magnitude 1e\+300\)\.",
    ):
        point_time_to_us(
            np.array([0.0, -1e300]), unit="s", reference="frame", frame_timestamp_us=0, source="s"
        )
    with pytest.raises(InputError, match=r"do not fit int64 microseconds once scaled from 'ms'"):
        point_time_to_us(
            np.array([1e16]), unit="ms", reference="absolute", frame_timestamp_us=0, source="s"
        )


def test_point_time_units_and_reference() -> None:
    f = point_time_to_us(
        np.array([0.0, 0.29]), unit="s", reference="frame", frame_timestamp_us=1000, source="s"
    )
    assert f.tolist() == [1000, 291000]
    ns = point_time_to_us(
        np.array([1_500_999], np.int64),
        unit="ns",
        reference="absolute",
        frame_timestamp_us=0,
        source="s",
    )
    assert ns.tolist() == [1500]
    ms = point_time_to_us(
        np.array([2], np.int32), unit="ms", reference="frame", frame_timestamp_us=5, source="s"
    )
    assert ms.tolist() == [2005]
    with pytest.raises(InputError, match=r"s: per-point time contains NaN or infinity\."):
        point_time_to_us(
            np.array([np.inf]), unit="s", reference="frame", frame_timestamp_us=0, source="s"
        )
