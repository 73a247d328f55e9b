"""A recording's foxglove_msgs/CompressedVideo topic becomes a camera video: H.264 kept as
recorded, H.265, VP9 and AV1 re-encoded to H.264."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rosbags.typesys import get_types_from_msg

from capture.video_support import psnr
from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import RecordingOptions
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.codecs.video import iter_frames, probe_video, write_stream
from sfs_kit.errors import InputError

from . import drive as d

VIDEO = "/cam/rear/video"
VIDEO_INFO = "/cam/rear/camera_info"
VIDEO_TYPE = "foxglove_msgs/msg/CompressedVideo"
VIDEO_DEF = "builtin_interfaces/Time timestamp\nstring frame_id\nuint8[] data\nstring format\n"
N = 10
OPTIONS = RecordingOptions(intensity_max={d.OUSTER: d.OUSTER_INTENSITY_MAX})


# the encoder for each CompressedVideo format, set for one output packet per picture (no B-frames)
ENCODERS = {
    "h264": ("libx264", {"bframes": "0", "g": "5", "crf": "20"}),
    "h265": ("libx265", {"x265-params": "bframes=0:keyint=5:log-level=none", "crf": "20"}),
    "vp9": ("libvpx-vp9", {"lag-in-frames": "0", "crf": "20", "b": "0", "g": "5"}),
    "av1": ("libsvtav1", {"preset": "12", "crf": "20"}),
}


def _access_units(n: int, fmt: str = "h264") -> list[bytes]:
    """Access units of a moving gradient in ``fmt``, one per picture (Annex B for H.264/H.265)."""
    codec, options = ENCODERS[fmt]
    ctx: Any = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 20), Fraction(20)
    ctx.options = options
    yy, xx = np.mgrid[0:48, 0:64]
    units: list[bytes] = []
    for k in range(n):
        rgb = np.stack([(xx * 4 + 8 * k) % 256, yy * 5, np.full_like(xx, 20 * k)], -1)
        frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = k
        units += [bytes(p) for p in ctx.encode(frame)]
    units += [bytes(p) for p in ctx.encode(None)]
    assert len(units) == n
    return units


def _video_drive(
    path: Path, fmt: str = "h264", *, formats: list[str] | None = None, skip: int = 0
) -> tuple[Path, list[bytes], list[int]]:
    """A drive whose video topic holds N pictures; ``skip`` > 0 starts the recording that many
    pictures into the stream (keyframes every 5 pictures)."""
    units = _access_units(N + skip, fmt if fmt in ENCODERS else "h264")[skip:]
    labels = formats or [fmt] * N
    stamps = [d.T0_NS + 15_000_000 + k * 50_000_000 for k in range(N)]  # 20 Hz

    def extra(_writer: Any, store: Any, write: Any) -> None:
        store.register(get_types_from_msg(VIDEO_DEF, VIDEO_TYPE))
        t = store.types
        for k, (unit, ts) in enumerate(zip(units, stamps, strict=True)):
            time = t["builtin_interfaces/msg/Time"](sec=ts // 10**9, nanosec=ts % 10**9)
            msg = t[VIDEO_TYPE](
                timestamp=time,
                frame_id="cam_front_optical_frame",
                data=np.frombuffer(unit, np.uint8),
                format=labels[k],
            )
            write(VIDEO, VIDEO_TYPE, ts + 2_000_000, msg)
            if k % 2 == 0:
                header = t["std_msgs/msg/Header"](stamp=time, frame_id="cam_front_optical_frame")
                p = [*d.FRONT_K[:3], 0.0, *d.FRONT_K[3:6], 0.0, 0.0, 0.0, 1.0, 0.0]
                info = t["sensor_msgs/msg/CameraInfo"](
                    header=header,
                    height=48,
                    width=64,
                    distortion_model="plumb_bob",
                    d=np.array(d.PLUMB_BOB_D),
                    k=np.array(d.FRONT_K),
                    r=np.eye(3).reshape(9),
                    p=np.array(p),
                    binning_x=0,
                    binning_y=0,
                    roi=t["sensor_msgs/msg/RegionOfInterest"](
                        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
                    ),
                )
                write(VIDEO_INFO, "sensor_msgs/msg/CameraInfo", ts + 2_000_000, info)

    folder = d.write_drive(path, "mcap", d.DriveSpec(extra=extra))
    return next(folder.glob("*.mcap")), units, stamps


def test_a_compressed_video_topic_is_stored_as_the_recorded_stream(tmp_path: Path) -> None:
    mcap, units, stamps = _video_drive(tmp_path / "drive")
    capture = open_capture(mcap, recording=OPTIONS)
    (rear,) = [c for c in capture.cameras if c.video is not None]
    assert rear.video is not None
    assert list(rear.video.timestamps_us) == [t // 1000 for t in stamps]  # all 20 Hz frames
    out = tmp_path / "drive.sfs"
    result = convert_capture(capture, out, format="sfs")
    assert any("stored without re-encoding" in n for n in result.notes)
    tree = read_sfs_dict(out)
    cam = next(s for s in tree["sensors"] if s["id"] == rear.sensor_id)
    offset = tree["time_offset"]
    assert cam["video"]["timestamps"] == [t // 1000 - offset for t in stamps]
    stored = [f.to_ndarray(format="rgb24") for f in iter_frames(cam["video"]["content"])]
    with av.open(io.BytesIO(b"".join(units)), "r", format="h264") as raw:
        recorded = [f.to_ndarray(format="rgb24") for f in raw.decode(video=0)]
    assert len(stored) == len(recorded) == N
    for a, b in zip(stored, recorded, strict=True):
        np.testing.assert_array_equal(a, b)  # the same bitstream: no re-encoding


def _decoded(data: bytes, demuxer: str) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), "r", format=demuxer) as raw:
        return [f.to_ndarray(format="rgb24") for f in raw.decode(video=0)]


@pytest.mark.parametrize("fmt", ["h265", "vp9", "av1"])
def test_other_compressed_video_formats_are_re_encoded_to_h264(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVT_LOG", "1")  # SVT-AV1's banner: errors only
    mcap, units, stamps = _video_drive(tmp_path / "drive", fmt)
    out = tmp_path / "drive.sfs"
    result = convert_capture(open_capture(mcap, recording=OPTIONS), out, format="sfs")
    assert not any("stored without re-encoding" in n for n in result.notes)
    assert [i for i in result.issues if i.severity == "error"] == []
    tree = read_sfs_dict(out)
    cam = next(s for s in tree["sensors"] if "video" in s)
    assert cam["video"]["timestamps"] == [t // 1000 - tree["time_offset"] for t in stamps]
    content = cam["video"]["content"]
    info = probe_video(content)
    assert (info.container, info.codec, info.pix_fmt) == ("mp4", "h264", "yuv420p")
    assert (info.frame_count, info.width, info.height) == (N, 64, 48)
    if fmt == "h265":
        recorded = _decoded(b"".join(units), "hevc")
    else:  # an IVF file of the frames, as an independent container for the decoder
        ivf = tmp_path / "recorded.ivf"
        write_stream(units, ivf, fmt=fmt, fps=20.0, source="test")
        recorded = _decoded(ivf.read_bytes(), "ivf")
    assert len(recorded) == N
    for k, frame in enumerate(iter_frames(content)):
        assert psnr(frame.to_ndarray(format="rgb24"), recorded[k]) > 30.0, k


def test_an_unknown_video_format_is_refused_by_name(tmp_path: Path) -> None:
    mcap, _, _ = _video_drive(tmp_path / "drive", fmt="mjpeg")
    with pytest.raises(InputError, match="the video format is 'mjpeg'; a CompressedVideo topic"):
        convert_capture(open_capture(mcap, recording=OPTIONS), tmp_path / "s.sfs", format="sfs")
    assert not (tmp_path / "s.sfs").exists()
    assert list(tmp_path.glob(".s.sfs*")) == []


def test_a_format_change_midway_is_refused(tmp_path: Path) -> None:
    formats = ["h264"] * 6 + ["h265"] * (N - 6)
    mcap, _, _ = _video_drive(tmp_path / "drive", formats=formats)
    with pytest.raises(InputError, match="changes from 'h264' to 'h265'"):
        convert_capture(open_capture(mcap, recording=OPTIONS), tmp_path / "s.sfs", format="sfs")
    assert not (tmp_path / "s.sfs").exists()
    assert list(tmp_path.glob(".s.sfs*")) == []


@pytest.mark.parametrize("fmt", ["h264", "h265", "vp9"])
def test_a_recording_that_starts_between_keyframes_begins_at_the_first(
    fmt: str, tmp_path: Path
) -> None:
    mcap, units, stamps = _video_drive(tmp_path / "drive", fmt, skip=1)  # keyframe at 4
    out = tmp_path / "drive.sfs"
    result = convert_capture(open_capture(mcap, recording=OPTIONS), out, format="sfs")
    assert any(
        "its first 4 video frame(s) come before the stream's first keyframe" in n
        for n in result.notes
    )
    assert [i for i in result.issues if i.severity == "error"] == []
    tree = read_sfs_dict(out)
    cam = next(s for s in tree["sensors"] if "video" in s)
    kept = [t // 1000 - tree["time_offset"] for t in stamps[4:]]
    assert cam["video"]["timestamps"] == cam["poses"]["timestamps"] == kept
    content = cam["video"]["content"]
    info = probe_video(content)
    assert (info.codec, info.frame_count, info.first_keyframe) == ("h264", N - 4, 0)
    if fmt == "h264":  # passed through: the recorded access units from the keyframe on
        assert any("stored without re-encoding" in n for n in result.notes)
        recorded = _decoded(b"".join(units[4:]), "h264")
        stored = [f.to_ndarray(format="rgb24") for f in iter_frames(content)]
        assert len(stored) == len(recorded) == N - 4
        for a, b in zip(stored, recorded, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fmt", ["h264", "vp9"])
def test_a_video_stream_without_a_keyframe_is_refused(fmt: str, tmp_path: Path) -> None:
    units = _access_units(5, fmt)[1:]  # the keyframe (picture 0 of 5) is not recorded
    with pytest.raises(InputError, match="topic: the video stream holds no keyframe"):
        write_stream(units, tmp_path / "v", fmt=fmt, fps=10.0, source="topic")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def recorded_units() -> dict[str, list[bytes]]:
    return {fmt: _access_units(6, fmt) for fmt in ("h264", "h265", "vp9")}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_video_messages_are_input_errors_never_crashes(
    recorded_units: dict[str, list[bytes]],
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    """Flipped bytes, cut or junk messages: storing the stream, probing and decoding it either
    work or raise InputError, and a failed store leaves no file."""
    fmt = data.draw(st.sampled_from(sorted(recorded_units)))
    units = [bytearray(u) for u in recorded_units[fmt]]
    for _ in range(data.draw(st.integers(1, 6))):
        unit = units[data.draw(st.integers(0, len(units) - 1))]
        if unit:
            unit[data.draw(st.integers(0, len(unit) - 1))] = data.draw(st.integers(0, 255))
    k = data.draw(st.integers(0, len(units) - 1))
    units[k] = units[k][: data.draw(st.integers(0, len(units[k])))]
    if data.draw(st.booleans()):
        units.insert(data.draw(st.integers(0, len(units))), bytearray(data.draw(st.binary())))
    tmp = tmp_path_factory.mktemp("fuzz")
    dest = tmp / "v"
    try:
        written = write_stream([bytes(u) for u in units], dest, fmt=fmt, fps=10.0, source="t")
    except InputError:
        assert list(tmp.iterdir()) == []
        return
    assert written.frames >= 1  # else it is an InputError (no keyframe)
    try:
        probe_video(dest, source="t")
        for _ in iter_frames(dest, source="t"):
            pass
    except InputError:
        pass
