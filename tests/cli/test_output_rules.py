"""One rule per output behaviour (sfs_kit.cli._outputs): suffix matches format, an existing
output needs --overwrite, the parent folder must exist, and nothing is created on refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def test_split_base64_into_a_sfs_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "y.sfs"
    assert main(["convert", str(SAMPLE), "--format", "split_base64", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "names a .sfs file, but split_base64 writes a folder of frames" in err
    assert list(tmp_path.iterdir()) == []


def test_sfs_needs_a_sfs_name_and_is_the_default_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(SAMPLE), "-o", str(tmp_path / "frames")]) == 2
    assert "is not a .sfs file name" in capsys.readouterr().err
    assert main(["convert", str(SAMPLE), "-o", str(tmp_path / "a.sfs")]) == 0  # format sfs
    assert (tmp_path / "a.sfs").is_file()


@pytest.mark.parametrize(("fmt", "name"), [("sfs", "o.sfs"), ("split_base64", "frames")])
def test_an_existing_output_needs_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, name: str
) -> None:
    out = tmp_path / name
    argv = ["convert", str(SAMPLE), "--format", fmt, "-o", str(out)]
    assert main(argv) == 0
    before = sorted(p.name for p in out.rglob("*")) if out.is_dir() else [out.name]
    (out / "stale.txt" if out.is_dir() else tmp_path / "x").write_text("old")
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    after = sorted(p.name for p in out.rglob("*")) if out.is_dir() else [out.name]
    assert after == before  # the stale file went with the old folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_summary_counts_frames_and_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frames"
    assert main(["convert", str(SAMPLE), "--format", "split_base64", "-o", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    frames = len(list(out.rglob("frame-*.json")))
    images = len([p for p in out.rglob("*") if p.is_file()]) - frames
    assert first.endswith(f"(split_base64, {frames} frame files, {images} images)")
