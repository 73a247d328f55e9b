"""``ConvertOptions``: every conversion option, in one typed record shared by the whole tool.

The same record is the ``options=`` of ``convert_capture``, the ``convert`` field of
``RunConfig`` (so ``sfs_kit.run`` and batch use it), a key in ``sfs-kit.toml`` (``[run]``), an
``SFS_KIT_*`` variable and a command-line flag of ``convert`` and ``run`` (``sfs_kit.cli._options``
adds them to any parser). Each field's ``metadata["option"]`` (an ``OptionSpec``) names its flag
and help; the config key is the flag without dashes (``--voxel-size`` -> ``voxel_size``, also
accepted: the field name) and the variable ``SFS_KIT_`` + that key upper-cased.

To add an option: add one field here with a default and ``metadata=_option(...)`` (and a check in
``__post_init__`` if values can be wrong), then read it from ``options`` where it acts. The
flags, config keys, variables, journal dependencies and error labels follow from the field.

Light on purpose (no numpy, no pydantic): the CLI reads it to build ``--help``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from sfs_kit.errors import InputError

__all__ = ["ConvertOptions", "OptionSpec", "RadarFrame", "RecentreMode", "option_specs",
           "parse_bool"]

RecentreMode = bool | Literal["auto"]
RadarFrame = Literal["world", "ego"]
_RADAR_FRAMES = ("world", "ego")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(text: str) -> bool:
    """``true``/``yes``/``on``/``1`` or ``false``/``no``/``off``/``0`` (any case)."""
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"expected one of {', '.join(_TRUE + _FALSE)}")


def _parse_recentre(text: str) -> RecentreMode:
    if text.strip().lower() == "auto":
        return "auto"
    return parse_bool(text)


def _parse_radar_frame(text: str) -> RadarFrame:
    low = text.strip().lower()
    if low == "world":
        return "world"
    if low == "ego":
        return "ego"
    raise ValueError("expected world or ego")


@dataclass(frozen=True)
class OptionSpec:
    """How one option is spelled outside Python: its flag (``--voxel-size``), help and parser.

    ``negative`` makes a ``--x``/``--no-x`` pair (store True/False; absent keeps the default);
    a ``bool`` field without one is a plain switch; any other field takes a value parsed by
    ``parse`` (also used for ``SFS_KIT_*`` strings).
    """

    flag: str
    help: str
    parse: Callable[[str], Any]
    metavar: str | None = None
    negative: str | None = None
    negative_help: str | None = None

    @property
    def key(self) -> str:
        """The config-file key and ``SFS_KIT_*`` suffix: the flag without dashes."""
        return self.flag.lstrip("-").replace("-", "_")


def _option(flag: str, help: str, parse: Callable[[str], Any], **more: Any) -> dict[str, Any]:
    return {"option": OptionSpec(flag, help, parse, **more)}


@dataclass(frozen=True)
class ConvertOptions:
    """How a capture is converted (the format and the output path are separate arguments).

    Defaults convert everything as recorded: recentre only beyond 10 km, no thinning, points with
    NaN/inf positions dropped (and counted in the notes), cameras kept as images.
    """

    recentre: RecentreMode = field(default="auto", metadata=_option(
        "--recentre", "shift coordinates near the origin (recorded in metadata)",
        _parse_recentre, negative="--no-recentre",
        negative_help="never shift (default: shift only beyond 10 km)"))
    voxel_size_m: float | None = field(default=None, metadata=_option(
        "--voxel-size", "keep one point per voxel of this edge in metres", float, metavar="M"))
    max_points_per_frame: int | None = field(default=None, metadata=_option(
        "--max-points", "keep at most N points per frame (evenly spaced)", int, metavar="N"))
    keep_nonfinite: bool = field(default=False, metadata=_option(
        "--keep-nonfinite", "keep points with NaN/inf positions, so such frames fail validation "
        "(default: drop them and say how many in the notes)", parse_bool))
    frame_rate_hz: float | None = field(default=None, metadata=_option(
        "--frame-rate", "frames per second, for layouts whose files carry no time stamps "
        "(scale-lidar-toolkit folders named 1.ply, 2.ply, ...)", float, metavar="HZ"))
    camera_video: bool = field(default=False, metadata=_option(
        "--camera-video", "store each camera as one H.264 MP4 (Scale's encoder settings, D8; "
        "needs the 'video' extra) instead of its images; .sfs only", parse_bool))
    radar_frame: RadarFrame = field(default="world", metadata=_option(
        "--radar-frame", "the frame of scale-lidar-toolkit radar_points: world (as "
        "scale-lidar-io writes them, the default) or ego (posed with each frame's pose)",
        _parse_radar_frame, metavar="FRAME"))
    allow_outside_capture: bool = field(default=False, metadata=_option(
        "--allow-outside-capture", "read files the manifest references outside the capture "
        "folder (absolute paths, '..', symlinks leading out); each such read is reported",
        parse_bool))

    def __post_init__(self) -> None:
        mode = self.recentre
        if mode not in ("auto", True, False) or (isinstance(mode, int) and
                                                 not isinstance(mode, bool)):
            raise InputError(f"recentre must be true, false or 'auto', got {self.recentre!r}.",
                             field="recentre")
        voxel = self.voxel_size_m
        if voxel is not None and (isinstance(voxel, bool) or not isinstance(voxel, int | float)
                                  or not math.isfinite(voxel) or voxel <= 0):
            raise InputError(f"voxel_size_m must be a finite number > 0, got {voxel!r}.",
                             field="voxel_size_m")
        rate = self.frame_rate_hz
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)
                                 or not math.isfinite(rate) or rate <= 0):
            raise InputError(f"frame_rate_hz must be a finite number > 0, got {rate!r}.",
                             field="frame_rate_hz")
        most = self.max_points_per_frame
        if most is not None and (isinstance(most, bool) or not isinstance(most, int)):
            raise InputError(f"max_points_per_frame must be a whole number, got {most!r}.",
                             field="max_points_per_frame")
        if most is not None and most < 1:
            raise InputError(f"max_points_per_frame must be >= 1, got {most!r}.",
                             field="max_points_per_frame")
        if self.radar_frame not in _RADAR_FRAMES:
            raise InputError(f"radar_frame must be world or ego, got {self.radar_frame!r}.",
                             field="radar_frame")
        for name in ("keep_nonfinite", "camera_video", "allow_outside_capture"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, got "
                                 f"{getattr(self, name)!r}.", field=name)

    def check_format(self, format: str) -> None:
        """``InputError`` when an option cannot go with the attachment format: split_base64
        frames reference images, so ``camera_video`` needs ``sfs``."""
        if self.camera_video and format != "sfs":
            raise InputError(
                "camera_video (--camera-video) needs format sfs: split_base64 frames reference "
                "images, not videos (D21).",
                field="camera_video",
            )

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> ConvertOptions:
        """Build from config-file or environment values keyed by field name or option key;
        strings are parsed (``"0.1"``, ``"true"``, ``"auto"``), whole numbers become floats where
        a float is expected. Raises ``InputError`` naming the key."""
        by_key = {spec.key: name for name, spec in option_specs().items()}
        kwargs: dict[str, Any] = {}
        for key, given in values.items():
            value = given
            name = by_key.get(key, key)
            spec = option_specs().get(name)
            if spec is None:
                raise InputError(f"Unknown conversion option {key!r}.", field=key)
            if isinstance(value, str):
                try:
                    value = spec.parse(value)
                except ValueError as err:
                    raise InputError(f"Conversion option {key!r} cannot be read from "
                                     f"{value!r} ({err}).", field=name) from err
            elif spec.parse is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            kwargs[name] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain values keyed by field name (for journals and JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def changed(self) -> dict[str, Any]:
        """Only the options that differ from their defaults."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.default is MISSING or getattr(self, f.name) != f.default}


def option_specs() -> dict[str, OptionSpec]:
    """Field name -> ``OptionSpec`` for every conversion option, in declaration order."""
    return {f.name: f.metadata["option"] for f in fields(ConvertOptions)}
