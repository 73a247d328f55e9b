"""``sfs-kit run`` runs the geometric pre-flight before upload: kept in the result, or (strict)
stopping the run with nothing uploaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sfs_kit.cli import main

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.fixture
def swapped_capture(tmp_path: Path) -> Path:
    """The sample capture whose ego poses hold w, x, y, z under the x, y, z, w headers."""
    capture = tmp_path / "swapped"
    shutil.copytree(FIXTURE, capture)
    lines = (capture / "poses.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    swapped = [",".join([*r[:4], r[7], r[4], r[5], r[6]]) for r in rows]
    (capture / "poses.csv").write_text("\n".join([lines[0], *swapped]) + "\n")
    return capture


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clean_capture_has_no_geometric_issue(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["run", str(FIXTURE), "--out", str(tmp_path / "o"), "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["geometry"] == []
    assert any(s["step"] == "geometry" for s in result["steps"])


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_geometric_errors_are_kept_in_the_result(
    swapped_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    out_dir = tmp_path / "o"
    code, out, _ = _run(["run", str(swapped_capture), "--out", str(out_dir), "--format", fmt,
                         "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    tilt = [g for g in result["geometry"] if g["code"] == "G-P5"]
    assert len(tilt) == 1
    assert tilt[0]["severity"] == "error"
    assert tilt[0]["sensor"] == ("lidar_top" if fmt == "sfs" else "lidar")
    assert tilt[0]["measured"] == pytest.approx(180.0, abs=1.0)
    saved = json.loads((out_dir / "run_result.json").read_text())
    assert saved["geometry"] == result["geometry"]


def test_summary_prints_the_geometry(swapped_capture: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["run", str(swapped_capture), "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    assert "geometry    " in out
    assert "error G-P5 at sensors[lidar_top].poses.values[0]" in out


def test_strict_geometry_stops_before_upload(swapped_capture: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "o"
    code, _, err = _run(["run", str(swapped_capture), "--out", str(out_dir),
                         "--strict-geometry"], capsys)
    assert code == 1
    assert "geometric pre-flight found" in err
    assert "nothing was uploaded" in err
    store = out_dir / "store"
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
    assert not (out_dir / "run_result.json").exists()


def test_strict_geometry_from_the_config_file(swapped_capture: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sfs-kit.toml"
    config.write_text("strict_geometry = true\n\n[geometry]\nmax_tilt_deg = 180.0\n")
    code, _, err = _run(["run", str(swapped_capture), "--out", str(tmp_path / "o"),
                         "--config", str(config)], capsys)
    assert code == 0, err  # the tilt limit allows the half turn: no error left


def test_no_geometry_skips_the_checks(swapped_capture: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["run", str(swapped_capture), "--out", str(tmp_path / "o"),
                         "--no-geometry", "--strict-geometry", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["geometry"] == []
