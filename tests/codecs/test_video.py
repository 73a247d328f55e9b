"""sfs_kit.codecs.video: the D8 encoder, probe and frame decoder; SfsAppendWriter.add_file."""

from __future__ import annotations

import builtins
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfs_kit.codecs.sfs import SfsAppendWriter, read_sfs_dict
from sfs_kit.codecs.video import (
    D8_SETTINGS,
    Mp4Encoder,
    decode_frame,
    fps_from_timestamps,
    iter_frames,
    probe_video,
)
from sfs_kit.errors import InputError, MissingDependencyError

PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "opencv" / "left01.jpg"


def _jpeg(k: int) -> bytes:
    """A real photo, shifted k pixels: 320x240 JPEG bytes."""
    src = np.asarray(cv2.imread(str(PHOTO)), np.uint8)
    crop = np.ascontiguousarray(src[10 + k : 250 + k, 20 + 2 * k : 340 + 2 * k])
    return bytes(cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())


def _encode(path: Path, n: int, fps: float = 10.0) -> list[bytes]:
    images = [_jpeg(k) for k in range(n)]
    with Mp4Encoder(path, width=320, height=240, fps=fps) as enc:
        for data in images:
            enc.add_image(data)
    return images


def test_d8_options_are_scales_ffmpeg_arguments() -> None:
    assert D8_SETTINGS.options() == {
        "crf": "24",
        "preset": "fast",
        "x264-params": "keyint=2:scenecut=0",
    }


def test_fps_comes_from_the_median_interval() -> None:
    assert fps_from_timestamps([0, 100_000, 200_000, 350_000, 400_000]) == pytest.approx(10.0)
    assert fps_from_timestamps([0, 33_333, 66_667]) == pytest.approx(30.0, rel=1e-4)
    assert fps_from_timestamps([5]) == 10.0


def test_encode_probe_and_decode_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    images = _encode(path, 6, fps=12.5)
    info = probe_video(path)
    assert (info.container, info.codec, info.pix_fmt) == ("mp4", "h264", "yuv420p")
    assert (info.width, info.height, info.frame_count) == (320, 240, 6)
    assert info.duration_s == pytest.approx(6 / 12.5)
    assert info.average_rate == pytest.approx(12.5)
    assert info.bit_rate is not None
    assert info.bit_rate > 0
    frames = [f.to_ndarray(format="rgb24") for f in iter_frames(path.read_bytes())]
    assert len(frames) == 6
    for k, frame in enumerate(frames):
        ref = np.asarray(cv2.imdecode(np.frombuffer(images[k], np.uint8), 1), np.uint8)[:, :, ::-1]
        err = np.abs(frame.astype(int) - ref.astype(int)).mean()
        assert err < 4.0, (k, err)
        np.testing.assert_array_equal(decode_frame(path, k), frame)


def test_add_images_decodes_ahead_and_keeps_the_order(tmp_path: Path) -> None:
    images = [_jpeg(3 * k) for k in range(8)]
    done: list[int] = []
    with Mp4Encoder(tmp_path / "ahead.mp4", width=320, height=240, fps=10.0) as enc:
        enc.add_images(
            ((data, f"img{k}") for k, data in enumerate(images)),
            on_frame=lambda: done.append(enc.frames),
        )
    assert done == list(range(1, 9))  # called after each frame, in order
    refs = [
        np.asarray(cv2.imdecode(np.frombuffer(d, np.uint8), 1), np.uint8)[:, :, ::-1]
        for d in images
    ]
    frames = [f.to_ndarray(format="rgb24") for f in iter_frames(tmp_path / "ahead.mp4")]
    assert len(frames) == 8
    for k, frame in enumerate(frames):  # (x264's threads make two encodes differ in bits)
        errors = [np.abs(frame.astype(int) - ref.astype(int)).mean() for ref in refs]
        assert int(np.argmin(errors)) == k
        assert errors[k] < 4.0, (k, errors[k])


def test_add_images_names_a_bad_image_and_leaves_no_file(tmp_path: Path) -> None:
    images = [_jpeg(0), _jpeg(1), b"\xff\xd8\xff" + bytes(40), _jpeg(3)]
    done: list[int] = []
    with (
        pytest.raises(InputError, match="img2: cannot decode the image"),
        Mp4Encoder(tmp_path / "v.mp4", width=320, height=240, fps=10.0) as enc,
    ):
        enc.add_images(
            ((data, f"img{k}") for k, data in enumerate(images)), on_frame=lambda: done.append(1)
        )
    assert len(done) == 2
    assert not (tmp_path / "v.mp4").exists()


def test_decode_frame_refuses_an_index_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    _encode(path, 3)
    with pytest.raises(InputError, match="frame 3 asked for, but the video has 3 frames"):
        decode_frame(path, 3)
    with pytest.raises(InputError, match="frame index must be an int"):
        decode_frame(path, -1)


def test_encoder_refuses_odd_sizes_and_wrong_pictures(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least 2x2 pixels"):
        Mp4Encoder(tmp_path / "tiny.mp4", width=1, height=240, fps=10.0)
    path = tmp_path / "v.mp4"
    enc = Mp4Encoder(path, width=320, height=240, fps=10.0)
    with pytest.raises(InputError, match="640x480 but the camera is 320x240"), enc:
        enc.add_image(PHOTO.read_bytes())
    assert not path.exists()  # the partial file is removed
    enc = Mp4Encoder(path, width=320, height=240, fps=10.0)
    with pytest.raises(InputError, match="neither a JPEG nor a PNG"), enc:
        enc.add_image(b"GIF89a" + bytes(20))
    enc = Mp4Encoder(path, width=320, height=240, fps=10.0)
    with pytest.raises(InputError, match="cannot decode the image"), enc:
        enc.add_image(b"\xff\xd8\xff\xe0" + bytes(64))
    assert not path.exists()


def test_probe_names_the_source_of_garbage() -> None:
    with pytest.raises(InputError, match=r"cam7 cannot be read as a video"):
        probe_video(b"\x00\x00\x00\x18ftypmp42" + bytes(40), source="cam7")


def test_missing_pyav_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_import = builtins.__import__

    def no_av(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "av" or name.startswith("av."):
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "av")
    monkeypatch.setattr(builtins, "__import__", no_av)
    monkeypatch.setattr("importlib.import_module", no_av)
    with pytest.raises(MissingDependencyError, match=r"sfs_kit\[video\]"):
        Mp4Encoder(tmp_path / "v.mp4", width=320, height=240, fps=10.0)
    with pytest.raises(MissingDependencyError, match="'video' extra"):
        probe_video(b"")


def test_add_file_copies_a_file_in_as_one_uint8_item(tmp_path: Path) -> None:
    mp4 = tmp_path / "v.mp4"
    _encode(mp4, 2)
    for reserve in (None, 4096):
        out = tmp_path / f"s{reserve}.sfs"
        with SfsAppendWriter(out, reserve_header_bytes=reserve) as writer:
            before = writer.add_array(np.arange(5, dtype=np.float32))
            ref = writer.add_file(mp4)
            writer.finish({"a": before, "video": {"content": ref}})
        tree = read_sfs_dict(out)
        content = tree["video"]["content"]
        assert content.dtype == np.uint8
        assert content.tobytes() == mp4.read_bytes()
        assert tree["a"].tolist() == [0, 1, 2, 3, 4]


def test_add_file_of_a_missing_or_empty_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    writer = SfsAppendWriter(tmp_path / "s.sfs")
    with writer, pytest.raises(InputError, match=r"missing\.mp4"):
        writer.add_file(tmp_path / "missing.mp4")
    writer = SfsAppendWriter(tmp_path / "t.sfs")
    with writer, pytest.raises(InputError, match="is empty"):
        writer.add_file(tmp_path / "empty.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4"]


def test_bytes_buffer_and_path_probe_alike(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    _encode(path, 2)
    data = path.read_bytes()
    as_array = np.frombuffer(data, np.uint8)
    assert probe_video(path) == probe_video(data) == probe_video(as_array)
    assert probe_video(memoryview(data)) == probe_video(io.BytesIO(data).getvalue())


@pytest.fixture(scope="module")
def small_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("fuzz") / "v.mp4"
    _encode(path, 3)
    return path.read_bytes()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_mp4s_are_input_errors_never_crashes(small_mp4: bytes, data: st.DataObject) -> None:
    """Flipped bytes and truncations: probe and decode either work or raise InputError."""
    buf = bytearray(small_mp4)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(buf)))
    damaged = bytes(buf[:cut])
    try:
        info = probe_video(damaged)
    except InputError:
        return
    assert info.frame_count >= 0
    try:
        for frame in iter_frames(damaged):
            assert frame.width > 0
    except InputError:
        pass


def test_odd_sizes_lose_their_last_column_and_row(tmp_path: Path) -> None:
    """H.264 4:2:0 needs even sides: a 321x241 picture becomes 320x240, pixels kept in place."""
    src = np.asarray(cv2.imread(str(PHOTO)), np.uint8)[:241, :321, ::-1]
    path = tmp_path / "odd.mp4"
    with Mp4Encoder(path, width=321, height=241, fps=10.0) as enc:
        assert enc.video_size == (320, 240)
        enc.add_frame(np.ascontiguousarray(src))
    decoded = decode_frame(path, 0)
    assert decoded.shape == (240, 320, 3)
    assert np.abs(decoded.astype(int) - src[:240, :320].astype(int)).mean() < 4.0
