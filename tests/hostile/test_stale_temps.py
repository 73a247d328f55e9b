"""Temp files of a killed run (``.*.tmp``, ``.frames.*.tmp/``, spools) are removed by the next
run; those a live writer still holds are left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from capture.conftest import build_folder

from sfs_kit._atomic import clean_stale
from sfs_kit.capture import convert_capture

ROOT = Path(__file__).resolve().parents[2]
KILLED = """
import os, sys
from sfs_kit._atomic import atomic_output
from sfs_kit.codecs.sfs import SfsAppendWriter
out = sys.argv[1]
writer = SfsAppendWriter(out, reserve_header_bytes=4096)
writer.add_array
manager = atomic_output(out)
stream = manager.__enter__()
stream.write(b"half")
print("ready", flush=True)
if sys.argv[2] == "die":
    os._exit(9)
sys.stdin.read()
"""


def _writer(out: Path, how: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(out), how], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


def _close(proc: subprocess.Popen[str]) -> None:
    """Let the writer end (a live one waits for its stdin to close) and close its pipes."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.close()
    proc.wait()
    proc.stdout.close()


def _temps(folder: Path, name: str) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith(f".{name}.")}


def _age(folder: Path, names: set[str], seconds: float) -> None:
    past = time.time() - seconds
    for name in names:
        os.utime(folder / name, (past, past))


def test_a_killed_conversions_temps_go_a_live_ones_stay(tmp_path: Path) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    out = tmp_path / "scene.sfs"
    _close(_writer(out, "die"))
    dead = _temps(tmp_path, "scene.sfs")
    assert len(dead) == 2  # the append writer's data file and an atomic_output temp
    live = _writer(out, "live")
    try:
        alive = _temps(tmp_path, "scene.sfs") - dead
        _age(tmp_path, dead | alive, 30)
        convert_capture(cap, out, format="sfs")
        assert _temps(tmp_path, "scene.sfs") == alive
    finally:
        _close(live)
    assert out.stat().st_size > 0


def test_a_killed_frames_folder_and_old_leftovers_go(tmp_path: Path) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    frames = tmp_path / "frames"
    stale = tmp_path / ".frames.0123456789ab.tmp"
    (stale / "images").mkdir(parents=True)
    (stale / "frame-000000.json").write_text("{}")
    old = tmp_path / ".frames.ba9876543210.old"
    old.mkdir()
    mine = tmp_path / ".frames.notours.tmp"
    mine.mkdir()
    _age(tmp_path, {stale.name, old.name, mine.name}, 3600)
    convert_capture(cap, frames, format="split_base64")
    assert not stale.exists()
    assert not old.exists()
    assert mine.exists()  # not our naming: never touched
    assert any(frames.glob("frame-*.json"))


def test_recent_unlocked_leftovers_wait(tmp_path: Path) -> None:
    target = tmp_path / "scene.sfs"
    video = tmp_path / ".scene.sfs.0123456789ab.cam0.mp4"
    video.write_bytes(b"x")
    assert clean_stale(target) == []
    _age(tmp_path, {video.name}, 3600)
    assert clean_stale(target) == [video]
