"""Camera rules (V-C*): intrinsics, distortion, images and video."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.models._imagesize import image_end_problem, image_kind, image_size, is_mp4
from sfs_kit.models._video import VideoInfo, have_av, probe_video
from sfs_kit.models.calibration import DISTORTION_PARAM_COUNTS
from sfs_kit.models.validate._base import (
    _INTRINSICS_KEYS,
    FPS_TOLERANCE,
    _field,
    _index,
    _is_int,
    _is_number,
    _kind,
    _Rules,
)

_log = logging.getLogger(__name__)


def _image_facts(
    content: npt.NDArray[np.uint8],
) -> tuple[str | None, tuple[int, int] | None, str | None]:
    """An encoded image's kind, size and completeness problem (None where it stops)."""
    kind = image_kind(content)
    if kind is None:
        return None, None, None
    found = image_size(content)
    if found is None:
        return kind, None, None
    return kind, found, image_end_problem(content, kind)


class _CameraRules(_Rules):
    """A camera's intrinsics and its images or video."""

    def camera(self, sensor: Mapping[str, Any], path: str, span: tuple[int, int] | None) -> None:
        size = self.intrinsics(
            sensor.get("intrinsics"), _field(path, "intrinsics"), present="intrinsics" in sensor
        )
        images, video = sensor.get("images"), sensor.get("video")
        if images is None and video is None:
            self.error("V-C1", path, "a camera needs 'images' or 'video'; it has neither")
            return
        if images is not None and video is not None:
            self.error(
                "V-C1b", path, "a camera must have exactly one of 'images' or 'video'; it has both"
            )
        if images is not None:
            self.images(images, _field(path, "images"), size, span)
        if video is not None:
            self.video(video, _field(path, "video"), span, size)

    def intrinsics(self, intr: object, path: str, *, present: bool) -> tuple[int, int] | None:
        if not isinstance(intr, Mapping):
            what = "missing" if not present else _kind(intr)
            self.error("V-N2", path, f"a camera needs an 'intrinsics' object; it is {what}")
            return None
        for key in intr:
            if key not in _INTRINSICS_KEYS:
                hint = " (SFS 1.0 cannot express it)" if key in ("skew", "scale_factor") else ""
                self.error(
                    "V-N2", _field(path, str(key)), f"unknown intrinsics field {key!r}{hint}"
                )
        for key in ("fx", "fy", "cx", "cy"):
            v = intr.get(key)
            if key not in intr:
                self.error("V-N2", _field(path, key), f"intrinsics need {key!r}")
            elif not _is_number(v) or not math.isfinite(v):
                self.error(
                    "V-C2", _field(path, key), f"{key} must be a finite number, found {_kind(v)}"
                )
            elif key in ("fx", "fy") and v <= 0:
                self.error("V-C2", _field(path, key), f"{key} must be > 0, found {v!r}")
        dims: list[int] = []
        for key in ("width", "height"):
            v = intr.get(key)
            if key not in intr:
                self.error("V-N2", _field(path, key), f"intrinsics need {key!r}")
            elif not _is_int(v) or v <= 0:
                self.error("V-C2", _field(path, key), f"{key} must be an int > 0, found {_kind(v)}")
            else:
                dims.append(v)
        self.distortion(intr.get("distortion"), _field(path, "distortion"))
        return (dims[0], dims[1]) if len(dims) == 2 else None

    def distortion(self, dist: object, path: str) -> None:
        if dist is None:
            return
        if not isinstance(dist, Mapping):
            self.error(
                "V-N2",
                path,
                f"distortion must be an object {{model, params}} or null, found {_kind(dist)}",
            )
            return
        for key in dist:
            if key not in ("model", "params"):
                self.error("V-N2", _field(path, str(key)), f"unknown distortion field {key!r}")
        model = dist.get("model")
        if not isinstance(model, str) or model not in DISTORTION_PARAM_COUNTS:
            self.error(
                "V-N2",
                _field(path, "model"),
                f"unknown distortion model {model!r}; "
                f"expected one of {sorted(DISTORTION_PARAM_COUNTS)}",
            )
        params = dist.get("params")
        if not isinstance(params, list) or not all(_is_number(p) for p in params):
            self.error(
                "V-N2",
                _field(path, "params"),
                f"distortion params must be a list of numbers, found {params!r}"[:300],
            )
            return
        bad = [p for p in params if not math.isfinite(p)]
        if bad:
            self.error(
                "V-S6",
                _field(path, "params"),
                f"distortion params must be finite, found {bad[0]!r}",
            )
        if isinstance(model, str) and model in DISTORTION_PARAM_COUNTS:
            want = DISTORTION_PARAM_COUNTS[model]
            if len(params) != want:
                self.error(
                    "V-C3",
                    _field(path, "params"),
                    f"distortion model {model!r} takes exactly {want} params, found {len(params)}",
                )

    def images(
        self, images: object, path: str, size: tuple[int, int] | None, span: tuple[int, int] | None
    ) -> None:
        if not isinstance(images, list):
            self.error("V-N2", path, f"'images' must be a list, found {_kind(images)}")
            return
        if not images:
            self.error("V-C1", path, "'images' is empty; a camera needs at least one image")
            return
        stamps: list[int] = []
        for i, image in enumerate(images):
            ipath = _index(path, i)
            if not isinstance(image, Mapping):
                self.error(
                    "V-N2",
                    ipath,
                    f"an image must be an object {{timestamp, content}}, found {_kind(image)}",
                )
                continue
            for key in image:
                if key not in ("timestamp", "content"):
                    self.error(
                        "V-N2", _field(ipath, str(key)), f"unknown field {key!r} in an image"
                    )
            ts = image.get("timestamp")
            if not _is_int(ts):
                self.error(
                    "V-T5",
                    _field(ipath, "timestamp"),
                    f"a timestamp must be an int, found {_kind(ts)}",
                )
            else:
                stamps.append(ts)
            self.image_content(image.get("content"), _field(ipath, "content"), size)
        if len(stamps) == len(images):
            self.time_rules(stamps, path, content=True)
            self.span_rule(stamps, path, span)

    def image_content(self, content: object, path: str, size: tuple[int, int] | None) -> None:
        if not isinstance(content, np.ndarray):
            self.error(
                "V-C4",
                path,
                "image content must be a uint8 array of encoded JPEG/PNG bytes, "
                f"found {_kind(content)}",
            )
            return
        if content.dtype != np.uint8 or content.ndim != 1 or content.size == 0:
            self.error(
                "V-C4",
                path,
                f"image content must be a non-empty 1-D uint8 array of encoded JPEG/PNG bytes, "
                f"found {_kind(content)}",
            )
            return
        kind, found, problem = self.facts.get(content, "image", lambda: _image_facts(content))
        if kind is None:
            self.error("V-C4", path, "image content is neither a JPEG (FF D8 FF) nor a PNG file")
            return
        if found is None:
            self.error("V-C4", path, f"the {kind.upper()} header has no readable image size")
            return
        if problem is not None:
            self.error("V-C4", path, f"the {kind.upper()} is incomplete: {problem}")
        if size is not None and found != size:
            self.error(
                "V-C4",
                path,
                f"the {kind.upper()} is {found[0]}x{found[1]} but the intrinsics say "
                f"{size[0]}x{size[1]}",
            )

    def video(
        self,
        video: object,
        path: str,
        span: tuple[int, int] | None,
        size: tuple[int, int] | None = None,
    ) -> None:
        if not isinstance(video, Mapping):
            self.error(
                "V-N2",
                path,
                f"'video' must be an object {{timestamps, content, fps}}, found {_kind(video)}",
            )
            return
        for key in video:
            if key not in ("timestamps", "content", "fps"):
                self.error("V-N2", _field(path, str(key)), f"unknown field {key!r} in a video")
        stamps = self.timestamp_list(
            video.get("timestamps"), _field(path, "timestamps"), content=True
        )
        if stamps is not None:
            if not stamps:
                self.error("V-C1", _field(path, "timestamps"), "the video has no timestamps")
            self.span_rule(stamps, _field(path, "timestamps"), span)
        fps = video.get("fps")
        if not (_is_number(fps) and math.isfinite(fps) and fps > 0):
            self.error(
                "V-C5", _field(path, "fps"), f"fps must be a finite number > 0, found {_kind(fps)}"
            )
        elif stamps is not None and len(stamps) >= 2 and _is_number(fps):
            diffs = np.diff(np.asarray(stamps, dtype=np.float64))
            median = float(np.median(diffs))
            if median > 0:
                rate = self.ticks_per_s / median
                if abs(fps - rate) > FPS_TOLERANCE * rate:
                    self.warn(
                        "V-C5",
                        _field(path, "fps"),
                        f"fps {fps:g} disagrees with the timestamps' rate {rate:.4g} "
                        "by more than 10%",
                    )
        content = video.get("content")
        cpath = _field(path, "content")
        if not isinstance(content, np.ndarray) or content.dtype != np.uint8 or content.ndim != 1:
            self.error(
                "V-C5",
                cpath,
                f"video content must be a 1-D uint8 array of MP4 bytes, found {_kind(content)}",
            )
            return
        if not is_mp4(content):
            self.error("V-C5", cpath, "video content is not an MP4 file (no 'ftyp' at bytes 4-7)")
            return
        if stamps is None:
            return
        if not have_av():
            count = count_video_frames(content)
            if count is None:
                self.warn(
                    "V-C5",
                    cpath,
                    "the MP4 frame count was not checked (install the 'video' extra, PyAV, or "
                    "put ffprobe on the PATH)",
                )
            elif count != len(stamps):
                self.error(
                    "V-C5",
                    cpath,
                    f"the MP4 has {count} frames but there are {len(stamps)} timestamps",
                )
            return
        try:
            info = probe_video(content, source="<the MP4>")
        except InputError as err:
            self.error("V-C5", cpath, str(err).replace("<the MP4>", "the MP4").rstrip("."))
            return
        self.video_info(info, cpath, stamps, size)

    def video_info(
        self, info: VideoInfo, path: str, stamps: list[int], size: tuple[int, int] | None
    ) -> None:
        """V-C5 with PyAV: frame count, duration and size against the timestamps and intrinsics."""
        if info.frame_count != len(stamps):
            self.error(
                "V-C5",
                path,
                f"the MP4 has {info.frame_count} frames but there are {len(stamps)} timestamps",
            )
        if size is not None and (info.width, info.height) != size:
            self.error(
                "V-C5",
                path,
                f"the video is {info.width}x{info.height} but the intrinsics say "
                f"{size[0]}x{size[1]}",
            )
        if info.frame_count and info.first_keyframe != 0:
            first = "it has none" if info.first_keyframe is None else f"frame {info.first_keyframe}"
            self.error(
                "V-C5",
                path,
                f"the video does not start with a keyframe (its first keyframe: {first}), so no "
                "decoder shows the frames before it and the pictures no longer line up with the "
                "timestamps",
            )
        counted = info.frame_count == len(stamps)  # else the duration says nothing more
        if counted and len(stamps) >= 2 and info.duration_s is not None:
            median = float(np.median(np.diff(np.asarray(stamps, dtype=np.float64))))
            if median > 0:
                want_s = len(stamps) * median / self.ticks_per_s
                if abs(info.duration_s - want_s) > FPS_TOLERANCE * want_s:
                    self.error(
                        "V-C5",
                        path,
                        f"the video lasts {info.duration_s:.3f} s but {len(stamps)} frames at the "
                        f"timestamps' rate ({self.ticks_per_s / median:.4g} Hz) last "
                        f"{want_s:.3f} s",
                    )
        if info.codec != "h264":
            self.warn(
                "V-C5",
                path,
                f"the video codec is {info.codec!r}; Scale's encoder writes H.264 (D8) and other "
                "codecs may not play in its viewer",
            )
        elif info.pix_fmt not in (None, "yuv420p", "yuvj420p"):
            self.warn(
                "V-C5",
                path,
                f"the video's pixel format is {info.pix_fmt!r}; Scale's encoder writes yuv420p "
                "(D8) and browsers play little else",
            )


def count_video_frames(content: npt.NDArray[np.uint8]) -> int | None:
    """Video frames in an MP4 via ``ffprobe`` (optional); ``None`` when ffprobe is unavailable."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    cmd = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-count_packets",
        "-show_entries",
        "stream=nb_read_packets",
        "-of",
        "csv=p=0",
        "-i",
        "pipe:0",
    ]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, our own ffprobe path
            cmd,
            input=content.tobytes(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        return int(done.stdout.decode("ascii", "replace").strip().splitlines()[0].strip(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        _log.warning("ffprobe could not count the video frames", exc_info=True)
        return None
