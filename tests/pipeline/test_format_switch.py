"""A run folder switched between formats keeps only the current format's outputs."""

from __future__ import annotations

from pathlib import Path

from sfs_kit.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def test_switching_formats_cleans_what_the_other_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ["run", str(SAMPLE), "--out", str(out), "--dry-run", "--project", "p", "-q"]
    assert main(base) == 0
    assert (out / "scene.sfs").is_file()
    assert main([*base, "--format", "split_base64"]) == 0
    assert not (out / "scene.sfs").exists()
    assert sorted(p.name for p in (out / "upload").glob("frame-*.json"))[0] == "frame-00000.json"
    assert main(base) == 0
    assert (out / "scene.sfs").is_file()
    assert not (out / "staged").exists()
    assert not (out / "upload").exists()
