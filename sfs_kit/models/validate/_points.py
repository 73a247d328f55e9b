"""Point rules (V-A*, and V-O1 for points): the frames of lidar and radar sensors, their arrays."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from sfs_kit.models.validate._base import (
    _POINT_KEYS,
    _field,
    _index,
    _is_int,
    _kind,
    _Rules,
)


class _PointRules(_Rules):
    """Frames and their point arrays."""

    def frames(
        self,
        frames: object,
        path: str,
        kind: str,
        *,
        world: bool,
        span: tuple[int, int] | None,
        has_key: bool,
    ) -> None:
        if not isinstance(frames, list):
            what = "missing" if not has_key else _kind(frames)
            self.error("V-N2", path, f"'frames' must be a list of frames; it is {what}")
            return
        if not frames:
            self.error("V-N4", path, f"a {kind} sensor must have at least one frame")
            return
        stamps: list[int | None] = []
        for i, frame in enumerate(frames):
            fpath = _index(path, i)
            if not isinstance(frame, Mapping):
                self.error(
                    "V-N2",
                    fpath,
                    f"a frame must be an object {{timestamp, points}}, found {_kind(frame)}",
                )
                stamps.append(None)
                continue
            for key in frame:
                if key not in ("timestamp", "points"):
                    self.error("V-N2", _field(fpath, str(key)), f"unknown field {key!r} in a frame")
            ts = frame.get("timestamp")
            if "timestamp" not in frame:
                self.error("V-N2", _field(fpath, "timestamp"), "the frame has no 'timestamp'")
                stamps.append(None)
            elif not _is_int(ts):
                self.error(
                    "V-T5",
                    _field(fpath, "timestamp"),
                    f"a timestamp must be an int, found {_kind(ts)}",
                )
                stamps.append(None)
            else:
                stamps.append(ts)
        good = [t for t in stamps if t is not None]
        if len(good) == len(stamps):
            self.time_rules(good, path, content=True)
            self.span_rule(good, path, span)
        for i, frame in enumerate(frames):
            if not isinstance(frame, Mapping):
                continue
            fpath = _index(path, i)
            points = frame.get("points")
            if not isinstance(points, Mapping):
                self.error(
                    "V-N2",
                    _field(fpath, "points"),
                    f"the frame needs a 'points' object, found {_kind(points)}",
                )
                continue
            next_ts = stamps[i + 1] if i + 1 < len(stamps) else None
            self.point_arrays(
                points,
                _field(fpath, "points"),
                kind,
                world=world,
                frame_ts=stamps[i],
                next_ts=next_ts,
            )

    def point_arrays(
        self,
        points: Mapping[str, Any],
        path: str,
        kind: str,
        *,
        world: bool,
        frame_ts: int | None,
        next_ts: int | None,
    ) -> None:
        for key in points:
            if key not in _POINT_KEYS[kind]:
                self.error(
                    "V-N2", _field(path, str(key)), f"unknown field {key!r} in {kind} points"
                )
        if "positions" not in points:
            self.error("V-N2", _field(path, "positions"), "'positions' is required")
            n = None
        else:
            n = self.xyz(
                points["positions"], _field(path, "positions"), "V-A1", "positions", world=world
            )
        if points.get("colors") is not None:
            self.typed(points["colors"], _field(path, "colors"), "V-A2", "colors", "uint8", 3, n)
        if points.get("intensities") is not None:
            self.typed(
                points["intensities"],
                _field(path, "intensities"),
                "V-A3",
                "intensities",
                "uint8",
                None,
                n,
            )
        if points.get("directions") is not None:
            self.xyz(
                points["directions"],
                _field(path, "directions"),
                "V-A5",
                "directions",
                world=False,
                n=n,
            )
        if points.get("lengths") is not None:
            arr = self.typed(
                points["lengths"], _field(path, "lengths"), "V-A5", "lengths", "float32", None, n
            )
            if arr is not None and arr.size and not np.isfinite(sum(self.facts.minmax(arr))):
                self.error(
                    "V-A7", _field(path, "lengths"), "lengths must be finite, found NaN or inf"
                )
        if points.get("timestamps") is not None:
            self.point_timestamps(
                points["timestamps"], _field(path, "timestamps"), n, frame_ts, next_ts
            )

    def xyz(
        self, value: object, path: str, code: str, name: str, *, world: bool, n: int | None = None
    ) -> int | None:
        """float32 (N, 3) (or flat 3N); V-A7 finiteness; V-O1 magnitude. Returns N."""
        if not isinstance(value, np.ndarray):
            self.error("V-N2", path, f"{name} must be a numpy array, found {_kind(value)}")
            return None
        arr = value
        if arr.ndim == 1:
            if arr.shape[0] % 3 != 0:
                self.error(
                    "V-A8", path, f"flat {name} has {arr.shape[0]} values, not a multiple of 3"
                )
                return None
            arr = arr.reshape(-1, 3)
        elif arr.ndim != 2 or arr.shape[1] != 3:
            self.error(code, path, f"{name} must have shape (N, 3), found {arr.shape}")
            return None
        if arr.dtype != np.dtype("<f4"):
            self.error(
                code,
                path,
                f"{name} must be float32, found {arr.dtype.name}"
                + (" (big-endian)" if arr.dtype.byteorder == ">" else ""),
            )
        if n is not None and len(arr) != n:
            self.error("V-A8", path, f"{name} has {len(arr)} rows but positions has {n}")
        if arr.size and arr.dtype.kind in "fiu":
            lo_v, hi_v = self.facts.minmax(arr)
            lo, hi = float(lo_v), float(hi_v)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                self.error("V-A7", path, f"{name} must be finite, found NaN or inf")
            elif world:
                self._coord(max(-lo, hi), path)
        return len(arr)

    def typed(  # noqa: PLR0917
        self,
        value: object,
        path: str,
        code: str,
        name: str,
        dtype: str,
        cols: int | None,
        n: int | None,
    ) -> npt.NDArray[Any] | None:
        """An array of one dtype, 1-D (``cols`` None) or (N, cols) (flat accepted); V-A8 length."""
        if not isinstance(value, np.ndarray):
            self.error("V-N2", path, f"{name} must be a numpy array, found {_kind(value)}")
            return None
        arr = value
        if cols is not None and arr.ndim == 1:
            if arr.shape[0] % cols != 0:
                self.error(
                    "V-A8", path, f"flat {name} has {arr.shape[0]} values, not a multiple of {cols}"
                )
                return None
            arr = arr.reshape(-1, cols)
        want_ndim = 1 if cols is None else 2
        if arr.ndim != want_ndim or (cols is not None and arr.shape[1] != cols):
            shape = "(N,)" if cols is None else f"(N, {cols})"
            self.error(code, path, f"{name} must have shape {shape}, found {value.shape}")
            return None
        if arr.dtype != np.dtype(dtype).newbyteorder("<"):
            self.error(code, path, f"{name} must be {dtype}, found {arr.dtype.name}")
        if n is not None and len(arr) != n:
            self.error("V-A8", path, f"{name} has {len(arr)} rows but positions has {n}")
        return arr

    def point_timestamps(
        self, value: object, path: str, n: int | None, frame_ts: int | None, next_ts: int | None
    ) -> None:
        if not isinstance(value, np.ndarray):
            self.error(
                "V-N2", path, f"point timestamps must be a numpy array, found {_kind(value)}"
            )
            return
        allowed = ("<u4",) if self.mode == "compat" else ("<u4", "<u8")
        if (
            value.dtype.str not in allowed
            and value.dtype != np.uint32
            and not (self.mode == "spec" and value.dtype == np.uint64)
        ):
            extra = (
                " (Scale does not support uint64 yet; write_sfs converts)"
                if value.dtype == np.uint64
                else ""
            )
            self.error(
                "V-A4",
                path,
                f"point timestamps must be {' or '.join(np.dtype(d).name for d in allowed)}, "
                f"found {value.dtype.name}{extra}",
            )
        if value.ndim != 1:
            self.error("V-A4", path, f"point timestamps must have shape (N,), found {value.shape}")
            return
        if n is not None and len(value) != n:
            self.error("V-A8", path, f"timestamps has {len(value)} rows but positions has {n}")
        if value.size == 0 or value.dtype.kind not in "iu":
            return  # V-A10: an empty frame is valid with or without an empty timestamps array
        lo_v, hi_v = self.facts.minmax(value)
        lo, hi = int(lo_v), int(hi_v)
        if frame_ts is not None and frame_ts > lo:
            self.error(
                "V-A6",
                path,
                f"the frame timestamp ({frame_ts}) must be <= the smallest point timestamp ({lo})",
            )
        if next_ts is not None and hi >= next_ts:
            self.warn(
                "V-A9",
                path,
                f"the largest point timestamp ({hi}) is not before the next frame's "
                f"timestamp ({next_ts})",
            )
