"""Shared helpers for the reader tests: a random cloud and the fixture folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sfs_kit.readers import PointCloud

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def make_cloud(n: int = 50, *, seed: int = 0, channels: bool = True) -> PointCloud:
    """A cloud with every channel filled from a seeded generator."""
    rng = np.random.default_rng(seed)
    positions = (rng.random((n, 3), dtype=np.float32) - 0.5) * 200
    if not channels:
        return PointCloud(positions=positions, source="made", format="test")
    return PointCloud(
        positions=positions, source="made", format="test",
        intensity=rng.random(n, dtype=np.float32) * 255,
        colors=rng.integers(0, 256, (n, 3), dtype=np.uint8),
        time_s=rng.random(n) * 0.1,
        ring=rng.integers(0, 128, n).astype(np.uint16),
    )


def assert_clouds_equal(got: PointCloud, want: PointCloud) -> None:
    """Every standard channel equal in dtype and value (NaN equal to NaN)."""
    for name in ("positions", "intensity", "colors", "time_s", "ring", "origin_m"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype, name
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
