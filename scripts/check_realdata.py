"""Check our readers and converter on every committed real fixture (run by hand or by the tests).

``.venv/bin/python scripts/check_realdata.py [--json]``

Each real point cloud under ``fixtures/`` (laspy, pypcd4, pyvista samples; see each folder's
ATTRIBUTION.md) is read by

- our reader (``read_point_cloud``) and ``inspect`` (``describe_input``),
- the independent reader of its kind: laspy for LAS/LAZ, pypcd4 for PCD, plyfile for PLY, and
  open3d (PCD/PLY) or PCL's ``pcl_pcd2ply`` where they are installed,
- the converter: a one-frame capture folder holding a copy of the file, converted to .sfs, read
  back by our reader and by Scale's own (``scale_json_binary`` + ``scale_sensor_fusion_io``'s
  ``parse_and_validate_scene``).

Printed per file: points read (ours / reference), the largest coordinate difference from the
reference (file units, after the converter's recentring is undone), whether colours and
intensities equal the reference's (colours and the sensor's intensity scale as the converter
documents them: 16-bit colour >> 8 unless every value <= 255; LAS intensity kept when every value
<= 255, else scaled 0..65535 -> 0..255), and whether Scale's reader accepts the .sfs. Real
images (OpenCV's samples) are compared with Pillow: format and pixel size. scale-lidar-toolkit's
radar files are compared with NumPy's ``loadtxt`` (every column), then converted in the toolkit's
folder layout (a small generated cloud beside them) to an .sfs radar sensor that Scale's reader
must accept, with the positions, directions and sizes as written (radar_frame world). Files our
readers refuse on purpose are listed with the reason they must give. Exit status 1 when any row
fails.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.capture import convert_capture
from sfs_kit.capture.options import ConvertOptions
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.errors import SfsKitError
from sfs_kit.models import LidarSensor, RadarSensor, Scene
from sfs_kit.readers import describe_input, read_image, read_point_cloud
from sfs_kit.readers.scale_radar import read_scale_radar

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CLOUD_DIRS = ("laspy", "pypcd4", "pyvista")
CLOUD_SUFFIXES = (".las", ".laz", ".pcd", ".ply")
IMAGE_DIRS = ("opencv",)
RADAR_DIRS = ("scale_lidar_toolkit/radar_points",)
# float32 keeps ~7 significant digits: State Plane feet (6 digits before the point) are recentred
# on a whole unit first, so what is left is float32 rounding of a few hundred units
POSITION_TOLERANCE = 1e-3
# files our readers refuse on purpose, with the reason the error must give
EXPECTED_REFUSALS = {
    "ascii_multi_count.pcd": r"holds \(4,\) values a point \(e\.g\. a PCD COUNT > 1\)",
}

# SFS stores per-point times as uint32 µs after the scene start (71.6 minutes); an airborne
# survey's GPS times can span more, so such a file is converted with ``point_time: ignore``
MAX_POINT_TIME_US = 2**32 - 1

Array = npt.NDArray[Any]


@dataclass
class Reference:
    """What an independent reader found: float64 positions, 8-bit colours, raw intensities."""

    reader: str
    positions: Array
    colors: Array | None = None
    intensity: Array | None = None


@dataclass
class Row:
    """One fixture's result; ``ok`` is False when anything disagreed or failed."""

    file: str
    kind: str
    reference: str
    points_ours: int | None = None
    points_ref: int | None = None
    max_error: float | None = None
    sfs_max_error: float | None = None
    colors: str = "-"
    intensity: str = "-"
    inspect: str = "-"
    scale_valid: str = "-"
    others: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.problems


# ---------------------------------------------------------------------------- references


def _eight_bit(values: Array) -> Array:
    """16-bit colour as the converter stores it: kept if every value <= 255, else >> 8."""
    values = np.asarray(values)
    if values.size and int(values.max()) > 255:
        return (values.astype(np.uint32) >> 8).astype(np.uint8)
    return values.astype(np.uint8)


def _laspy_reference(path: Path) -> Reference:
    import laspy

    las = laspy.read(path)
    dims = set(las.point_format.dimension_names)
    colors = None
    if {"red", "green", "blue"} <= dims:
        colors = _eight_bit(np.c_[las.red, las.green, las.blue])
    return Reference("laspy", np.c_[las.x, las.y, las.z].astype(np.float64), colors,
                     np.asarray(las.intensity))


def _pypcd4_reference(path: Path) -> Reference:
    from pypcd4.pypcd4 import PointCloud as PypcdCloud

    pc = PypcdCloud.from_path(path)
    data = pc.pc_data
    names = data.dtype.names or ()
    positions = np.c_[data["x"], data["y"], data["z"]].astype(np.float64)
    colors = None
    if "rgb" in names or "rgba" in names:
        packed = np.ascontiguousarray(data["rgb" if "rgb" in names else "rgba"])
        bits = packed.view(np.uint32) if packed.dtype.kind == "f" else packed.astype(np.uint32)
        colors = np.c_[(bits >> 16) & 255, (bits >> 8) & 255, bits & 255].astype(np.uint8)
    intensity = np.asarray(data["intensity"]) if "intensity" in names else None
    return Reference("pypcd4", positions, colors, intensity)


def _plyfile_reference(path: Path) -> Reference:
    import plyfile  # type: ignore[import-untyped]

    vertex = plyfile.PlyData.read(str(path))["vertex"]
    names = {p.name for p in vertex.properties}
    positions = np.c_[vertex["x"], vertex["y"], vertex["z"]].astype(np.float64)
    colors = None
    if {"red", "green", "blue"} <= names:
        colors = _eight_bit(np.c_[vertex["red"], vertex["green"], vertex["blue"]])
    intensity = np.asarray(vertex["intensity"]) if "intensity" in names else None
    return Reference("plyfile", positions, colors, intensity)


REFERENCES: dict[str, Callable[[Path], Reference]] = {
    ".las": _laspy_reference, ".laz": _laspy_reference,
    ".pcd": _pypcd4_reference, ".ply": _plyfile_reference,
}


def _open3d() -> tuple[Any | None, str]:
    try:
        return importlib.import_module("open3d"), "open3d"
    except (ImportError, OSError) as err:  # a missing system library: ImportError or OSError
        return None, f"open3d not importable ({type(err).__name__}: {str(err)[:80]})"


def _other_readers(path: Path, ours: Array, o3d: Any | None) -> list[str]:
    """Positions from open3d and PCL's pcl_pcd2ply where installed, compared with ours."""
    found: list[str] = []
    if o3d is not None and path.suffix in (".pcd", ".ply"):
        cloud = o3d.io.read_point_cloud(str(path))
        other = np.asarray(cloud.points, dtype=np.float64)
        found.append(_agreement("open3d", other, ours))
    pcd2ply = shutil.which("pcl_pcd2ply")
    if pcd2ply is not None and path.suffix == ".pcd":
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.ply"
            subprocess.run([pcd2ply, str(path), str(out)], check=False, capture_output=True,
                           timeout=60)
            if out.is_file():
                found.append(_agreement("pcl_pcd2ply", _plyfile_reference(out).positions, ours))
            else:
                found.append("pcl_pcd2ply: no output")
    return found


def _agreement(name: str, other: Array, ours: Array) -> str:
    if other.shape != ours.shape:
        return f"{name}: {other.shape[0]} points"
    return f"{name}: max err {_max_error(other, ours):.2g}"


def _max_error(a: Array, b: Array) -> float:
    if not a.size:
        return 0.0
    finite = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    return float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0


# ---------------------------------------------------------------------------- conversion


def _intensity_max(cloud: Any) -> float | None:
    """A declared scale for float intensity without a nominal range (the manifest must say)."""
    if cloud.intensity is None or cloud.intensity_range is not None:
        return None
    top = float(np.nanmax(cloud.intensity)) if cloud.intensity.size else 1.0
    return 1.0 if top <= 1.0 else float(math.ceil(top))


def _expected_intensity(ref: Reference, fmt: str, declared: float | None) -> Array | None:
    """The uint8 intensity the converter must write, by its documented rule."""
    if ref.intensity is None:
        return None
    values = np.asarray(ref.intensity, dtype=np.float64)
    top = float(values.max()) if values.size else 0.0
    if declared is not None:
        scale = 255.0 / declared
    elif fmt == "las":
        scale = 1.0 if top <= 255 else 255.0 / 65535.0
    else:
        scale = 1.0
    return np.rint(values * scale).astype(np.uint8)


def _convert(path: Path, tmp: Path, cloud: Any,
             intensity_max: float | None) -> tuple[Scene, dict[str, Any]]:
    capture = tmp / "capture"
    capture.mkdir()
    shutil.copy(path, capture / f"000{path.suffix}")
    # a LAS file's points carry GPS times (absolute, seconds): the frame is stamped with the first
    stamp = 1_700_000_000_000_000
    point_time = "{unit: s, reference: absolute}"
    if cloud.time_s is not None and cloud.time_s.size:
        stamp = math.floor(float(cloud.time_s.min()) * 1e6)
        if _too_long(cloud):
            point_time = "ignore"
    (capture / "ts.txt").write_text(f"{stamp}\n")
    extra = "" if intensity_max is None else f"    intensity_max: {intensity_max}\n"
    (capture / "capture.yaml").write_text(
        "version: 1\nlidars:\n  - id: lidar\n    files: '000.*'\n"
        "    timestamps: {file: ts.txt, unit: us}\n    frame: sensor\n"
        f"    point_time: {point_time}\n" + extra)
    out = tmp / "out.sfs"
    convert_capture(capture, out, format="sfs")
    return Scene.model_validate(read_sfs_dict(out)), _scale_read(out)


def _too_long(cloud: Any) -> bool:
    times = cloud.time_s
    return times is not None and times.size > 0 and float(np.ptp(times)) * 1e6 > MAX_POINT_TIME_US


def _scale_read(path: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from scale_json_binary import read_file  # type: ignore[attr-defined]
        from scale_sensor_fusion_io.validation import parse_and_validate_scene

        raw = read_file(str(path))
        result = parse_and_validate_scene(raw)
    return {"valid": bool(result.success), "raw": raw}


def _sfs_points(scene: Scene) -> tuple[Array, Array | None, Array | None]:
    sensor = scene.sensors[0]
    assert isinstance(sensor, LidarSensor)
    points = sensor.frames[0].points
    origin = np.zeros(3)
    if scene.metadata is not None and "origin_offset" in scene.metadata.get("sfs_kit", {}):
        origin = np.asarray(scene.metadata["sfs_kit"]["origin_offset"], dtype=np.float64)
    positions = np.asarray(points.positions, dtype=np.float64) + origin
    return positions, points.colors, points.intensities


def _equal(got: Array | None, want: Array | None) -> str:
    if got is None and want is None:
        return "-"
    if got is None or want is None:
        return "missing" if got is None else "extra"
    return "equal" if np.array_equal(np.asarray(got), np.asarray(want)) else "DIFFER"


# ---------------------------------------------------------------------------- per file


@contextlib.contextmanager
def _problems(row: Row, step: str) -> Iterator[None]:
    try:
        yield
    except SfsKitError as err:
        row.problems.append(f"{step}: {type(err).__name__}: {err}")


def check_cloud(path: Path, o3d: Any | None) -> Row:
    """Every check of one real point cloud file."""
    reader = REFERENCES[path.suffix.lower()]
    row = Row(file=str(path.relative_to(FIXTURES)), kind=path.suffix.lstrip("."),
              reference=reader.__name__.split("_")[1])
    refused = EXPECTED_REFUSALS.get(path.name)
    try:
        cloud = read_point_cloud(path)
    except SfsKitError as err:
        if refused is not None and re.search(refused, str(err)):
            row.inspect = "refused (expected)"
            return row
        row.problems.append(f"read: {err}")
        return row
    if refused is not None:
        row.problems.append("read: expected a refusal, the file was read")
    ref = reader(path)
    ours = cloud.positions.astype(np.float64) + np.asarray(cloud.origin_m, dtype=np.float64)
    row.points_ours, row.points_ref = cloud.num_points, ref.positions.shape[0]
    if row.points_ours != row.points_ref:
        row.problems.append("points: counts differ")
    else:
        row.max_error = _max_error(ours, ref.positions)
        row.colors = _equal(cloud.colors, ref.colors)
        raw = None if cloud.intensity is None else cloud.intensity.astype(np.float64)
        want = None if ref.intensity is None else ref.intensity.astype(np.float64)
        row.intensity = _equal(raw, want)
    with _problems(row, "inspect"):
        described = describe_input(path)
        row.inspect = "ok" if described.get("points") == cloud.num_points else "count differs"
    row.others = _other_readers(path, ours, o3d)
    if cloud.num_points and row.points_ours == row.points_ref:
        with tempfile.TemporaryDirectory() as tmp, _problems(row, "convert"):
            declared = _intensity_max(cloud)
            scene, scale = _convert(path, Path(tmp), cloud, declared)
            if _too_long(cloud):
                row.others.append("point_time: ignore (GPS times span > 71.6 min)")
            positions, colors, intensity = _sfs_points(scene)
            row.sfs_max_error = _max_error(positions, ref.positions)
            row.colors = _equal(colors, ref.colors)
            row.intensity = _equal(intensity, _expected_intensity(ref, cloud.format, declared))
            row.scale_valid = "valid" if scale["valid"] else "INVALID"
    _judge(row)
    return row


def _judge(row: Row) -> None:
    for name, value in (("max_error", row.max_error), ("sfs_max_error", row.sfs_max_error)):
        if value is not None and value > POSITION_TOLERANCE:
            row.problems.append(f"{name} {value:.3g} > {POSITION_TOLERANCE}")
    for name in ("colors", "intensity"):
        if getattr(row, name) in ("DIFFER", "missing", "extra"):
            row.problems.append(f"{name}: {getattr(row, name)}")
    if row.scale_valid == "INVALID":
        row.problems.append("Scale's reader rejects the .sfs")
    if row.inspect not in ("ok", "-", "refused (expected)"):
        row.problems.append(f"inspect: {row.inspect}")


def check_image(path: Path) -> Row:
    """Our image header reader against Pillow's decoder: format and pixel size."""
    from PIL import Image

    row = Row(file=str(path.relative_to(FIXTURES)), kind=path.suffix.lstrip("."),
              reference="Pillow")
    with _problems(row, "read"):
        info = read_image(path)
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            want = (str(image.format).lower(), image.width, image.height)
        got = (str(info.format).lower().replace("jpg", "jpeg"), info.width, info.height)
        row.others = [f"{got[0]} {got[1]}x{got[2]}"]
        row.inspect = "ok" if got == want else "DIFFER"
        if got != want:
            row.problems.append(f"format/size {got} != Pillow's {want}")
    return row


def _radar_scene(path: Path, tmp: Path) -> tuple[RadarSensor, dict[str, Any]]:
    """``path`` as frame 1 of a toolkit folder (a 3-point cloud, an identity pose), as .sfs."""
    folder = tmp / "scale_format"
    for sub in ("pointcloud", "poses", "radar_points"):
        (folder / sub).mkdir(parents=True)
    (folder / "pointcloud" / "1.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        "property float z\nend_header\n1 0 0\n0 1 0\n0 0 1\n")
    (folder / "poses" / "1.json").write_text('{"heading": [1, 0, 0, 0], "position": [0, 0, 0]}')
    shutil.copy(path, folder / "radar_points" / "1.txt")
    out = tmp / "out.sfs"
    convert_capture(folder, out, format="sfs", options=ConvertOptions(frame_rate_hz=10.0))
    scene = Scene.model_validate(read_sfs_dict(out))
    radar = next(s for s in scene.sensors if isinstance(s, RadarSensor))
    return radar, _scale_read(out)


def check_radar(path: Path) -> Row:
    """A toolkit radar file: our reader against NumPy's, then through the converter."""
    row = Row(file=str(path.relative_to(FIXTURES)), kind="radar", reference="numpy")
    with _problems(row, "read"):
        got = read_scale_radar(path)
        table = np.loadtxt(path, delimiter=",", ndmin=2)
        ours = np.column_stack([a for a in (got.positions, got.directions, got.sizes)
                                if a is not None])
        row.points_ours, row.points_ref = got.positions.shape[0], table.shape[0]
        if ours.shape != table.shape:
            row.problems.append(f"columns: ours {ours.shape}, numpy {table.shape}")
        else:
            row.max_error = _max_error(ours, table)
        with tempfile.TemporaryDirectory() as tmp, _problems(row, "convert"):
            radar, scale = _radar_scene(path, Path(tmp))
            points = radar.frames[0].points
            sfs = np.column_stack([a for a in (points.positions, points.directions,
                                               points.lengths) if a is not None])
            row.sfs_max_error = _max_error(sfs.astype(np.float64), table)
            row.scale_valid = "valid" if scale["valid"] else "INVALID"
    _judge(row)
    return row


def run_all() -> tuple[list[Row], str]:
    """Every fixture's row, and a line about the optional readers found."""
    o3d, o3d_note = _open3d()
    pcl = shutil.which("pcl_pcd2ply")
    rows = [check_cloud(p, o3d) for d in CLOUD_DIRS for p in sorted((FIXTURES / d).iterdir())
            if p.suffix.lower() in CLOUD_SUFFIXES]
    rows += [check_image(p) for d in IMAGE_DIRS for p in sorted((FIXTURES / d).iterdir())
             if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    rows += [check_radar(p) for d in RADAR_DIRS for p in sorted((FIXTURES / d).iterdir())
             if p.suffix == ".txt"]
    note = f"{o3d_note}; " + ("pcl_pcd2ply found" if pcl else "pcl_pcd2ply not installed")
    return rows, note


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def print_table(rows: list[Row], note: str) -> None:
    """The table, one line a file, then the problems."""
    head = ("file", "ref", "points ours/ref", "max err", "sfs err", "colours", "intensity",
            "inspect", "Scale reader", "others")
    lines = [head] + [
        (r.file, r.reference,
         "-" if r.points_ours is None else f"{r.points_ours}/{r.points_ref}",
         _fmt(r.max_error), _fmt(r.sfs_max_error), r.colors, r.intensity, r.inspect,
         r.scale_valid, "; ".join(r.others) or "-")
        for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for k, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\n{note}")
    failed = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(failed)} of {len(rows)} files agree with their reference reader.")
    for r in failed:
        for problem in r.problems:
            print(f"FAIL {r.file}: {problem}")


def main(argv: list[str] | None = None) -> int:
    """Run every check; print the table (or JSON); 1 if any file failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows, note = run_all()
    if args.json:
        print(json.dumps({"rows": [asdict(r) | {"ok": r.ok} for r in rows], "note": note},
                         indent=1))
    else:
        print_table(rows, note)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
