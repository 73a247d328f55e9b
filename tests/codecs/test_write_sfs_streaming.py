"""write_sfs to a path poses ego frames as it writes them: the same bytes as posing them all up
front (the stream path), the same verdicts, and nothing at the path when the check fails."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sfs_scene_factory import build_scene

from sfs_kit import Scene, SceneValidationError, read_sfs, validate, write_sfs
from sfs_kit.codecs import scene_io
from sfs_kit.models._array_facts import ArrayFacts


def _ego_tree(frames: int = 4) -> dict[str, Any]:
    tree = build_scene(frames=frames, points=50)
    for sensor in tree["sensors"]:
        if sensor["type"] in ("lidar", "radar"):
            sensor["coordinates"] = "ego"
    return tree


def test_posing_while_writing_matches_posing_up_front(tmp_path: Path) -> None:
    scene = Scene.model_validate(_ego_tree())
    up_front = io.BytesIO()
    write_sfs(scene, up_front)  # a stream: posed before writing
    path = tmp_path / "ego.sfs"
    size = write_sfs(scene, path)  # a path: posed frame by frame while writing
    assert size == path.stat().st_size
    assert path.read_bytes() == up_front.getvalue()
    back = read_sfs(path)
    assert all(s.coordinates == "world" for s in back.sensors if hasattr(s, "coordinates"))


def test_a_shared_points_array_is_posed_per_frame(tmp_path: Path) -> None:
    tree = _ego_tree(frames=3)
    lidar = tree["sensors"][0]
    shared = lidar["frames"][0]["points"]["positions"]
    for frame in lidar["frames"]:
        frame["points"] = {"positions": shared}
    scene = Scene.model_validate(tree)
    up_front = io.BytesIO()
    write_sfs(scene, up_front)
    write_sfs(scene, tmp_path / "s.sfs")
    assert (tmp_path / "s.sfs").read_bytes() == up_front.getvalue()


def test_a_compat_error_found_after_posing_leaves_nothing(tmp_path: Path) -> None:
    tree = _ego_tree(frames=2)
    lidar = tree["sensors"][0]
    half = math.pi / 8  # a 45 degree yaw: (3e38, 3e38) turns into (0, 4.2e38), beyond float32
    lidar["poses"]["values"] = [[*v[:3], 0.0, 0.0, math.sin(half), math.cos(half)]
                                for v in lidar["poses"]["values"]]
    big = np.full((3, 3), 3e38, np.float32)
    lidar["frames"][1]["points"] = {"positions": big}
    scene = Scene.model_validate(tree)
    assert not [i for i in validate(scene, mode="spec") if i.severity == "error"]
    path = tmp_path / "bad.sfs"
    with np.errstate(over="ignore"), \
            pytest.raises(SceneValidationError, match=r"compat-mode validation .*V-A7") as info:
        write_sfs(scene, path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
    with np.errstate(over="ignore"), pytest.raises(SceneValidationError) as streamed:
        write_sfs(scene, io.BytesIO())
    assert str(streamed.value) == str(info.value).replace(repr(str(path)), "'<stream>'")


def test_facts_are_shared_between_validations() -> None:
    scene = Scene.model_validate(build_scene(frames=2, points=10))
    facts = ArrayFacts()
    first = validate(scene, mode="spec", facts=facts)
    positions = scene.sensors[0].frames[0].points.positions
    facts.put_minmax(positions, np.float32(np.inf), np.float32(0))  # what a writer would report
    again = validate(scene, mode="spec", facts=facts)
    assert not [i for i in first if i.code == "V-A7"]
    assert [i.code for i in again if i.code == "V-A7"] == ["V-A7"]


@pytest.mark.parametrize(
    ("points", "bad_row"),
    [
        (20_001, 20_000),  # blocks of 16384: two, NaN in the partial last one
        (scene_io._POSE_CHUNK_POINTS + 5, scene_io._POSE_CHUNK_POINTS + 3),  # two chunks
    ],
)
def test_big_frames_are_posed_piece_by_piece_with_the_same_bytes_and_figures(
    points: int, bad_row: int, tmp_path: Path
) -> None:
    tree = _ego_tree(frames=2)
    rng = np.random.default_rng(7)
    big = rng.normal(0, 40, (points, 3)).astype(np.float32)
    tree["sensors"][0]["frames"][1]["points"] = {"positions": big}
    scene = Scene.model_validate(tree)
    up_front = io.BytesIO()
    write_sfs(scene, up_front)
    write_sfs(scene, tmp_path / "big.sfs")
    assert (tmp_path / "big.sfs").read_bytes() == up_front.getvalue()
    bad = big.copy()
    bad[bad_row, 1] = np.nan  # only in the last piece: its figures must reach the check
    tree["sensors"][0]["frames"][1]["points"] = {"positions": bad}
    with pytest.raises(SceneValidationError, match="V-A7"):
        write_sfs(Scene.model_validate(tree), tmp_path / "nan.sfs")
    assert not (tmp_path / "nan.sfs").exists()
