"""Ids become folder names and data becomes paths: nothing may land outside the output folder."""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import numpy as np
import pytest
from capture.conftest import build_folder

from sfs_kit._paths import MAX_NAME_BYTES, check_name, contained, name_problem
from sfs_kit.capture import MsgpackCaptureWriter, convert_capture, open_capture
from sfs_kit.capture.base import CameraIntrinsicsSource, CameraSource, LidarSource
from sfs_kit.errors import InputError, InvalidKeyError, OutputError
from sfs_kit.storage import LocalStore

HOSTILE_IDS = [
    "", "../../../x", "a/b", "a\\b", "..", ".", "cam\x00", "cam\n", "tab\there", "\x7f",
    "x" * (MAX_NAME_BYTES + 1), "é" * 65, " cam", "cam ", "\u2028",
]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_ids_are_refused_with_our_error(value: str) -> None:
    assert name_problem(value) is not None
    with pytest.raises(InputError, match="ids become folder names"):
        check_name(value, field="cameras[0].id")


@pytest.mark.parametrize("value", ["cam_front", "CAM-1", "velodyne_points", "カメラ", "a.b", "7"])
def test_ordinary_ids_pass(value: str) -> None:
    assert check_name(value) == value


def test_sources_refuse_unsafe_ids_at_creation() -> None:
    with pytest.raises(InputError, match="lidar id"):
        LidarSource(sensor_id="../up", frames=(), points_frame="sensor", ego_from_sensor=np.eye(4))
    intr = CameraIntrinsicsSource(1, 1, 0, 0, 2, 2, None, (), 0.0, "x")
    with pytest.raises(InputError, match="camera id"):
        CameraSource(sensor_id="a/b", intrinsics=intr, ego_from_sensor=np.eye(4), images=())


def test_contained_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    assert contained(root, "images/cam/00001.jpg") == root / "images" / "cam" / "00001.jpg"
    for rel in ("../x", "/etc/passwd", "a/../../x", "", "C:/x", "a\\..\\..\\x", "a\x00b"):
        with pytest.raises(OutputError, match="Refusing to write"):
            contained(root, rel)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(OutputError, match="outside"):
        contained(root, "link/escaped.jpg")
    assert not (tmp_path / "escaped.jpg").exists()


@pytest.mark.parametrize("bad", ["../../../x", "a/b", "cam\x00", "x" * 300])
def test_manifest_camera_id_cannot_write_outside_the_output(tmp_path: Path, bad: str) -> None:
    cap = build_folder(tmp_path / "cap")
    text = (cap / "capture.yaml").read_text().replace("  - id: cam\n", f"  - id: {bad!r}\n")
    (cap / "capture.yaml").write_text(text.replace("'", '"') if "\x00" in bad else text)
    out = tmp_path / "deep" / "er" / "out"
    out.parent.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(InputError, match=r"cameras\[0\]\.id"):
        convert_capture(cap, out, format="split_base64")
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_msgpack_sensor_field_cannot_name_a_path(tmp_path: Path) -> None:
    stream = tmp_path / "cap.msgpack"
    with MsgpackCaptureWriter(stream) as writer:
        writer.append("../../../x", 1, "image", {"data": b"\xff\xd8"})
    with pytest.raises(InputError, match="field 'sensor'") as info:
        open_capture(stream)
    assert info.value.offset == 0
    raw = msgpack.packb({"sensor": "", "timestamp_us": 1, "kind": "pose", "payload": {}})
    stream.write_bytes(raw)
    with pytest.raises(InputError, match="is empty"):
        open_capture(stream)


def test_local_store_keys_stay_inside_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, tmp_path / "store" / "scene")
    with pytest.raises(InvalidKeyError, match="outside"):
        store.put_bytes(b"data", "scene/a.bin")
    assert list(outside.iterdir()) == []
    for key in ("../x", "/abs", "a/../../x", "a\x00"):
        with pytest.raises(InvalidKeyError):
            store.put_bytes(b"data", key)
