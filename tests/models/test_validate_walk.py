"""The generic walk's fast paths (exact ints, lists of small ints, rows of exact floats) must
report what the full walk reports: a big int hidden in a list, a NaN in a list of free-form JSON
floats, a bool in a pose row; and stay quiet for float subclasses that are numbers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from models.sfs_scene_factory import build_scene
from sfs_kit import validate

Tree = dict[str, Any]


def _annotation(**fields: Any) -> Callable[[Tree], None]:
    return lambda tree: tree.update(annotations=[{"id": 1, "type": "object", **fields}])


def _lidar_pose_row(row: list[Any]) -> Callable[[Tree], None]:
    def change(tree: Tree) -> None:
        tree["sensors"][0]["poses"]["values"][1] = row

    return change


def _lidar_pose_stamp(value: int) -> Callable[[Tree], None]:
    def change(tree: Tree) -> None:
        tree["sensors"][0]["poses"]["timestamps"][-1] = value

    return change


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        (_annotation(ts=[1, 2**60, 3]), "V-S7", "annotations[0].ts[1]"),
        (_annotation(ts=[1, -(2**60)]), "V-S7", "annotations[0].ts[1]"),
        (_annotation(xs=[1.0, math.nan]), "V-S6", "annotations[0].xs[1]"),
        (_annotation(xs=[1.0, math.inf, 2.0]), "V-S6", "annotations[0].xs[1]"),
        (_lidar_pose_stamp(2**60), "V-S7", "sensors[0].poses.timestamps[3]"),
        # leaves directly under a key, taken without a call when there is nothing to check
        (_annotation(n=2**60), "V-S7", "annotations[0].n"),
        (_annotation(n=-(2**53)), "V-S7", "annotations[0].n"),
        (_annotation(x=math.nan), "V-S6", "annotations[0].x"),
        (_annotation(**{"$items": "x"}), "V-S6", "annotations[0].$items"),
        (_annotation(rows=[[1.0, math.inf]]), "V-S6", "annotations[0].rows[0][1]"),
        (_annotation(rows=[{"a": 2**60}]), "V-S7", "annotations[0].rows[0].a"),
        (_lidar_pose_row([0.0, 0.0, 0.5, 0.0, 0.0, 0.0, True]), "V-P2",
         "sensors[lidar_top].poses.values[1]"),
    ],
)
def test_what_the_fast_paths_must_still_find(change: Callable[[Tree], None], code: str,
                                             path: str) -> None:
    tree = build_scene(frames=3, points=10)
    change(tree)
    found = [(i.code, i.path) for i in validate(tree, mode="spec")]
    assert (code, path) in found


@pytest.mark.parametrize(
    "change",
    [
        _lidar_pose_row([np.float64(0.0), 0.0, 0.5, 0.0, 0.0, 0.0, 1.0]),  # a float subclass
        _lidar_pose_row([0, 0, 1, 0, 0, 0, 1]),  # ints are numbers too
        _annotation(ts=[1, 2, 2**53 - 1], flags=[1, True]),
        _annotation(xs=[]),
    ],
)
def test_what_the_fast_paths_must_still_accept(change: Callable[[Tree], None]) -> None:
    tree = build_scene(frames=3, points=10)
    before = [str(i) for i in validate(tree, mode="spec")]
    change(tree)
    assert [str(i) for i in validate(tree, mode="spec")] == before
