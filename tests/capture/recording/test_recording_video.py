"""A recording's foxglove_msgs/CompressedVideo topic becomes a camera video, not re-encoded."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from rosbags.typesys import get_types_from_msg

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import RecordingOptions
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.codecs.video import iter_frames
from sfs_kit.errors import InputError

from . import drive as d

VIDEO = "/cam/rear/video"
VIDEO_INFO = "/cam/rear/camera_info"
VIDEO_TYPE = "foxglove_msgs/msg/CompressedVideo"
VIDEO_DEF = "builtin_interfaces/Time timestamp\nstring frame_id\nuint8[] data\nstring format\n"
N = 10
OPTIONS = RecordingOptions(intensity_max={d.OUSTER: d.OUSTER_INTENSITY_MAX})


def _access_units(n: int) -> list[bytes]:
    """H.264 access units (Annex B, no B-frames) of a moving gradient, one per picture."""
    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 20), Fraction(20)
    ctx.options = {"bframes": "0", "g": "5", "crf": "20"}
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


def _video_drive(path: Path, fmt: str = "h264") -> tuple[Path, list[bytes], list[int]]:
    units = _access_units(N)
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
                format=fmt,
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


def test_another_video_format_is_refused_by_name(tmp_path: Path) -> None:
    mcap, _, _ = _video_drive(tmp_path / "drive", fmt="vp9")
    with pytest.raises(InputError, match="the video format is 'vp9'; only 'h264'"):
        convert_capture(open_capture(mcap, recording=OPTIONS), tmp_path / "s.sfs", format="sfs")
    assert not (tmp_path / "s.sfs").exists()
