"""The preview's timeline strip: one row per time stamp list, so gaps and offsets show.

Rows, in scene order: each lidar's frames, each camera's images (or video frames), and each
sensor's poses; a label says how many stamps and at what median rate. The red line marks the
frame the camera panels show, drawn under the ticks so it never hides the one it marks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sfs_kit.models.sensors import CameraSensor

if TYPE_CHECKING:
    from sfs_kit.models.scene import Scene

__all__ = ["draw_timeline", "timeline_rows"]

Row = tuple[str, npt.NDArray[np.int64]]
_COLOURS = {"frames": "tab:blue", "poses": "tab:orange", "images": "tab:green",
            "video": "tab:green"}


def _label(sid: str, kind: str, times: npt.NDArray[np.int64], ticks_per_s: float) -> str:
    rate = ""
    if len(times) > 1:
        period = float(np.median(np.diff(np.sort(times)))) / ticks_per_s
        if period > 0:
            rate = f", {1 / period:.3g} Hz"
    return f"{sid} {kind} ({len(times)}{rate})"


def timeline_rows(scene: Scene, ticks_per_s: float) -> list[Row]:
    """``(label, time stamps)`` for every stamp list of the scene."""
    rows: list[Row] = []
    for sensor in scene.sensors:
        sid = str(sensor.id)
        lists: list[tuple[str, npt.NDArray[np.int64]]] = []
        frames = getattr(sensor, "frames", None)
        if frames is not None:
            lists.append(("frames", np.array([f.timestamp for f in frames], np.int64)))
        if isinstance(sensor, CameraSensor):
            kind = "video" if sensor.video is not None else "images"
            lists.append((kind, sensor.content_timestamps().astype(np.int64)))
        poses = getattr(sensor, "poses", None)
        if poses is not None:
            lists.append(("poses", poses.timestamps.astype(np.int64)))
        rows.extend((_label(sid, kind, times, ticks_per_s), times) for kind, times in lists)
    return rows


def draw_timeline(ax: Any, rows: list[Row], frame_time: int | None, ticks_per_s: float) -> None:
    """Draw ``rows`` as tick rows on ``ax`` (seconds on the scene clock)."""
    if rows:
        kinds = [label.rsplit(" (", 1)[0].rsplit(" ", 1)[-1] for label, _ in rows]
        ax.eventplot([times / ticks_per_s for _, times in rows],
                     lineoffsets=list(range(len(rows))), linelengths=0.7, linewidths=0.9,
                     colors=[_COLOURS.get(k, "tab:gray") for k in kinds], zorder=2)
        ax.set_yticks(list(range(len(rows))))
        ax.set_yticklabels([label for label, _ in rows], fontsize=7)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.invert_yaxis()
    if frame_time is not None:
        ax.axvline(frame_time / ticks_per_s, color="red", linewidth=2.5, alpha=0.35, zorder=1)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("scene time (s)", fontsize=8)
    ax.set_title("time stamps of every sensor (red band: the frame the cameras show)", fontsize=9)
