"""Only regular files are inputs, and reads outside the capture folder need an explicit opt-in."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from capture.conftest import build_folder

from sfs_kit._paths import read_input, read_input_text
from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.cli import main
from sfs_kit.errors import InputError
from sfs_kit.readers import read_point_cloud
from sfs_kit.readers.poses import read_poses


def _edit(cap: Path, old: str, new: str) -> None:
    text = (cap / "capture.yaml").read_text()
    assert old in text
    (cap / "capture.yaml").write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "special", ["/proc/self/environ", "/dev/zero", "/dev/urandom", "/sys/kernel/mm"]
)
def test_special_files_are_never_read(special: str) -> None:
    with pytest.raises(InputError, match="only regular files are read as inputs"):
        read_input(special)


def test_fifo_socket_and_folder_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "frame.pcd"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO"):
        read_point_cloud(fifo)
    sock_path = tmp_path / "s.pcd"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(InputError, match="a socket"):
            read_point_cloud(sock_path)
    with pytest.raises(InputError, match="a folder"):
        read_input(tmp_path)
    with pytest.raises(InputError, match="File name too long"):
        read_input(tmp_path / ("x" * 300))


def test_non_utf8_text_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "ts.txt"
    path.write_bytes(b"1\n2\n\xff\xfe3\n")
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 4, line 3") as info:
        read_input_text(path, what="timestamps file")
    assert info.value.offset == 4


def test_non_utf8_timestamps_file_in_a_capture(tmp_path: Path) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    (cap / "lidar" / "ts.txt").write_bytes(b"\xff" * 8)
    with pytest.raises(InputError, match="not UTF-8"):
        open_capture(cap)


def test_pose_file_pointing_at_proc_environ_echoes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCALE_API_KEY", "live_secret_key_123")
    with pytest.raises(InputError, match="only regular files"):
        read_poses("/proc/self/environ", time_unit="us")
    cap = build_folder(tmp_path / "cap", camera=False)
    _edit(cap, "poses: {file: poses.csv", "poses: {file: /proc/self/environ")
    assert main(["convert", str(cap), "--format", "sfs", "-o", str(tmp_path / "o.sfs"),
                 "--allow-outside-capture"]) != 0
    err = capsys.readouterr().err
    assert "live_secret_key_123" not in err
    assert "only regular files" in err


@pytest.mark.parametrize("where", ["absolute", "dotdot", "glob", "symlink"])
def test_reads_outside_the_capture_are_refused_then_allowed_and_reported(
    tmp_path: Path, where: str
) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (cap / "poses.csv").rename(outside / "poses.csv")
    if where == "absolute":
        _edit(cap, "file: poses.csv", f"file: {outside / 'poses.csv'}")
    elif where == "dotdot":
        _edit(cap, "file: poses.csv", "file: ../elsewhere/poses.csv")
    elif where == "symlink":
        (cap / "poses.csv").symlink_to(outside / "poses.csv")
    else:
        (cap / "poses.csv").symlink_to(outside / "poses.csv")
        for pcd in sorted((cap / "lidar").glob("*.pcd")):
            pcd.rename(outside / pcd.name)
        _edit(cap, "files: lidar/*.pcd", "files: ../elsewhere/*.pcd")
    with pytest.raises(InputError, match="outside the capture folder") as info:
        open_capture(cap)
    assert "allow_outside_capture" in str(info.value)
    opened = open_capture(cap, allow_outside_capture=True)
    assert any("read outside the capture folder" in note for note in opened.notes)
    _edit(cap, "version: 1\n", "version: 1\nallow_outside_capture: true\n")
    result = convert_capture(cap, tmp_path / "o.sfs", format="sfs")
    assert any("elsewhere" in note for note in result.notes)


def test_convert_cli_flag_opts_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    (tmp_path / "elsewhere").mkdir()
    (cap / "poses.csv").rename(tmp_path / "elsewhere" / "poses.csv")
    _edit(cap, "file: poses.csv", "file: ../elsewhere/poses.csv")
    out = tmp_path / "o.sfs"
    assert main(["convert", str(cap), "--format", "sfs", "-o", str(out)]) == 2
    assert "outside the capture folder" in capsys.readouterr().err
    assert not out.exists()
    assert main(["convert", str(cap), "--format", "sfs", "-o", str(out),
                 "--allow-outside-capture"]) == 0
    printed = capsys.readouterr()
    assert out.exists()
    assert "read outside the capture folder" in printed.out + printed.err


def test_symlink_to_dev_zero_and_fifo_in_a_glob(tmp_path: Path) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    os.mkfifo(cap / "lidar" / "zz.pcd")
    with pytest.raises(InputError, match="a FIFO"):
        open_capture(cap)
    (cap / "lidar" / "zz.pcd").unlink()
    (cap / "lidar" / "zz.pcd").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="outside the capture folder"):
        open_capture(cap)
    with pytest.raises(InputError, match="under /dev"):
        open_capture(cap, allow_outside_capture=True)


def test_silently_wrong_manifests_are_refused(tmp_path: Path) -> None:
    cap = build_folder(tmp_path / "cap", camera=False)
    (cap / "capture.json").write_text("{}")
    with pytest.raises(InputError, match="has 2 manifests"):
        open_capture(cap)
    (cap / "capture.json").unlink()
    _edit(cap, "files: lidar/*.pcd", "files: [lidar/000.pcd, lidar/001.pcd, ./lidar/000.pcd]")
    with pytest.raises(InputError, match="twice"):
        open_capture(cap)


def test_upload_dir_does_not_follow_symlinks_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "a.txt").write_text("mine")
    (folder / "inside").symlink_to(folder / "a.txt")
    (folder / "pw").symlink_to("/etc/passwd")
    store = tmp_path / "store"
    assert main(["upload", str(folder), "--store", str(store)]) == 2
    assert "outside" in capsys.readouterr().err
    assert not any(p.name == "pw" for p in store.rglob("*"))
    (folder / "pw").unlink()
    assert main(["upload", str(folder), "--store", str(store)]) == 0


def test_upload_expires_has_the_minimum_lifetime_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("x")
    args = ["upload", str(tmp_path / "a.txt"), "--store", str(tmp_path / "s")]
    assert main([*args, "--expires", "1s"]) != 0
    assert "shorter than the minimum URL lifetime of 86400 s" in capsys.readouterr().err
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").glob("a.txt"))
    assert main([*args, "--expires", "0.4s"]) != 0
    assert "at least 1 s, got '0.4s'" in capsys.readouterr().err
    assert main([*args, "--expires", "1h", "--min-lifetime", "30m"]) == 0


@pytest.mark.parametrize("pattern", ["cam" + "[" * 70_000 + "/*.jpg", "cam/" + "x" * 5000])
def test_a_glob_pattern_that_would_take_minutes_is_refused_at_once(
        tmp_path: Path, pattern: str) -> None:
    # fnmatch.translate scans ahead from every '[' (quadratic): 70,000 of them were a hang
    cap = build_folder(tmp_path / "cap")
    _edit(cap, "files: cam/*.jpg", f"files: '{pattern}'")
    with pytest.raises(InputError, match=r"cameras\[0\]\.files: the pattern .* is too long or "
                       r"has too many '\['"):
        open_capture(cap)
