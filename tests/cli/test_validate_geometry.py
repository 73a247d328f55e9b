"""``sfs-kit validate --geometry``: G-* issues in the same JSON objects, thresholds from TOML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.geometry_scenes import Defect, build_geometry_scene

from sfs_kit import write_sfs
from sfs_kit.cli import main


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("geometry")
    out = {}
    cases: list[tuple[str, Defect | None]] = [("clean", None), ("clock", "clock_300ms")]
    for name, defect in cases:
        path = root / f"{name}.sfs"
        write_sfs(build_geometry_scene(defect), path)
        out[name] = path
    return out


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_clean_scene_passes_geometry(scenes: dict[str, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--geometry", "--json", str(scenes["clean"])]) == 0
    report = _json(capsys)
    assert [i for i in report["issues"] if i["code"].startswith("G-")] == []


def test_geometric_error_makes_the_scene_invalid(scenes: dict[str, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--geometry", "--json", str(scenes["clock"])]) == 1
    issues = _json(capsys)["issues"]
    skew = [i for i in issues if i["code"] == "G-T2"]
    assert {i["sensor"] for i in skew} == {"cam_front", "cam_left", "cam_rear"}
    first = skew[0]
    assert first["severity"] == "error"
    assert first["path"] == f"sensors[{first['sensor']}].images[0]"
    assert first["measured"] == pytest.approx(300.0)
    # without --geometry the same file is valid
    assert main(["validate", str(scenes["clock"])]) == 0


def test_human_output_lists_geometry_issues(scenes: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", "--geometry", str(scenes["clock"])])
    out = capsys.readouterr().out
    assert "error G-T2 at sensors[cam_front].images[0]: the camera clock looks +300 ms off" in out


def test_thresholds_come_from_the_config_file(scenes: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sfs-kit.toml"
    config.write_text("[run]\nformat = 'sfs'\n\n[geometry]\nmax_clock_offset_ms = 500.0\n")
    assert main(["validate", "--geometry", "--json", "--config", str(config),
                 str(scenes["clock"])]) == 0
    assert not [i for i in _json(capsys)["issues"] if i["code"] == "G-T2"]
    config.write_text("[geometry]\nmax_clock_ofset_ms = 500.0\n")
    assert main(["validate", "--geometry", "--config", str(config), str(scenes["clock"])]) == 2
    assert "max_clock_ofset_ms" in capsys.readouterr().err
