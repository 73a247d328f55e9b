"""The capture folder layout: manifest schema and every reference checked before conversion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sfs_kit.capture import open_capture
from sfs_kit.capture.kitti_raw import read_kitti_raw
from sfs_kit.capture.manifest import load_manifest
from sfs_kit.errors import InputError

from .conftest import START_US


def _edit(folder: Path, old: str, new: str) -> None:
    text = (folder / "capture.yaml").read_text()
    assert old in text
    (folder / "capture.yaml").write_text(text.replace(old, new))


def test_open_by_folder_manifest_path_and_json(folder: Path) -> None:
    assert open_capture(folder).frame_count == 3
    assert open_capture(folder / "capture.yaml").layout == "sfs_kit"
    import yaml

    data = yaml.safe_load((folder / "capture.yaml").read_text())
    (folder / "capture.yaml").unlink()
    (folder / "capture.json").write_text(json.dumps(data))
    assert len(open_capture(folder).cameras) == 1


def test_layout_detection_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Capture .*nothing' does not exist\."):
        open_capture(tmp_path / "nothing")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match=r"Cannot tell the capture layout of file"):
        open_capture(tmp_path / "x.txt")
    with pytest.raises(InputError, match=r"Cannot tell the capture layout of folder"):
        open_capture(tmp_path)
    with pytest.raises(
        InputError, match=r"is not a KITTI raw drive: 'velodyne_points/' is missing\."
    ):
        read_kitti_raw(tmp_path)


def test_manifest_schema_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "capture.yaml"
    path.write_text(
        "version: 1\nlidars:\n  - id: a\n    files: x\n    timestamps: {file: t}\n    colour: red\n"
    )
    with pytest.raises(
        InputError, match=r"field 'lidars\[0\]\.colour': Extra inputs are not permitted"
    ) as info:
        load_manifest(path)
    assert info.value.field == "lidars[0].colour"
    path.write_text("version: 1\nlidars: []\n")
    with pytest.raises(InputError, match=r"field 'lidars': List should have at least 1 item"):
        load_manifest(path)
    path.write_text("lidars: [\n")
    with pytest.raises(InputError, match=r"is not valid YAML"):
        load_manifest(path)
    path.write_text("- 1\n")
    with pytest.raises(InputError, match=r"must hold a mapping at the top level, found list\."):
        load_manifest(path)
    with pytest.raises(InputError, match=r"Cannot read capture manifest"):
        load_manifest(tmp_path / "missing.yaml")


def test_manifest_referencing_a_missing_file(folder: Path) -> None:
    _edit(folder, "intrinsics: {file: cam_intr.json}", "intrinsics: {file: calib/nope.json}")
    with pytest.raises(
        InputError,
        match=r"cameras\[0\]\.intrinsics\.file: references 'calib/nope\.json', which does not",
    ) as info:
        open_capture(folder)
    assert info.value.field == "cameras[0].intrinsics.file"


def test_manifest_glob_matching_nothing_and_empty_list(folder: Path) -> None:
    _edit(folder, "files: lidar/*.pcd", "files: lidar/*.ply")
    with pytest.raises(
        InputError, match=r"lidars\[0\]\.files: the pattern 'lidar/\*\.ply' matches no files"
    ):
        open_capture(folder)
    _edit(folder, "files: lidar/*.ply", "files: [lidar/000.pcd, lidar/009.pcd]")
    with pytest.raises(InputError, match=r"lidars\[0\]\.files\[1\]: references 'lidar/009\.pcd'"):
        open_capture(folder)
    _edit(folder, "files: [lidar/000.pcd, lidar/009.pcd]", "files: []")
    with pytest.raises(InputError, match=r"lidars\[0\]\.files: the file list is empty\."):
        open_capture(folder)


def test_timestamps_going_backwards_name_the_file(folder: Path) -> None:
    stamps = [START_US, START_US + 200_000, START_US + 100_000]
    (folder / "lidar" / "ts.txt").write_text("".join(f"{t}\n" for t in stamps))
    with pytest.raises(
        InputError,
        match=r"ts\.txt: timestamp of 002\.pcd \(1700000000100000 us\) goes backwards from the",
    ) as info:
        open_capture(folder)
    assert info.value.field == "timestamp"
    (folder / "lidar" / "ts.txt").write_text(f"{START_US}\n{START_US}\n{START_US + 1}\n")
    with pytest.raises(
        InputError, match=r"timestamp of 001\.pcd \(1700000000000000 us\) repeats the previous one"
    ):
        open_capture(folder)


def test_timestamp_count_and_source_choice(folder: Path) -> None:
    (folder / "lidar" / "ts.txt").write_text(f"{START_US}\n")
    with pytest.raises(InputError, match=r"has 1 timestamps but lidars\[0\] has 3 files"):
        open_capture(folder)
    _edit(folder, "timestamps: {file: lidar/ts.txt, unit: us}", "timestamps: {unit: us}")
    with pytest.raises(
        InputError,
        match=r"lidars\[0\]\.timestamps: give exactly one of 'file' or 'from_filename: true'\.",
    ):
        open_capture(folder)


def test_camera_without_calibration(folder: Path) -> None:
    _edit(folder, "    intrinsics: {file: cam_intr.json}\n", "")
    with pytest.raises(
        InputError,
        match=r"cameras\[0\]\.intrinsics: camera 'cam' has no calibration \(intrinsics\)\.",
    ):
        open_capture(folder)


def test_camera_without_extrinsics(folder: Path) -> None:
    _edit(folder, "    extrinsics: {file: cam_extr.json, direction: sensor_to_ego}\n", "")
    with pytest.raises(
        InputError, match=r"cameras\[0\]\.extrinsics: is missing; a camera needs its mounting"
    ):
        open_capture(folder)


def test_extrinsics_inline_forms(folder: Path) -> None:
    old = (
        "extrinsics: {translation_m: [0, 0, 2], quat_xyzw: [0, 0, 0, 1], direction: sensor_to_ego}"
    )
    _edit(
        folder,
        old,
        "extrinsics: {matrix: [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]], direction: ego_to_sensor}",
    )
    assert open_capture(folder).lidars[0].ego_from_sensor[2, 3] == -2.0
    _edit(
        folder,
        "extrinsics: {matrix: [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]], direction: ego_to_sensor}",
        "extrinsics: {matrix: [[2,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]], direction: sensor_to_ego}",
    )
    with pytest.raises(InputError, match=r"lidars\[0\]\.extrinsics: is not a rigid transform"):
        open_capture(folder)
    _edit(
        folder,
        "extrinsics: {matrix: [[2,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]], direction: sensor_to_ego}",
        "extrinsics: {matrix: [[1,0,0]], direction: sensor_to_ego}",
    )
    with pytest.raises(
        InputError, match=r"lidars\[0\]\.extrinsics\.matrix: must be 4x4 finite numbers"
    ):
        open_capture(folder)
    _edit(
        folder,
        "extrinsics: {matrix: [[1,0,0]], direction: sensor_to_ego}",
        "extrinsics: {translation_m: [0, 0, 2], quat_xyzw: [0, 0, 0, 3], direction: sensor_to_ego}",
    )
    with pytest.raises(
        InputError, match=r"lidars\[0\]\.extrinsics\.quat_xyzw: must be a finite unit quaternion"
    ):
        open_capture(folder)
    _edit(
        folder,
        "extrinsics: {translation_m: [0, 0, 2], quat_xyzw: [0, 0, 0, 3], direction: sensor_to_ego}",
        "extrinsics: {translation_m: [0, 0], direction: sensor_to_ego}",
    )
    with pytest.raises(
        InputError, match=r"needs 'translation_m' \(3 numbers\) and 'quat_xyzw' \(4 numbers\)\."
    ):
        open_capture(folder)
    _edit(
        folder,
        "extrinsics: {translation_m: [0, 0], direction: sensor_to_ego}",
        "extrinsics: {file: cam_extr.json, matrix: [[1]], direction: sensor_to_ego}",
    )
    with pytest.raises(
        InputError,
        match=r"give exactly one of 'file', 'matrix', or 'translation_m' \+ 'quat_xyzw'\.",
    ):
        open_capture(folder)


def test_duplicate_ids_and_missing_manifest(folder: Path, tmp_path: Path) -> None:
    _edit(folder, "  - id: cam\n", "  - id: lidar\n")
    with pytest.raises(InputError, match=r"cameras\[0\]\.id: sensor id 'lidar' is used twice\."):
        open_capture(folder)
    from sfs_kit.capture.folder import read_capture_folder

    (tmp_path / "empty").mkdir()
    with pytest.raises(
        InputError, match=r"has no capture\.yaml or capture\.yml or capture\.json\."
    ):
        read_capture_folder(tmp_path / "empty")


def test_empty_pose_file(folder: Path) -> None:
    (folder / "poses.csv").write_text("t,x,y,z,qx,qy,qz,qw\n")
    with pytest.raises(InputError, match=r"no poses") as info:
        open_capture(folder)
    assert str(info.value.source).endswith("poses.csv")


def test_readme_manifest_example_opens_the_fixture(sample_copy: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Capture folder layout", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (sample_copy / "capture.yaml").write_text(example)
    cap = open_capture(sample_copy)
    assert (cap.frame_count, [c.sensor_id for c in cap.cameras]) == (5, ["cam_front", "cam_left"])


def test_manifest_loads_the_same_with_libyaml_and_pure_python() -> None:
    from sfs_kit import _documents
    from sfs_kit.capture.manifest import CaptureManifest

    path = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture" / "capture.yaml"
    fast = load_manifest(path)
    pure = _documents.load_yaml(path.read_text(), source=str(path), what="Capture manifest",
                                loader=_documents.PureStrictYamlLoader)
    assert CaptureManifest.model_validate(pure) == fast


# --- units and extrinsics direction are declared, never defaulted (issue 3) ------------------


@pytest.mark.parametrize(("old", "new", "field"), [
    (", direction: sensor_to_ego}\n    intensity_max", "}\n    intensity_max",
     r"lidars\[0\]\.extrinsics\.direction"),
    ("{file: cam_extr.json, direction: sensor_to_ego}", "{file: cam_extr.json}",
     r"cameras\[0\]\.extrinsics\.direction"),
    ("poses: {file: poses.csv, time_unit: us}", "poses: {file: poses.csv}",
     r"poses\.time_unit"),
    ("point_time: {unit: s, reference: frame}", "point_time: {reference: frame}",
     r"lidars\[0\]\.point_time\.unit"),
    ("point_time: {unit: s, reference: frame}", "point_time: {unit: s}",
     r"lidars\[0\]\.point_time\.reference"),
])
def test_manifest_requires_declared_units_and_direction(
    folder: Path, old: str, new: str, field: str
) -> None:
    _edit(folder, old, new)
    with pytest.raises(InputError, match=rf"Capture manifest '.*capture.yaml': field '{field}': "
                                         r"Field required") as caught:
        open_capture(folder)
    assert caught.value.field is not None


def test_point_time_is_required_only_when_the_clouds_have_point_times(
    make_folder: Callable[..., Path],
) -> None:
    with_times = make_folder()
    _edit(with_times, "    point_time: {unit: s, reference: frame}\n", "")
    frame = open_capture(with_times).lidars[0].frames[0]  # the manifest alone is fine
    with pytest.raises(InputError, match=r"capture.yaml: lidars\[0\]\.point_time: is missing, "
                                         r"but '.*000.pcd' has per-point times; declare their "
                                         r"unit and reference"):
        frame.load()


def test_pose_time_unit_contradicting_the_column_suffix(folder: Path) -> None:
    poses = folder / "poses.csv"
    poses.write_text(poses.read_text().replace("t,x,y,z", "timestamp_us,x,y,z", 1))
    ego = open_capture(folder).ego_poses
    assert ego is not None
    assert ego.timestamps_us[0] == START_US
    _edit(folder, "time_unit: us", "time_unit: ns")
    with pytest.raises(InputError, match=r"Timestamp column 'timestamp_us' says unit 'us' but the "
                                         r"declared time unit is 'ns'"):
        open_capture(folder)


def test_float_intensity_needs_intensity_max_in_the_manifest(
    make_folder: Callable[..., Path],
) -> None:
    folder = make_folder(camera=False)
    _edit(folder, "    intensity_max: 255\n", "")
    frame = open_capture(folder).lidars[0].frames[0]
    with pytest.raises(InputError, match=r"capture.yaml: lidars\[0\]\.intensity_max: is missing, "
                                         r"but '.*000.pcd' stores intensity as floats with no "
                                         r"nominal range; declare the raw value that becomes 255"):
        frame.load()
