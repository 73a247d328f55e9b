"""The remaining model error messages, zero-copy reads and a hypothesis round trip."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydantic import ValidationError

from models.sfs_scene_factory import IDENTITY, build_scene
from sfs_kit import CameraImage, PosePath, Scene, assert_models_equal, read_sfs, write_sfs
from sfs_kit.codecs.sfs import read_sfs_dict


def test_pose_input_messages() -> None:
    with pytest.raises(
        ValidationError, match=r"expected a list of \[x, y, z, qx, qy, qz, qw\] rows, found str"
    ):
        PosePath.model_validate({"timestamps": [0], "values": "x"})
    with pytest.raises(ValidationError, match="expected integer timestamps, found dtype float64"):
        PosePath.model_validate({"timestamps": np.zeros(1), "values": [IDENTITY]})
    with pytest.raises(ValidationError, match="expected a list of int timestamps, found dict"):
        PosePath.model_validate({"timestamps": {}, "values": [IDENTITY]})
    with pytest.raises(ValidationError, match="a timestamp does not fit in int64"):
        PosePath.model_validate({"timestamps": [2**70], "values": [IDENTITY]})
    ok = PosePath.model_validate(
        {"timestamps": np.array([3], np.uint32), "values": np.array([IDENTITY])}
    )
    assert ok.to_tree() == {"timestamps": [3], "values": [IDENTITY]}


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ([{1: "x"}], "has a non-str key 1"),
        ([{"a": np.array(["s"])}], "unsupported dtype str"),
        ([{"a": float("inf")}], "only finite numbers are allowed"),
        ([{"a": {1, 2}}], "has unsupported type set"),
    ],
)
def test_pass_through_tree_messages(annotations: list[Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Scene.model_validate({**build_scene(), "annotations": annotations})


def test_metadata_must_be_an_object() -> None:
    with pytest.raises(ValidationError, match="expected a JSON object, found list"):
        Scene.model_validate({**build_scene(), "metadata": [1]})
    with pytest.raises(ValidationError, match=r"a is an array; only JSON values are allowed"):
        Scene.model_validate({**build_scene(), "metadata": {"a": np.zeros(1)}})


def test_decoded_pixels_are_accepted_with_a_log_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sfs_kit.models._arrays"):
        img = CameraImage(timestamp=0, content=np.zeros((4, 5, 3), np.uint8))
    assert img.content.shape == (4, 5, 3)
    assert "decoded (4, 5, 3) array" in caplog.text


def test_reading_builds_models_without_copying_arrays(tmp_path: Path) -> None:
    path = tmp_path / "s.sfs"
    write_sfs(Scene.model_validate(build_scene()), path)
    tree = read_sfs_dict(path)
    scene = Scene.model_validate(tree)
    src = tree["sensors"][0]["frames"][0]["points"]["positions"]
    dst = scene.sensors[0].frames[0].points.positions
    assert np.shares_memory(src, dst)
    assert np.shares_memory(
        tree["sensors"][2]["images"][0]["content"], scene.sensors[2].images[0].content
    )


finite32 = st.floats(-1e4, 1e4, width=32)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    positions=arrays(np.float32, st.tuples(st.integers(0, 40), st.just(3)), elements=finite32),
    with_colors=st.booleans(),
    align=st.sampled_from([4, 8, 64]),
)
def test_write_then_read_again(
    tmp_path: Path, positions: np.ndarray[Any, Any], with_colors: bool, align: int
) -> None:
    n = len(positions)
    points: dict[str, Any] = {
        "positions": positions,
        "intensities": np.arange(n, dtype=np.uint8),
        "timestamps": np.arange(n, dtype=np.uint32) + 10,
    }
    if with_colors:
        points["colors"] = np.full((n, 3), 7, np.uint8)
    tree = {
        "version": "1.0",
        "sensors": [
            {
                "type": "lidar",
                "id": 0,
                "poses": {"timestamps": [0, 100], "values": [IDENTITY, IDENTITY]},
                "frames": [{"timestamp": 10, "points": points}],
            }
        ],
    }
    scene = Scene.model_validate(tree)
    path = tmp_path / f"h{align}.sfs"
    write_sfs(scene, path, align=align, compat=False)
    assert_models_equal(read_sfs(path), scene)
