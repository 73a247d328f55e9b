"""Real LAS captures carried faithfully: colours, the 8-bit/16-bit intensity decision, recentring.

laspy's real samples (fixtures/laspy) store 8-bit intensity and colour in 16-bit fields and use
State Plane coordinates (x ~ 637,000 ft), so they exercise all three at once; laspy is the
independent reader and Scale's own reader checks the written scene.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import laspy
import numpy as np
import pytest

from sfs_kit.capture import convert_capture, read_capture_scene
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.errors import InputError
from sfs_kit.models import LidarSensor, Scene
from sfs_kit.models.validate import validate
from sfs_kit.readers import PointCloud, write_pcd

from .conftest import ROOT, START_US

LASPY = ROOT / "fixtures" / "laspy"


def _las_capture(root: Path, names: list[str], *, extra: str = "") -> Path:
    root.mkdir()
    for k, name in enumerate(names):
        shutil.copy(LASPY / name if "/" not in name else name, root / f"{k:03d}.las")
    (root / "ts.txt").write_text("".join(f"{START_US + k * 100_000}\n" for k in range(len(names))))
    (root / "capture.yaml").write_text(
        "version: 1\nlidars:\n  - id: als\n    files: '*.las'\n"
        "    timestamps: {file: ts.txt, unit: us}\n    frame: world\n"
        "    point_time: {unit: s, reference: absolute}\n" + extra
    )
    return root


def _frame(scene: Scene, k: int = 0) -> LidarSensor:
    sensor = scene.sensors[0]
    assert isinstance(sensor, LidarSensor)
    return sensor


def _las_without_time(tmp_path: Path, name: str, *, intensity: np.ndarray | None = None) -> Path:
    """A copy of a laspy sample without gps_time (format 3 -> 2), intensity optionally replaced."""
    las = laspy.read(LASPY / name)
    out = laspy.convert(las, point_format_id=2, file_version="1.2")
    if intensity is not None:
        out.intensity = intensity
    path = tmp_path / f"{name}.{0 if intensity is None else int(intensity.max())}.las"
    out.write(path)
    return path


def test_las_colours_and_8bit_intensity_reach_the_sfs(tmp_path: Path) -> None:
    las = laspy.read(LASPY / "simple.las")
    cap = _las_capture(tmp_path / "cap", [str(_las_without_time(tmp_path, "simple.las"))])
    result = convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    assert (
        "lidar 'als': the LAS 16-bit intensity field holds 8-bit values (every value <= 255 in "
        f"{cap / '000.las'}): kept as 0..255; declare intensity_max to choose another scale."
    ) in result.notes
    scene = Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))
    points = _frame(scene).frames[0].points
    assert points.colors is not None
    # laspy's sample stores 8-bit colour in its 16-bit fields: kept as is
    assert np.array_equal(points.colors, np.c_[las.red, las.green, las.blue].astype(np.uint8))
    assert points.intensities is not None
    assert np.array_equal(points.intensities, np.asarray(las.intensity, dtype=np.uint8))
    assert int(points.intensities.max()) == 254  # not collapsed to 0 by a 65535 scale

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene

        raw = read_file(str(tmp_path / "o.sfs"))
        assert parse_and_validate_scene(raw).success is True
    scale_colors = np.asarray(raw["sensors"][0]["frames"][0]["points"]["colors"]).reshape(-1, 3)
    assert np.array_equal(scale_colors, points.colors)


def test_16bit_las_intensity_is_scaled_and_reported(tmp_path: Path) -> None:
    n = len(laspy.read(LASPY / "simple.las").points)
    wide = np.linspace(0, 65535, n).astype(np.uint16)
    cap = _las_capture(tmp_path / "cap", [str(_las_without_time(tmp_path, "simple.las",
                                                                intensity=wide))])
    result = convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    assert any("holds 16-bit values (up to 65535" in note and "scaled 0..65535 -> 0..255" in note
               for note in result.notes)
    points = _frame(Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))).frames[0].points
    assert points.intensities is not None
    assert (int(points.intensities[0]), int(points.intensities[-1])) == (0, 255)


def test_a_16bit_later_file_decides_the_scale_of_the_whole_lidar(tmp_path: Path) -> None:
    n = len(laspy.read(LASPY / "simple.las").points)
    narrow = _las_without_time(tmp_path, "simple.las")
    wide = _las_without_time(tmp_path, "simple.las", intensity=np.full(n, 4000, np.uint16))
    cap = _las_capture(tmp_path / "cap", [str(narrow), str(wide)])
    result = convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    assert (
        f"lidar 'als': the LAS 16-bit intensity field holds 16-bit values (up to 4000 in "
        f"{cap / '001.las'}): scaled 0..65535 -> 0..255 for every frame."
    ) in result.notes
    frames = _frame(Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))).frames
    want = np.rint(np.asarray(laspy.read(narrow).intensity) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(frames[0].points.intensities, want)  # type: ignore[arg-type]
    assert set(frames[1].points.intensities.tolist()) == {16}  # type: ignore[union-attr]
    declared = _las_capture(tmp_path / "cap2", [str(narrow), str(wide)],
                            extra="    intensity_max: 65535\n")
    result = convert_capture(declared, tmp_path / "d.sfs", format="sfs")
    assert not any("LAS 16-bit intensity" in note for note in result.notes)


@pytest.mark.parametrize(("second", "bits"), [("plane.laz", 16), ("autzen.las", 8)])
def test_a_dark_first_file_does_not_decide_the_intensity_scale(
        tmp_path: Path, second: str, bits: int) -> None:
    # laspy's unregistered_extra_bytes.las: every intensity 0, which fits either scale; the
    # decision is over the lidar's files: plane.laz reaches 37,888 (16-bit), autzen.las 238
    dark = _las_without_time(tmp_path, "unregistered_extra_bytes.las")
    other = _las_without_time(tmp_path, second)
    cap = _las_capture(tmp_path / "cap", [str(dark), str(other)])
    result = convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    frames = _frame(Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))).frames
    raw = np.asarray(laspy.read(LASPY / second).intensity, dtype=np.float64)
    if bits == 16:
        assert (f"holds 16-bit values (up to 37888 in {cap / '001.las'}): scaled 0..65535 -> "
                "0..255 for every frame.") in "\n".join(result.notes)
        want = np.rint(raw * 255 / 65535).astype(np.uint8)
    else:
        assert ("holds 8-bit values (every value <= 255 in all 2 files of the lidar): kept as "
                "0..255") in "\n".join(result.notes)
        want = raw.astype(np.uint8)
    assert np.array_equal(frames[1].points.intensities, want)  # type: ignore[arg-type]
    assert not frames[0].points.intensities.any()  # type: ignore[union-attr]


def test_recentring_a_world_capture_without_poses_keeps_the_ego_beside_the_points(
    tmp_path: Path,
) -> None:
    cap = _las_capture(tmp_path / "cap", [str(_las_without_time(tmp_path, "simple.las"))])
    scene = read_capture_scene(cap)
    assert scene.metadata is not None
    origin = np.asarray(scene.metadata["sfs_kit"]["origin_offset"])
    assert float(np.abs(origin).max()) > 600_000  # State Plane feet: recentred automatically
    lidar = _frame(scene)
    pose = np.asarray(lidar.poses.values[0])
    positions = lidar.frames[0].points.positions
    centre = (positions.min(axis=0) + positions.max(axis=0)) / 2
    assert float(np.abs(pose[:3] - centre).max()) < 1.0  # the static ego sits at the points
    assert float(np.abs(centre).max()) < 1.0  # and the points sit around the new origin
    assert [i for i in validate(scene) if i.code == "V-O1"] == []
    las = laspy.read(LASPY / "simple.las")  # and the points are exactly where laspy has them
    np.testing.assert_allclose(positions.astype(np.float64) + origin,
                               np.c_[las.x, las.y, las.z], atol=0.01)


def test_pcd_colours_reach_the_sfs_and_split_base64_reports_dropping_them(
    tmp_path: Path,
) -> None:
    root = tmp_path / "cap"
    root.mkdir()
    rng = np.random.default_rng(3)
    colours = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    for k in range(2):
        cloud = PointCloud(positions=rng.uniform(-5, 5, (40, 3)).astype(np.float32), source="t",
                           format="pcd", colors=colours)
        write_pcd(root / f"{100 * k}.pcd", cloud)
    (root / "capture.yaml").write_text(
        "version: 1\nlidars:\n  - id: lidar\n    files: '*.pcd'\n"
        "    timestamps: {from_filename: true, unit: ms}\n"
    )
    convert_capture(root, tmp_path / "o.sfs", format="sfs", voxel_size_m=None)
    scene = Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))
    written = _frame(scene).frames[1].points.colors
    assert written is not None
    assert np.array_equal(written, colours)
    frames = convert_capture(root, tmp_path / "frames", format="split_base64")
    assert (
        "lidar 'lidar': 2 frame(s) have point colours, which split_base64 does not carry (spec "
        "4.2): they were dropped; convert to .sfs to keep them."
    ) in frames.notes


def test_downsampling_keeps_each_point_with_its_colour(tmp_path: Path) -> None:
    root = tmp_path / "cap"
    root.mkdir()
    positions = np.arange(300, dtype=np.float32).reshape(100, 3)
    colours = np.repeat(np.arange(100, dtype=np.uint8)[:, None], 3, axis=1)
    write_pcd(root / "5.pcd", PointCloud(positions=positions, source="t", format="pcd",
                                          colors=colours))
    (root / "capture.yaml").write_text(
        "version: 1\nlidars:\n  - id: lidar\n    files: '*.pcd'\n"
        "    timestamps: {from_filename: true, unit: ms}\n"
    )
    scene = read_capture_scene(root, max_points_per_frame=10)
    points = _frame(scene).frames[0].points
    assert points.colors is not None
    assert len(points.colors) == 10
    rows = (points.positions[:, 0] / 3).astype(np.int64)
    assert np.array_equal(points.colors[:, 0], rows.astype(np.uint8))


def test_survey_gps_times_beyond_sfs_range_can_be_left_out(tmp_path: Path) -> None:
    # laspy's simple.las is an airborne survey: its GPS times span 4,413 s, more than SFS's uint32
    # µs point times hold (71.6 minutes); the error says so and how to leave them out
    las = laspy.read(LASPY / "simple.las")
    cap = _las_capture(tmp_path / "cap", ["simple.las"])
    (cap / "ts.txt").write_text(f"{int(float(np.min(las.gps_time)) * 1e6)}\n")
    with pytest.raises(InputError, match=r"per-point times span \[0, 4412745094\] us .*declare "
                                         r"'point_time: ignore' to leave them out") as err:
        convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    assert err.value.field == "time"
    manifest = cap / "capture.yaml"
    manifest.write_text(manifest.read_text().replace(
        "point_time: {unit: s, reference: absolute}", "point_time: ignore"))
    result = convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    assert "lidar 'als': per-point times in its cloud files are not carried (point_time: ignore)." \
        in result.notes
    points = _frame(Scene.model_validate(read_sfs_dict(tmp_path / "o.sfs"))).frames[0].points
    assert points.timestamps is None
    assert points.positions.shape == (len(las.points), 3)
