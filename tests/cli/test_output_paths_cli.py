"""CLI output paths: a bad -o fails at once with one line and exit code 2, no traceback."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sfs_kit.cli import main
from sfs_kit.cli._common import EXIT_UNREADABLE, exit_code_for
from sfs_kit.errors import OutputError

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def test_output_error_exit_code() -> None:
    assert exit_code_for(OutputError("x.", path="x")) == EXIT_UNREADABLE == 2


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_convert_into_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    out = tmp_path / "nonexistent_dir" / "x.sfs"
    assert main(["convert", str(SAMPLE), "--format", fmt, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sfs-kit: error: Output ")
    assert "nonexistent_dir' does not exist (create it first)." in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_convert_sfs_onto_an_existing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(SAMPLE), "--format", "sfs", "-o", str(tmp_path)]) == 2
    assert "is an existing folder; name a file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_convert_json_reports_failures_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "o.sfs")
    assert main(["convert", str(tmp_path / "none"), "--format", "sfs", "-o", out, "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["valid"] is False
    assert report["issues"] == []
    assert report["error"]["code"] == 2
    assert report["error"]["type"] == "InputError"
    assert "none" in report["error"]["message"]
    assert captured.err == ""
    missing = str(tmp_path / "nowhere" / "o.sfs")
    assert main(["convert", str(SAMPLE), "--format", "sfs", "-o", missing, "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "OutputError"
    assert error["message"].endswith("does not exist (create it first).")


class _FailingStdout(io.StringIO):
    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error


def test_a_full_stdout_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    image = str(SAMPLE.parent / "opencv" / "left01.jpg")
    monkeypatch.setattr(sys, "stdout", _FailingStdout(OSError(errno.ENOSPC, "No space left")))
    assert main(["inspect", image]) == 1
    assert capsys.readouterr().err == "sfs-kit: error: cannot write to standard output: No space " \
                                      "left.\n"
    monkeypatch.setattr(sys, "stdout", _FailingStdout(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    assert main(["inspect", image, "--json"]) == 1
    monkeypatch.setattr(sys, "stdout", _FailingStdout(PermissionError(errno.EACCES, "denied")))
    with pytest.raises(PermissionError):  # not a stdout errno: the traceback is kept
        main(["inspect", image])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux /dev/full")
def test_inspect_into_dev_full_subprocess() -> None:
    image = str(SAMPLE.parent / "opencv" / "left01.jpg")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "sfs_kit", "inspect", image], stdout=full,
                              stderr=subprocess.PIPE, text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "sfs-kit: error: cannot write to standard output: No space left on " \
                          "device.\n"
