"""The compiled posing kernel (sfs_kit/_native.c) against the numpy column formula, bit for bit,
and the helper thread that reads array figures while a file is written."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest

from sfs_kit.models import geometry
from sfs_kit.models._array_facts import ArrayFacts, MinMaxAside
from sfs_kit.models.geometry import pose_to_matrix, rotate_vectors, transform_points

_SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-40, 3.4e38, -3.4e38, 1e7, 0.1]


@pytest.fixture
def numpy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy path, as on an install built without a C compiler."""
    monkeypatch.setattr(geometry, "_native", None)


def _clouds() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    for trial in range(24):
        n = int(rng.integers(1, 40_000))
        scale = 10.0 ** rng.uniform(-3, 6)
        p = rng.normal(0, scale, (n, 3)).astype(np.float32)
        p.reshape(-1)[rng.integers(0, p.size, 12)] = rng.choice(_SPECIALS, 12)
        q = rng.normal(size=4)
        t = rng.normal(0, 10.0 ** rng.uniform(0, 7), 3)
        yield p, pose_to_matrix([*t, *(q / np.linalg.norm(q))])
        if trial % 4 == 0:
            yield p, np.eye(4)


def _numpy_result(p: np.ndarray, m: np.ndarray, *, translate: bool) -> np.ndarray:
    with mock.patch.object(geometry, "_native", None), np.errstate(all="ignore"):  # inf * 0
        return transform_points(p, m) if translate else rotate_vectors(p, m)


def test_the_compiled_kernel_is_built() -> None:
    # The test command installs with a C compiler present; without one the numpy path runs
    # (same results, about 6x slower), which this test reports.
    native = importlib.import_module("sfs_kit._native")  # ImportError: not built (no compiler?)
    assert getattr(geometry, "_native") is native  # noqa: B009 - private, not re-exported


@pytest.mark.parametrize("translate", [True, False])
def test_the_kernel_gives_the_numpy_column_formula_bit_for_bit(translate: bool) -> None:
    for p, m in _clouds():
        ours = transform_points(p, m) if translate else rotate_vectors(p, m)
        reference = _numpy_result(p, m, translate=translate)
        assert ours.view(np.uint32).tolist() == reference.view(np.uint32).tolist()


def _python_floats(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The column formula in Python floats (IEEE doubles, never fused), an independent reference."""
    rows = [[float(v) for v in row] for row in p]
    return np.array(
        [[((x * m[i][0] + y * m[i][1]) + z * m[i][2]) + m[i][3] for i in range(3)]
         for x, y, z in rows]
    ).astype(np.float32)


@pytest.mark.parametrize("native", [True, False], ids=["kernel", "numpy"])
def test_each_product_is_rounded_and_the_sum_taken_in_order(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Points whose result changes if the products are summed in another order (the 1e20 terms
    # cancel first) or fused with the add (an FMA keeps x * r0's rounding error: about 1e-17
    # instead of 0), so a build that reorders or contracts fails here.
    third = 1.0 / 3.0
    m = np.array([[0.5, 0.5, 0.5, 0.0], [third, third, 0.0, 0.0],
                  [1.0, 1e-3, -1.0, 7.0], [0.0, 0.0, 0.0, 1.0]])
    x = float(np.float32(1.0 + 2.0**-23))
    p = np.array([[2e20, -2e20, 2.0], [x, -x, 0.0]], np.float32)
    rng = np.random.default_rng(8)
    p = np.concatenate([p, rng.normal(0, 1e3, (500, 3)).astype(np.float32)])
    if not native:
        monkeypatch.setattr(geometry, "_native", None)
    got = transform_points(p, m)
    assert got[0, 0] == 1.0  # (1e20 - 1e20) + 1, not 1e20 + (-1e20 + 1)
    assert got[1, 1] == 0.0  # round(x / 3) - round(x / 3), not fma(x, 1/3, -round(x / 3))
    assert got.view(np.uint32).tolist() == _python_floats(p, m).view(np.uint32).tolist()


def test_a_pointcloud2_view_is_read_in_place_and_other_layouts_are_copied() -> None:
    rng = np.random.default_rng(5)
    record = np.zeros((5000, 8), np.float32)  # x, y, z, pad, intensity, ... (point_step 32)
    record[:, :3] = rng.normal(0, 50, (5000, 3))
    m = pose_to_matrix([10.5, -3.25, 1.0, 0.1, 0.2, 0.3, 0.927])
    view = record[:, :3]
    assert geometry._kernel_reads(view)
    unaligned = np.frombuffer(b"\0" + record.tobytes(), np.float32, offset=1,
                              count=5000 * 8).reshape(5000, 8)[:, :3]
    packed = np.ascontiguousarray(view)
    packed_unaligned = np.frombuffer(b"\0" + packed.tobytes(), np.float32, offset=1).reshape(-1, 3)
    big_endian = view.astype(">f4")
    reversed_rows = view[::-1]
    for layout in (unaligned, packed_unaligned, big_endian, reversed_rows):
        assert not geometry._kernel_reads(layout)
    expected = _numpy_result(packed, m, translate=True)
    assert np.array_equal(transform_points(view, m), expected)
    assert np.array_equal(transform_points(unaligned, m), expected)
    assert np.array_equal(transform_points(packed_unaligned, m), expected)
    assert np.array_equal(transform_points(big_endian, m), expected)
    assert np.array_equal(transform_points(reversed_rows, m), expected[::-1])


def test_float64_points_take_the_numpy_path_unrounded() -> None:
    p = np.array([[0.1, 0.2, 0.3], [1e-9, 2e9, -3.0]])  # not float32 values
    m = pose_to_matrix([1.0, 2.0, 3.0, 0, 0, 0, 1])
    shift = np.array([1.0, 2.0, 3.0])
    assert transform_points(p, m).tolist() == (p + shift).astype(np.float32).tolist()


def test_the_numpy_path_still_poses_blocks(numpy_only: None) -> None:
    p = np.arange(3 * 20_000, dtype=np.float32).reshape(-1, 3)
    m = pose_to_matrix([1.0, 0.0, 0.0, 0, 0, 0, 1])
    assert np.array_equal(transform_points(p, m), p + np.array([1, 0, 0], np.float32))


def test_the_kernel_refuses_buffers_it_cannot_read() -> None:
    from sfs_kit import _native as native

    p = np.zeros((4, 3), np.float32)
    m = np.zeros((3, 4))
    with pytest.raises(TypeError):
        native.affine_f32(p.astype(np.float64), np.zeros((4, 3)), m, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3 x 4"):
        native.affine_f32(p, np.zeros((3, 3), np.float32), m, True)
    with pytest.raises(ValueError, match="overlaps"):
        native.affine_f32(p, p, m, True)
    with pytest.raises(ValueError, match="3 x 4"):
        native.affine_f32(p, np.zeros((4, 3), np.float32), np.zeros((4, 4)), True)
    read_only = np.zeros((4, 3), np.float32)
    read_only.setflags(write=False)
    with pytest.raises((ValueError, BufferError)):
        native.affine_f32(p, read_only, m, True)


def test_figures_read_aside_are_numpys_and_the_thread_ends() -> None:
    rng = np.random.default_rng(2)
    arrays = [rng.normal(0, 9, (60_000, 3)).astype(np.float32) for _ in range(6)]
    arrays += [rng.integers(0, 2**32, 70_000, dtype=np.uint64).astype(np.uint32),
               np.array([3, 1, 2], np.uint32)]  # a small one is read at once
    arrays[2][100, 1] = np.nan
    facts = ArrayFacts()
    aside = MinMaxAside(facts)
    for arr in arrays:
        aside.add(arr)
    aside.wait()
    assert not [t for t in threading.enumerate() if t.name == "sfs-kit figures"]
    for arr in arrays:
        lo, hi = facts.get(arr, "minmax", _not_read)
        assert (float(lo), float(hi)) == pytest.approx((float(arr.min()), float(arr.max())),
                                                       nan_ok=True)


def _not_read() -> tuple[Any, Any]:
    raise AssertionError("the figures were not read")


def test_an_error_reading_figures_aside_reaches_wait() -> None:
    class Broken(ArrayFacts):
        def minmax(self, arr: np.ndarray) -> tuple[object, object]:
            raise MemoryError("no room")

    aside = MinMaxAside(Broken())
    aside.add(np.zeros(1 << 20, np.float32))
    with pytest.raises(MemoryError, match="no room"):
        aside.wait()
    aside.wait()  # raised once; the thread is gone
