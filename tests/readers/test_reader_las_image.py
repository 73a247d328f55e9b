"""LAS/LAZ against laspy on the real fixtures; image headers on real and crafted bytes."""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import laspy
import numpy as np
import pytest
from reader_helpers import FIXTURES

from sfs_kit.errors import InputError, MissingDependencyError
from sfs_kit.readers import (
    ImageInfo,
    check_image_size,
    image_size,
    read_image,
    read_las,
    read_point_cloud,
)
from sfs_kit.readers.las import read_las_intensity_max

LASPY = FIXTURES / "laspy"
OPENCV = FIXTURES / "opencv"


@pytest.mark.parametrize("name", ["simple.las", "simple.laz", "autzen_trim.laz"])
def test_las_matches_laspy(name: str) -> None:
    path = LASPY / name
    cloud = read_point_cloud(path)
    las = laspy.read(path)
    xyz = np.c_[las.x, las.y, las.z]
    assert cloud.num_points == len(las.points)
    if name.startswith("simple"):
        assert cloud.num_points == 1065
    # State Plane feet are beyond float32 precision: recentred on the whole-unit bbox floor.
    assert cloud.origin_m.tolist() == np.floor(xyz.min(axis=0)).tolist()
    restored = cloud.positions.astype(np.float64) + cloud.origin_m
    assert np.abs(restored - xyz).max() < las.header.scales.max() / 2
    assert restored.min(axis=0) == pytest.approx(las.header.mins, abs=0.01)
    assert restored.max(axis=0) == pytest.approx(las.header.maxs, abs=0.01)
    assert cloud.intensity is not None
    assert np.array_equal(cloud.intensity, np.asarray(las.intensity, dtype=np.float32))
    assert cloud.colors is not None
    # these files store 8-bit colour in the 16-bit fields: kept, not shifted to zero
    assert np.array_equal(cloud.colors[:, 0], np.asarray(las.red))
    assert cloud.time_s is not None
    assert np.array_equal(cloud.time_s, np.asarray(las.gps_time))
    assert np.array_equal(cloud.extra["classification"], np.asarray(las.classification))


def test_las_same_from_stream() -> None:
    with (LASPY / "simple.laz").open("rb") as stream:
        cloud = read_las(stream)
    assert cloud.num_points == 1065


@pytest.mark.parametrize(("data", "match"), [
    (b"garbage" * 10, r"LAS header: the file has 70 bytes and starts b'garb'"),
    ((LASPY / "simple.las").read_bytes()[:5000], r"1065 points of 34 bytes .* \(truncated"),
    ((LASPY / "simple.laz").read_bytes()[:9000], r"LAS header: the LAZ chunk table offset"),
])
def test_bad_las(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_las(io.BytesIO(data))


def test_las_without_laspy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "laspy", None)  # makes ``import laspy`` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'sfs_kit\[las\]'") as caught:
        read_las(LASPY / "simple.las")
    assert caught.value.source == str(LASPY / "simple.las")


# --- images -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["left01.jpg", "left02.jpg", "right01.jpg"])
def test_real_jpegs_are_640x480(name: str) -> None:
    info = read_image(OPENCV / name)
    assert (info.format, info.width, info.height) == ("jpeg", 640, 480)
    assert info.content == (OPENCV / name).read_bytes()
    check_image_size(info, 640, 480, name)


def test_size_matches_pillow_on_generated_images(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    for fmt, size in (("PNG", (17, 9)), ("JPEG", (33, 65)), ("PNG", (1, 1))):
        buffer = io.BytesIO()
        pil.new("RGB", size).save(buffer, format=fmt, progressive=fmt == "JPEG")
        kind, width, height = image_size(buffer.getvalue())
        assert (kind, width, height) == (fmt.lower(), *size)


def test_image_size_disagreeing_with_intrinsics() -> None:
    info = read_image(OPENCV / "left01.jpg")
    with pytest.raises(InputError, match=r"Image is 640x480 but the camera intrinsics say "
                                         r"1280x720") as caught:
        check_image_size(info, 1280, 720, "left01.jpg")
    assert caught.value.source == "left01.jpg"


PNG = b"\x89PNG\r\n\x1a\n"


def _png(width: int, height: int, chunk: bytes = b"IHDR") -> bytes:
    size = struct.pack(">II", width, height)
    return PNG + struct.pack(">I", 13) + chunk + size + b"\x08\x02\0\0\0"


def _jpeg(*segments: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(segments)


APP0 = b"\xff\xe0" + struct.pack(">H", 4) + b"JF"
SOF0 = b"\xff\xc0" + struct.pack(">HBHH", 11, 8, 480, 640) + b"\x01\x01\x11\x00"
DHT = b"\xff\xc4" + struct.pack(">H", 4) + b"\x00\x00"


def test_jpeg_skips_dht_and_fill_bytes() -> None:
    assert image_size(_jpeg(APP0, DHT, b"\xff", SOF0)) == ("jpeg", 640, 480)
    assert repr(ImageInfo("jpeg", 1, 2, b"abc")) == \
        "ImageInfo(format='jpeg', width=1, height=2, content=<3 bytes>)"


@pytest.mark.parametrize(("data", "match", "offset"), [
    (b"GIF89a..", r"Image data starts with '47 49 46 38 39 61 2e 2e', neither the JPEG magic", 0),
    (PNG + b"\0\0\0\x0dIHDR", r"PNG data is truncated: 16 bytes, the IHDR chunk needs 24", 16),
    (_png(1, 1, b"IDAT"), r"PNG first chunk is b'IDAT', not IHDR", 12),
    (_png(0, 5), r"PNG IHDR size 0x5 is not one: each side is 1..2147483647", 16),
    (_png(2**32 - 1, 5), r"PNG IHDR size 4294967295x5 is not one", 16),
    (_jpeg(APP0, b"\x00\xc0"), r"JPEG marker expected at byte 8, found 0x00", 8),
    (_jpeg(APP0, b"\xff\xda\x00\x02"), r"JPEG reaches marker 0xFFDA at byte 8 before any SOF", 8),
    (_jpeg(APP0, b"\xff\xd9"), r"JPEG reaches marker 0xFFD9 at byte 8 before any SOF", 8),
    (_jpeg(b"\xff\xe0\x00\x01"), r"JPEG segment 0xFFE0 at byte 2 has length 1", 4),
    (_jpeg(b"\xff\xc2" + struct.pack(">HBHH", 11, 8, 0, 640)),
     r"JPEG SOF at byte 2 gives size 640x0 \(a zero side", 7),
    (_jpeg(APP0, b"\xff\xc0\x00\x11\x08"), r"JPEG data is truncated: no SOF marker in its 13 bytes",
     10),
    (_jpeg(APP0), r"JPEG data is truncated: no SOF marker in its 8 bytes", 8),
])
def test_bad_image_headers(data: bytes, match: str, offset: int) -> None:
    with pytest.raises(InputError, match=match) as caught:
        image_size(data, "img")
    assert caught.value.offset == offset
    assert caught.value.source == "img"


# --- whole images: JPEG SOS ... FF D9 (zero padding allowed), PNG ending with IEND --------------


def _cut(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_truncated_jpeg_is_refused_naming_the_image(tmp_path: Path) -> None:
    whole = (OPENCV / "left01.jpg").read_bytes()
    path = _cut(tmp_path, "t.jpg", whole[:300])  # `head -c 300`: the header still says 640x480
    assert image_size(path.read_bytes())[1:] == (640, 480)
    with pytest.raises(InputError, match=r"JPEG image '.*t.jpg' is incomplete: it does not end "
                                         r"with the end-of-image marker FF D9 \(last bytes "
                                         r"'be 3f 5f e8'; truncated\?\)\.") as caught:
        read_image(path)
    assert caught.value.offset == 300
    with pytest.raises(InputError, match=r"JPEG image '.*h.jpg' is incomplete: no start-of-scan "
                                         r"\(SOS\) marker is reachable"):
        read_image(_cut(tmp_path, "h.jpg", whole[:whole.index(b"\xff\xda") + 3]))
    with pytest.raises(InputError, match=r"does not end with the end-of-image marker FF D9 "
                                         r"\(last bytes 'ff d9 47 47'"):
        read_image(_cut(tmp_path, "g.jpg", whole + b"GG"))
    padded = read_image(_cut(tmp_path, "p.jpg", whole + bytes(512)))
    assert (padded.width, padded.height) == (640, 480)


def test_png_must_end_with_iend(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    pil.new("RGB", (5, 4)).save(buffer, format="PNG")
    whole = buffer.getvalue()
    assert read_image(_cut(tmp_path, "ok.png", whole)).width == 5
    for name, data in (("cut.png", whole[:-1]), ("more.png", whole + b"\0")):
        with pytest.raises(InputError, match=rf"PNG image '.*{name}' is incomplete: it does not "
                                             r"end with the IEND chunk"):
            read_image(_cut(tmp_path, name, data))


@pytest.mark.parametrize("name", sorted(
    p.name for p in (FIXTURES / "laspy").iterdir() if p.suffix in (".las", ".laz")))
def test_intensity_max_alone_matches_laspy(name: str) -> None:
    values = np.asarray(laspy.read(FIXTURES / "laspy" / name).intensity)
    assert read_las_intensity_max(FIXTURES / "laspy" / name) == int(values.max())
