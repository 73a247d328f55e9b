"""Messages quote input as short printable excerpts: a 1 MB token never becomes a 1 MB error."""

from __future__ import annotations

from pathlib import Path

import pytest
from capture.test_kitti_raw import _drive

from sfs_kit.capture import open_capture
from sfs_kit.errors import InputError
from sfs_kit.readers import read_ply


def test_every_error_message_is_bounded_and_printable() -> None:
    err = InputError("value " + "7" * 1_000_000 + " is bad \x1b[2J\x00.", source="/a/\x1bb.txt")
    text = str(err)
    assert len(text) < 200
    assert "(1000000 chars)" in text
    assert "\x1b" not in text
    assert "\x00" not in text
    assert "\\x1b[2J" in text


def test_a_long_quoted_value_of_short_words_is_excerpted() -> None:
    # fuzz, seed 42: a YAML list folded into a topic name or a CSV cell quoted with !r
    topic = "/cam/fron" + " -" * 3000
    err = InputError(f"Recording 'd.mcap' has no topic {topic!r}; its topics are ['/a', '/b'].")
    assert str(err) == (f"Recording 'd.mcap' has no topic '/cam/fron{' -' * 25} ...' (6009 chars);"
                        " its topics are ['/a', '/b'].")
    prose = "It can't be read, " + "word " * 100 + "and don't retry; " + "more " * 100
    assert str(InputError(prose)) == prose  # apostrophes in words are no quotes


def test_ply_ascii_long_token_is_excerpted(tmp_path: Path) -> None:
    path = tmp_path / "a.ply"
    path.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n"
                     b"property float y\nproperty float z\nend_header\n1 2 3" + b"[" * 1_000_000
                     + b"\n")
    with pytest.raises(InputError, match=r"value '3\[\[\[.*\.\.\.' \(1000001 chars\)") as info:
        read_ply(path)
    assert len(str(info.value)) < 300


def test_kitti_timestamp_long_token_is_excerpted(tmp_path: Path) -> None:
    drive = _drive(tmp_path)
    stamps = drive / "velodyne_points" / "timestamps.txt"
    lines = stamps.read_text().splitlines()
    stamps.write_text("\n".join([lines[0], "2011-09-26 13:" + "7" * 1_000_000, lines[2]]))
    with pytest.raises(InputError, match=r"line 2: '2011-09-26 13:777.*chars\) is not a KITTI"
                       ) as info:
        open_capture(drive)
    assert len(str(info.value)) < 400


def test_a_capture_name_too_long_is_our_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="File name too long"):
        open_capture(tmp_path / ("x" * 300 + ".msgpack"))


def test_inspect_of_malformed_las_prints_only_our_one_line(tmp_path: Path) -> None:
    # a LAZ whose LASzip VLR says pointwise: laspy logs "ERROR laspy.lasreader: Compressor type
    # PointWise is not supported" before lazrs fails; a chunk size of 0, a truncated LAS and a
    # LAS whose header claims more points than follow: each must end in one line of ours
    import struct
    import subprocess
    import sys

    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "laspy"
    laz = bytearray((fixtures / "simple.laz").read_bytes())
    las = (fixtures / "simple.las").read_bytes()
    pointwise = bytearray(laz)
    struct.pack_into("<H", pointwise, 227 + 54, 1)
    chunkless = bytearray(laz)
    struct.pack_into("<I", chunkless, 227 + 54 + 12, 0)
    more = bytearray(las)
    struct.pack_into("<I", more, 107, struct.unpack_from("<I", las, 107)[0] + 5)
    cases = {"pointwise.laz": pointwise, "chunkless.laz": chunkless, "cut.las": las[:4000],
             "more.las": more}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(bytes(data))
        done = subprocess.run([sys.executable, "-m", "sfs_kit", "inspect", str(tmp_path / name)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.splitlines()
        assert len(lines) == 1, (name, done.stderr)
        assert lines[0].startswith(f"sfs-kit: error: {tmp_path / name}: "), (name, lines)


def test_a_long_file_name_of_short_words_is_excerpted(tmp_path: Path) -> None:
    # "a - - - ..." has no long token for the error's own bound to cut: the quote itself must
    # be an excerpt (fuzz: an 8000-char message from a YAML list folded into a file name)
    from capture.conftest import build_folder

    cap = build_folder(tmp_path / "cap", frames=2, points=20)
    manifest = cap / "capture.yaml"
    manifest.write_text(manifest.read_text().replace(
        "{file: cam_intr.json}", '{file: "cam_intr' + " -" * 3000 + '"}'))
    with pytest.raises(InputError, match=r"cameras\[0\]\.intrinsics\.file: references 'cam_intr -"
                       r" - .*\.\.\.' \(6008 chars\), which does not exist") as info:
        open_capture(cap)
    assert len(str(info.value)) < 700


@pytest.mark.parametrize("url", ["images/cam/" + "x" * 300 + ".jpg", "images/cam/a\x00.jpg",
                                 "images/cam/" + "[" * 70_000])
def test_validate_of_frames_whose_image_url_names_no_possible_file(
        tmp_path: Path, url: str) -> None:
    # a name over 255 bytes made Path.resolve/is_file raise OSError out of check_frames
    import json

    from capture.conftest import build_folder

    from sfs_kit.capture import convert_capture
    from sfs_kit.codecs.frame_check import check_frames

    frames = tmp_path / "frames"
    convert_capture(build_folder(tmp_path / "cap", frames=2, points=20), frames,
                    format="split_base64")
    frame = frames / "frame-00001.json"
    doc = json.loads(frame.read_text())
    doc["images"][0]["image_url"] = url
    frame.write_text(json.dumps(doc))
    bad = [i for i in check_frames(frames).issues if i.code == "F-6"]
    assert [i.path for i in bad] == ["frame-00001.json:images[0].image_url"]
    assert "is not a file in" in bad[0].message
    assert len(bad[0].message) < 400
