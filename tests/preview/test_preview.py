"""``sfs-kit preview`` and ``render_preview``: the PNG is looked at, not only written."""

from __future__ import annotations

import io
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.geometry_scenes import build_geometry_scene

from sfs_kit import write_sfs
from sfs_kit.capture import convert_capture
from sfs_kit.cli import main
from sfs_kit.models import CameraSensor, LidarSensor, Scene
from sfs_kit.models.geometry import matrix_to_quat
from sfs_kit.preview import (
    PreviewOptions,
    decode_camera_image,
    open_preview_scene,
    render_preview,
    write_rerun,
)
from sfs_kit.preview.render import world_points

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
GREY = (128, 128, 128)
W, H, F = 320, 240, 160.0
# the patch: 4 m wide, 2 m tall, 10 m in front of the camera -> u 128..192, v 104..136
PATCH_U, PATCH_V = (W / 2 - 32, W / 2 + 32), (H / 2 - 16, H / 2 + 16)


def _grey_png(width: int, height: int) -> npt.NDArray[np.uint8]:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), GREY).save(buf, format="PNG")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _known_scene() -> Scene:
    """One camera looking along world +x from (0, 0, 1.5); a point patch 10 m ahead."""
    rot = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])  # optical x, y, z in world
    q = matrix_to_quat(rot).tolist()
    xs, ys = np.meshgrid(np.linspace(-2, 2, 81), np.linspace(-1, 1, 41))
    patch_cam = np.column_stack([xs.ravel(), ys.ravel(), np.full(xs.size, 10.0)])
    patch_world = patch_cam @ rot.T + [0.0, 0.0, 1.5]
    times = [0, 100_000, 200_000]
    return Scene.model_validate({"version": "1.0", "sensors": [
        {"type": "lidar", "id": "lidar", "poses": {
            "timestamps": times, "values": [[0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 1.0]] * 3},
         "frames": [{"timestamp": t, "points": {"positions": patch_world.astype(np.float32)}}
                    for t in times]},
        {"type": "camera", "id": "cam", "poses": {"timestamps": times,
                                                  "values": [[0.0, 0.0, 1.5, *q]] * 3},
         "intrinsics": {"fx": F, "fy": F, "cx": W / 2, "cy": H / 2, "width": W, "height": H},
         "images": [{"timestamp": t, "content": _grey_png(W, H)} for t in times]},
    ]})


def _pixels(png: bytes) -> npt.NDArray[np.int16]:
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_projected_points_land_where_the_geometry_says(tmp_path: Path) -> None:
    out = tmp_path / "known.png"
    layout, png = render_preview(_known_scene(), out)
    assert out.read_bytes() == png
    pixels = _pixels(png)
    assert pixels.shape == (layout.height, layout.width, 3)
    assert layout.width == 1700
    background = np.all(pixels == 255, axis=2)
    assert 0.03 < 1 - background.mean() < 0.6
    (panel,) = layout.cameras
    # the library's own account of what it drew
    assert len(panel.uv) == 81 * 41
    assert panel.uv[:, 0].min() == pytest.approx(PATCH_U[0])
    assert panel.uv[:, 0].max() == pytest.approx(PATCH_U[1])
    assert panel.uv[:, 1].min() == pytest.approx(PATCH_V[0])
    assert panel.depth_m == pytest.approx(np.full(len(panel.uv), 10.0))
    # and the picture: inside the panel, every non-grey pixel is inside the patch rectangle
    box = panel.box
    sx, sy = (box.right - box.left) / W, (box.bottom - box.top) / H
    top, bottom = math.ceil(box.top) + 2, math.floor(box.bottom) - 2
    left, right = math.ceil(box.left) + 2, math.floor(box.right) - 2
    inner = pixels[top:bottom, left:right]
    marked = np.any(np.abs(inner - np.array(GREY)) > 40, axis=2)
    rows, cols = np.nonzero(marked)
    u = (cols + left + 0.5 - box.left) / sx
    v = (rows + top + 0.5 - box.top) / sy
    margin = 3 / sx  # a marker's radius in image pixels
    assert len(u) > 500
    inside = ((u > PATCH_U[0] - margin) & (u < PATCH_U[1] + margin)
              & (v > PATCH_V[0] - margin) & (v < PATCH_V[1] + margin))
    assert inside.mean() > 0.99
    # the patch is filled, not one corner of it
    assert u.min() < PATCH_U[0] + 4
    assert u.max() > PATCH_U[1] - 4
    assert v.min() < PATCH_V[0] + 4
    assert v.max() > PATCH_V[1] - 4


def test_birds_eye_view_puts_the_points_where_they_are_in_the_world(tmp_path: Path) -> None:
    """The patch moved to stand 10 m ahead along world +x, spanning y 1..5: in the bird's-eye
    raster (one array pixel per PNG pixel) its dots sit on that line segment and nowhere else."""
    from matplotlib import colormaps

    tree = _known_scene().to_sfs_dict()
    lidar = tree["sensors"][0]  # world-frame points; the lidar drives to y = -6 (below)
    for frame in lidar["frames"]:
        frame["points"]["positions"] = frame["points"]["positions"] + np.array([0, 3, 0],
                                                                               np.float32)
    lidar["poses"]["values"] = [[0.0, -3.0 * i, 1.5, 0.0, 0.0, 0.0, 1.0] for i in range(3)]
    layout, png = render_preview(Scene.model_validate(tree), None)
    assert layout.bev_extent_m is not None
    x0, x1, y0, y1 = layout.bev_extent_m
    box = layout.bev_box
    m_per_px = (x1 - x0) / (box.right - box.left)
    assert (y1 - y0) / (box.bottom - box.top) == pytest.approx(m_per_px, rel=0.01)  # square px
    last = np.round(np.asarray(colormaps["viridis"](1.0)[:3]) * 255).astype(int)
    pixels = _pixels(png)
    rows, cols = np.nonzero(np.all(np.abs(pixels - last) <= 1, axis=2))
    inside = ((cols >= box.left) & (cols < box.right) & (rows >= box.top) & (rows < box.bottom))
    x = x0 + (cols[inside] + 0.5 - box.left) * m_per_px
    y = y1 - (rows[inside] + 0.5 - box.top) * m_per_px
    assert len(x) > 20
    assert np.all(np.abs(x - 10.0) < 2.5 * m_per_px)
    assert np.all(np.abs(y - 3.0) < 2.0 + 2.5 * m_per_px)
    assert y.min() < 1.5
    assert y.max() > 4.5


def test_camera_wedges_span_the_horizontal_field_of_view() -> None:
    from sfs_kit.models import CameraIntrinsics, Distortion
    from sfs_kit.preview.render import _horizontal_fov

    pinhole = CameraIntrinsics(fx=F, fy=F, cx=W / 2, cy=H / 2, width=W, height=H)
    left, right = _horizontal_fov(pinhole)  # 2 atan(160 / 160) = 90 degrees
    assert math.degrees(left) == pytest.approx(-44.5)
    assert math.degrees(right) == pytest.approx(44.5)
    full = CameraIntrinsics(fx=W / (2 * math.pi), fy=H / math.pi, cx=W / 2, cy=H / 2, width=W,
                            height=H, distortion=Distortion(model="equirectangular"))
    left, right = _horizontal_fov(full)
    assert math.degrees(right - left) > 355


def test_timeline_rows_say_how_many_stamps_at_what_rate() -> None:
    from sfs_kit.preview.timeline import timeline_rows

    labels = [label for label, _ in timeline_rows(build_geometry_scene(frames=4), 1e6)]
    assert labels[:3] == ["lidar_top frames (4, 10 Hz)", "lidar_top poses (4, 10 Hz)",
                          "cam_front images (4, 10 Hz)"]


def test_street_scene_golden_statistics(tmp_path: Path) -> None:
    layout, png = render_preview(build_geometry_scene(), tmp_path / "street.png",
                                 PreviewOptions(frames=6, max_points=20_000))
    assert (layout.width, layout.height) == (1700, _pixels(png).shape[0])
    assert layout.frame == 15
    assert layout.frames == (0, 6, 12, 17, 23, 29)
    assert layout.bev_points == 6 * (20_000 // 6) or layout.bev_points <= 20_000
    by_id = {c.sensor_id: c for c in layout.cameras}
    assert sorted(by_id) == ["cam_front", "cam_left", "cam_rear"]
    for panel in by_id.values():
        # the street's ground and walls: most projected points lie below the horizon row
        assert len(panel.uv) > 200
        assert np.mean(panel.uv[:, 1] >= H / 2 - 2) > 0.5
    # the bird's-eye view is drawn: coloured pixels inside its box
    pixels = _pixels(png)
    b = layout.bev_box
    inner = pixels[int(b.top) + 3:int(b.bottom) - 3, int(b.left) + 3:int(b.right) - 3]
    assert np.mean(np.any(inner != 255, axis=2)) > 0.05


def test_camera_image_decoding_is_one_function(tmp_path: Path) -> None:
    scene = build_geometry_scene(frames=2)
    camera = next(s for s in scene.sensors if s.id == "cam_front")
    rgb = decode_camera_image(camera, 1)  # type: ignore[arg-type]
    assert rgb.shape == (240, 320, 3)
    assert rgb.dtype == np.uint8
    assert tuple(rgb[10, 10]) == (200, 80, 60)  # rows 0..3 are a darker stripe


def test_big_jpegs_decode_at_a_reduced_scale() -> None:
    from sfs_kit.preview.images import decode_image_bytes

    buf = io.BytesIO()
    Image.new("RGB", (1920, 1080), (10, 200, 30)).save(buf, format="JPEG")
    assert decode_image_bytes(buf.getvalue(), max_width=400).shape == (270, 480, 3)
    assert decode_image_bytes(buf.getvalue()).shape == (1080, 1920, 3)


# --- inputs --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def street_sfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("street") / "street.sfs"
    write_sfs(build_geometry_scene(), path)
    return path


def test_cli_preview_of_an_sfs(street_sfs: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.png"
    assert main(["preview", str(street_sfs), "-o", str(out), "--frame", "3", "--frames", "0,3,9",
                 "--cameras", "cam_front,cam_rear", "--max-points", "5000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "sfs"
    assert report["frame"] == 3
    assert report["frames"] == [0, 3, 9]
    assert [c["id"] for c in report["cameras"]] == ["cam_front", "cam_rear"]
    with Image.open(out) as img:
        assert img.size == (report["width"], report["height"])
    # the same output again needs --overwrite
    assert main(["preview", str(street_sfs), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cameras", "cam_nope"], "no camera 'cam_nope'"),
        (["--frame", "99"], "Frame 99 is out of range"),
        (["--frames", "0,77"], "Frame 77 is out of range"),
    ],
)
def test_cli_preview_refuses_what_the_scene_lacks(
    street_sfs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
    message: str,
) -> None:
    out = tmp_path / "bad.png"
    assert main(["preview", str(street_sfs), "-o", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_preview_of_a_scale_written_sfs(tmp_path: Path) -> None:
    sjb = pytest.importorskip("scale_json_binary")
    tree = build_geometry_scene(frames=4).to_sfs_dict()
    path = tmp_path / "scale.sfs"
    sjb.write_file(str(path), tree)
    with open_preview_scene(path) as source:
        assert source.kind == "sfs"
        layout, _ = render_preview(source.scene, tmp_path / "scale.png")
    assert len(layout.cameras) == 3
    assert all(len(c.uv) > 0 for c in layout.cameras)


def test_preview_of_a_capture_and_of_its_frames(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    capture = FIXTURES / "sample_capture"
    out = tmp_path / "capture.png"
    assert main(["preview", str(capture), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "capture"
    assert [c["id"] for c in report["cameras"]] == ["cam_front", "cam_left"]
    frames_dir = tmp_path / "frames"
    convert_capture(capture, frames_dir, format="split_base64")
    out2 = tmp_path / "frames.png"
    assert main(["preview", str(frames_dir), "-o", str(out2), "--json"]) == 0
    report2 = json.loads(capsys.readouterr().out)
    assert report2["kind"] == "frames"
    assert [c["id"] for c in report2["cameras"]] == ["cam_front", "cam_left"]
    # the same lidar points project into the cameras from both inputs
    assert [c["points"] > 0 for c in report2["cameras"]] == [c["points"] > 0
                                                             for c in report["cameras"]]


def test_inputs_keep_only_what_the_preview_draws(tmp_path: Path) -> None:
    capture = FIXTURES / "sample_capture"
    options = PreviewOptions(frame=1, frames=[0, 3], max_points=300)
    with open_preview_scene(capture, options=options) as source:  # converted, thinned
        (lidar,) = [s for s in source.scene.sensors if isinstance(s, LidarSensor)]
        sizes = [len(f.points.positions) for f in lidar.frames]
        assert max(sizes) == 300
    frames_dir = tmp_path / "frames"
    convert_capture(capture, frames_dir, format="split_base64")
    with open_preview_scene(frames_dir, options=options) as source:
        (lidar,) = [s for s in source.scene.sensors if isinstance(s, LidarSensor)]
        sizes = [len(f.points.positions) for f in lidar.frames]
        assert [n > 0 for n in sizes] == [True, True, False, True, False]
        assert max(sizes) == 300


def _real_capture(root: Path) -> Path:
    """The laspy cloud (its x, y, z, read by our LAS reader: its GPS-week point times span 74
    minutes, more than one frame can hold) as two lidar frames in the world, and the OpenCV
    chessboard camera with its calibration file, looking down at the cloud from above."""
    from sfs_kit.readers import read_las

    (root / "lidar").mkdir(parents=True)
    (root / "cam").mkdir()
    cloud = read_las(FIXTURES / "laspy" / "simple.las")
    xyz = np.asarray(cloud.positions, dtype=np.float64) + (cloud.origin_m if cloud.origin_m
                                                            is not None else 0.0)
    centre = np.round(xyz.mean(axis=0))
    for i in range(2):
        np.save(root / "lidar" / f"{i:06d}.npy", (xyz - centre).astype(np.float32))
        shutil.copy(FIXTURES / "opencv" / f"left0{i + 1}.jpg", root / "cam" / f"{i * 100000}.jpg")
    (root / "lidar" / "timestamps.txt").write_text("0\n100000\n")
    shutil.copy(FIXTURES / "opencv" / "left_intrinsics.yml", root / "left_intrinsics.yml")
    (root / "capture.yaml").write_text(
        "version: 1\nname: real\nlidars:\n  - id: las\n    files: lidar/*.npy\n"
        "    columns: [x, y, z]\n"
        "    timestamps: {file: lidar/timestamps.txt, unit: us}\n    frame: world\n"
        "cameras:\n  - id: chessboard\n    files: cam/*.jpg\n"
        "    timestamps: {from_filename: true, unit: us}\n"
        "    intrinsics: {file: left_intrinsics.yml}\n"
        "    extrinsics: {translation_m: [0, 0, 150], quat_xyzw: [1, 0, 0, 0], "
        "direction: sensor_to_ego}\n")
    return root


def test_real_data_runs_through_preview(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    capture = _real_capture(tmp_path / "real")
    out = tmp_path / "real.png"
    code = main(["preview", str(capture), "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["bev_points"] > 1000
    assert report["cameras"][0]["id"] == "chessboard"
    with Image.open(out) as img:
        assert img.size == (report["width"], report["height"])
        pixels = np.asarray(img.convert("RGB"))
    assert np.mean(np.any(pixels != 255, axis=2)) > 0.05


# --- rerun ---------------------------------------------------------------------------------------


def _chunks_by_entity(path: Path) -> dict[str, list[Any]]:
    from rerun.chunk import RrdReader

    out: dict[str, list[Any]] = {}
    for chunk in RrdReader(path).store().stream():
        out.setdefault(chunk.entity_path, []).append(chunk)
    return out


def _values(chunks: list[Any], suffix: str) -> list[Any]:
    """The non-empty values of the column ending in ``suffix``, over all ``chunks``."""
    out: list[Any] = []
    for chunk in chunks:
        batch = chunk.to_record_batch()
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            if name.endswith(suffix):
                out.extend(v for v in col.to_pylist() if v is not None)
    return out


def test_rerun_recording_loads_back(tmp_path: Path) -> None:
    pytest.importorskip("rerun")
    scene = build_geometry_scene(frames=5)
    path = tmp_path / "street.rrd"
    assert write_rerun(scene, path, max_points=1000) == 5
    chunks = _chunks_by_entity(path)
    points = chunks["/world/lidar_top/points"]
    assert sum(c.num_rows for c in points) == 5
    batch = points[0].to_record_batch()
    positions = next(col for name, col in zip(batch.schema.names, batch.columns, strict=True)
                     if name.endswith("Points3D:positions"))
    expected = world_points(scene.sensors[0], 0, 1000)  # type: ignore[arg-type]
    np.testing.assert_allclose(np.asarray(positions[0].as_py()), expected, rtol=1e-6)
    assert "/world/lidar_top/trajectory" in chunks
    for cam in ("cam_front", "cam_left", "cam_rear"):
        columns = {name for c in chunks[f"/world/{cam}"]
                   for name in c.to_record_batch().schema.names}
        assert any(n.endswith("Pinhole:image_from_camera") for n in columns)
        assert any(n.endswith("Transform3D:translation") for n in columns)
        assert any(n.endswith("EncodedImage:blob") for n in columns)
        # one pose and one image per camera image (however rerun batched them into chunks)
        translations = _values(chunks[f"/world/{cam}"], "Transform3D:translation")
        assert len(translations) == 5
        assert len(_values(chunks[f"/world/{cam}"], "EncodedImage:blob")) == 5
        camera = next(s for s in scene.sensors if isinstance(s, CameraSensor) and s.id == cam)
        np.testing.assert_allclose(sorted(np.asarray(translations).reshape(-1, 3).tolist()),
                                   sorted(camera.poses.values[:, :3].tolist()), rtol=1e-6)


def test_cli_preview_writes_the_rerun_file_too(street_sfs: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rerun")
    rrd = tmp_path / "s.rrd"
    assert main(["preview", str(street_sfs), "-o", str(tmp_path / "s.png"), "--frames", "4",
                 "--rerun", str(rrd)]) == 0
    assert "Rerun recording of 4 lidar frames" in capsys.readouterr().out
    chunks = _chunks_by_entity(rrd)
    assert sum(c.num_rows for c in chunks["/world/lidar_top/points"]) == 4
    # every camera pose, but only the images of the four frames drawn
    for cam in ("cam_front", "cam_left", "cam_rear"):
        assert len(_values(chunks[f"/world/{cam}"], "EncodedImage:blob")) == 4
        assert len(_values(chunks[f"/world/{cam}"], "Transform3D:translation")) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png", "s.rrd"]  # no temp left


def test_the_readme_preview_example_runs(tmp_path: Path) -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    (line,) = [b for b in blocks if "sfs-kit preview" in b]
    args = line.split("sfs-kit", 1)[1].split()
    args = [a.replace("/tmp/", f"{tmp_path}/") for a in args]
    args = [str(ROOT / a) if a.startswith("fixtures/") else a for a in args]
    assert main(args) == 0
    assert (tmp_path / "sample_preview.png").stat().st_size > 10_000
