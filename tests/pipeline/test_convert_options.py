"""One vocabulary: every conversion option is a ``ConvertOptions`` field, a flag of ``convert``
and ``run``, a key of ``sfs-kit.toml`` and an ``SFS_KIT_*`` variable, with the same meaning."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from sfs_kit import ConvertOptions, RunConfig, convert_capture, load_config
from sfs_kit.capture.options import option_specs
from sfs_kit.cli import build_parser, main
from sfs_kit.cli._options import add_convert_options, convert_settings
from sfs_kit.errors import InputError
from sfs_kit.pipeline.config import load_convert_settings
from sfs_kit.pipeline.run import run

from .conftest import Counts

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def test_options_check_their_values() -> None:
    assert ConvertOptions().changed() == {}
    with pytest.raises(InputError, match=r"voxel_size_m must be a finite number > 0, got 0\.0"):
        ConvertOptions(voxel_size_m=0.0)
    with pytest.raises(InputError, match=r"max_points_per_frame must be >= 1, got 0"):
        ConvertOptions(max_points_per_frame=0)
    with pytest.raises(InputError, match=r"recentre must be true, false or 'auto'"):
        ConvertOptions(recentre="sometimes")  # type: ignore[arg-type,unused-ignore]
    parsed = ConvertOptions.from_settings(
        {"voxel_size": "0.25", "max_points": 7, "recentre": "auto", "keep_nonfinite": "yes"})
    assert parsed == ConvertOptions(voxel_size_m=0.25, max_points_per_frame=7,
                                    keep_nonfinite=True)
    assert ConvertOptions.from_settings({"voxel_size_m": 1}).voxel_size_m == 1.0


def test_every_option_is_a_flag_of_convert_and_run() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = sub.choices
    for command in ("convert", "run"):
        flags = {flag for action in actions[command]._actions for flag in action.option_strings}
        for spec in option_specs().values():
            assert spec.flag in flags, (command, spec.flag)
            assert spec.negative is None or spec.negative in flags


def test_the_flags_read_back_as_settings() -> None:
    parser = argparse.ArgumentParser()
    add_convert_options(parser)
    assert convert_settings(parser.parse_args([])) == {}
    args = parser.parse_args(["--voxel-size", "0.5", "--no-recentre", "--keep-nonfinite"])
    assert convert_settings(args) == {"voxel_size_m": 0.5, "recentre": False,
                                      "keep_nonfinite": True}


def test_config_file_environment_and_command_line_layers(tmp_path: Path) -> None:
    toml = tmp_path / "sfs-kit.toml"
    toml.write_text('[run]\nvoxel_size = 0.2\nmax_points = 1000\nrecentre = true\n')
    config = load_config({"max_points_per_frame": 50}, env={"SFS_KIT_RECENTRE": "false"},
                         config_path=toml)
    assert config.convert == ConvertOptions(voxel_size_m=0.2, max_points_per_frame=50,
                                            recentre=False)
    assert RunConfig.model_validate(config.model_dump(mode="json")) == config
    fmt, options = load_convert_settings({}, env={"SFS_KIT_KEEP_NONFINITE": "1"},
                                         config_path=toml)
    assert fmt == "sfs"
    assert options.keep_nonfinite
    assert options.voxel_size_m == 0.2
    with pytest.raises(InputError, match=r"SFS_KIT_VOXEL_SIZE is invalid: .*'fine'"):
        load_config({}, env={"SFS_KIT_VOXEL_SIZE": "fine"}, config_path=toml)
    with pytest.raises(InputError, match=r"'--max-points' is invalid: max_points_per_frame must "
                                         r"be >= 1, got -3"):
        load_config({"max_points_per_frame": -3}, env={}, config_path=toml)
    toml.write_text('[run]\nvoxel_size = -1.0\n')
    with pytest.raises(InputError, match=r"'voxel_size' in .*sfs-kit.toml' is invalid"):
        load_config({}, env={}, config_path=toml)


def test_run_converts_with_the_options_and_reconverts_when_they_change(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts,
) -> None:
    out = tmp_path / "out"
    run(fake_capture, RunConfig(out_dir=out, convert=ConvertOptions(max_points_per_frame=10)))
    run(fake_capture, RunConfig(out_dir=out, convert=ConvertOptions(max_points_per_frame=10)))
    assert fake_convert.convert == 1  # resumed: same options
    assert fake_convert.options == [ConvertOptions(max_points_per_frame=10)]
    run(fake_capture, RunConfig(out_dir=out, convert=ConvertOptions(max_points_per_frame=20)))
    assert fake_convert.convert == 2


def test_run_command_line_options_reach_the_converter(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SFS_KIT_VOXEL_SIZE", "0.05")
    assert main(["run", str(fake_capture), "--out", str(tmp_path / "o"), "--max-points", "99",
                 "--no-recentre"]) == 0
    assert fake_convert.options == [ConvertOptions(voxel_size_m=0.05, max_points_per_frame=99,
                                                   recentre=False)]


def test_convert_reads_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    full = convert_capture(SAMPLE, tmp_path / "full.sfs", format="sfs")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sfs-kit.toml").write_text("[run]\nmax_points = 100\n")
    assert main(["convert", str(SAMPLE), "-o", "thin.sfs", "--json"]) == 0
    thin = json.loads(capsys.readouterr().out)
    assert thin["point_count"] == 100 * full.frame_count < full.point_count
    assert main(["convert", str(SAMPLE), "-o", "thinner.sfs", "--max-points", "10",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["point_count"] == 10 * full.frame_count
