"""-q, before or after the subcommand: errors only on stderr, and no report on stdout from the
commands whose output is a report (a --json answer, or a script's result, is still printed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_convert_prints_nothing(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["convert", str(SAMPLE), "--format", "sfs", "-o", str(tmp_path / "s.sfs")]
    argv = ["-q", *args] if where == "before" else [*args, "-q"]
    assert main(argv) == 0
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "s.sfs").stat().st_size > 0
    assert main([*args, "-q", "--json", "--overwrite"]) == 0  # asked for: still printed
    assert json.loads(capsys.readouterr().out)["frame_count"] == 5


def test_quiet_keeps_errors_and_drops_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "frames"
    assert main(["convert", str(SAMPLE), "--format", "split_base64", "-o", str(frames)]) == 0
    capsys.readouterr()
    assert main(["validate", str(frames)]) == 0
    assert "F-7" in capsys.readouterr().out  # a report with a warning ...
    assert main(["validate", str(frames), "-q"]) == 0
    assert capsys.readouterr() == ("", "")  # ... that -q drops; the exit code still says valid
    assert main(["-q", "validate", str(tmp_path / "missing.sfs")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("sfs-kit: error:")


def test_quiet_inspect_still_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(SAMPLE), "-q"]) == 0
    assert "sfs_kit capture, 1 lidar(s)" in capsys.readouterr().out
