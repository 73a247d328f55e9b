"""Strict JSON/YAML documents: duplicate keys, huge integers, deep nesting, non-finite numbers and
alias bombs are refused with one-line errors naming the file and line, in every document reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from capture.conftest import build_folder

from sfs_kit._documents import MAX_DEPTH, json_depth, load_json, load_yaml
from sfs_kit.capture import open_capture
from sfs_kit.codecs.frame_json import decode_frame
from sfs_kit.errors import FrameFormatError, InputError
from sfs_kit.readers import read_intrinsics, read_poses
from sfs_kit.readers.scale_pose import read_scale_pose

INTRINSICS = '"fx": 30, "fy": 30, "cx": 16, "cy": 12, "width": 32, "height": 24'
POSE = '"timestamp": 1, "x": 0, "y": 0, "z": 0, "qx": 0, "qy": 0, "qz": 0, "qw": 1'
BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


@pytest.mark.parametrize(("text", "match", "line"), [
    ('{"a": 1,\n "a": 2}', r"the key 'a' appears twice in one object", 2),
    ("[1" + "0" * 30 + "]", r"the integer '1000.*' has 31 digits \(at most 20\)", 1),
    ("[1" + "0" * 5000 + "]", r"has 5001 digits", 1),
    ("[1e999]", r"the number '1e999' is out of range", 1),
    ("[NaN]", r"NaN is not a JSON number", 1),
    ("[" * 100_000 + "]" * 100_000, r"nests objects/arrays 100000 deep \(at most 64\)", None),
    ('{"a": [1,\n 2', r"is not valid JSON: Expecting ',' delimiter \(column 3\)", 2),
])
def test_json_limits(text: str, match: str, line: int | None) -> None:
    with pytest.raises(InputError, match=match) as info:
        load_json(text, source="/c/doc.json", what="Doc")
    assert info.value.line == line
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(("text", "match", "line"), [
    ("cameras: [a]\nlidars: [b]\ncameras: [c]\n", r"the key 'cameras' appears twice", 3),
    ("a: 1" + "0" * 30 + "\n", r"has 31 digits \(at most 20\)", 1),
    ("a: 1\nb: .inf\n", r"the number '.inf' is not finite", 2),
    ("a: .nan\n", r"is not finite", 1),
    ("[" * 100_000, r"not valid YAML: .*nesting depth", 1),
    ("a:\n" + "".join("  " * k + "- \n" for k in range(1, 70)), r"more than 64 deep", None),
    (BOMB, r"expands to more than 1000000 values", None),
    ("a: [1\nb: : 2\n", r"is not valid YAML: .*expected ',' or ']'.* \(column \d+\)\.$", 2),
])
def test_yaml_limits(text: str, match: str, line: int | None) -> None:
    with pytest.raises(InputError, match=match) as info:
        load_yaml(text, source="/c/doc.yaml", what="Doc")
    assert info.value.line == line
    assert "\n" not in str(info.value)


def test_ordinary_documents_still_load() -> None:
    assert load_yaml("a: {b: 1, c: [1.5, 2]}\n<<: {z: 0x1F}\nd: 1_000\n", source="x",
                     what="Doc") == {"a": {"b": 1, "c": [1.5, 2]}, "z": 31, "d": 1000}
    assert load_json('{"a": [{"b": "[[[{{"}], "c": -12345678901234567890}', source="x",
                     what="Doc") == {"a": [{"b": "[[[{{"}], "c": -12345678901234567890}
    assert json_depth("[" * MAX_DEPTH + "]" * MAX_DEPTH) == MAX_DEPTH
    assert json_depth('["\\"[[[", {"k": "]"}]') == 2


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_calibration_documents(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"intr{suffix}"
    deep = "[" * 5000 + "]" * 5000
    hostile = {
        "dup": "{" + INTRINSICS + ', "fx": 31}' if suffix == ".json" else
               "fx: 30\nfy: 30\ncx: 16\ncy: 12\nwidth: 32\nheight: 24\nfx: 31\n",
        "deep": deep if suffix == ".json" else f"a: {deep}\n",
        "huge": "{" + INTRINSICS.replace('"width": 32', '"width": 1' + "0" * 400) + "}"
                if suffix == ".json" else "width: 1" + "0" * 400 + "\n",
        "wide": "{" + INTRINSICS.replace('"width": 32', f'"width": {2**32}') + "}"
                if suffix == ".json" else
                f"fx: 30\nfy: 30\ncx: 16\ncy: 12\nwidth: {2**32}\nheight: 24\n",
    }
    for kind, text in hostile.items():
        path.write_text(text)
        with pytest.raises(InputError, match=str(path)) as info:
            read_intrinsics(path)
        assert "\n" not in str(info.value), kind


def test_pose_documents(tmp_path: Path) -> None:
    path = tmp_path / "poses.json"
    for text in ("[{" + POSE + ', "x": 5}]', "[" * 100_000, '[{"timestamp": 1' + "0" * 5000 + "}]"):
        path.write_text(text)
        with pytest.raises(InputError, match=r"poses\.json"):
            read_poses(path, time_unit="us")
    path.write_text('{"heading": [1, 0, 0, 0], "position": [0, 0, 0], "position": [1, 1, 1]}')
    with pytest.raises(InputError, match="appears twice"):
        read_scale_pose(path)


def test_frame_json_refuses_huge_integers_and_deep_nesting() -> None:
    with pytest.raises(FrameFormatError, match="has 400 digits"):
        decode_frame('{"device_position": {"x": 1' + "0" * 399 + ', "y": 0, "z": 0}}')
    with pytest.raises(FrameFormatError, match="not valid JSON"):
        decode_frame("[" * 100_000 + "]" * 100_000)


def test_manifest_duplicates_and_infinite_scales(tmp_path: Path) -> None:
    cap = build_folder(tmp_path / "cap")
    text = (cap / "capture.yaml").read_text()
    camera_block = text[text.index("cameras:"):]
    (cap / "capture.yaml").write_text(text + camera_block.replace("id: cam", "id: cam2"))
    with pytest.raises(InputError, match=r"capture.yaml:\d+: .*the key 'cameras' appears twice"):
        open_capture(cap)
    (cap / "capture.yaml").write_text(text.replace("intensity_max: 255", "intensity_max: .inf"))
    with pytest.raises(InputError, match="is not finite"):
        open_capture(cap)
    (cap / "capture.yaml").write_text(text.replace("intensity_max: 255", "intensity_max: 0"))
    with pytest.raises(InputError, match=r"intensity_max"):
        open_capture(cap)
    (cap / "capture.yaml").write_text(text.replace(
        "extrinsics: {translation_m: [0, 0, 2], quat_xyzw: [0, 0, 0, 1], ",
        "extrinsics: {matrix: [[1, 0, 0, 0], [0, 1, 0], [0, 0, 1, 2], [0, 0, 0, 1]], "))
    with pytest.raises(InputError, match=r"lidars\[0\]\.extrinsics\.matrix: must be 4x4"):
        open_capture(cap)
    (cap / "capture.json").write_text('{"version": 1, "version": 1}')
    (cap / "capture.yaml").unlink()
    with pytest.raises(InputError, match=r"capture\.json:1: .*'version' appears twice"):
        open_capture(cap)
