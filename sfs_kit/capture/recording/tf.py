"""A TF buffer over a whole recording: static edges, and dynamic edges interpolated by slerp.

Each child frame has one parent (the TF tree). ``static`` edges come from ``/tf_static``;
``dynamic`` ones from ``/tf`` as time series, interpolated at a query time (lerp for the
translation, slerp for the rotation, float64); a query outside a dynamic edge's span, or between
frames with no path, is an ``InputError`` naming both frames and the time. Times are integer
nanoseconds on the recording's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sfs_kit.errors import InputError
from sfs_kit.models.geometry import interpolate_pose, pose_to_matrix
from sfs_kit.models.pose import PosePath

__all__ = ["TfBuffer", "TfEdge"]

F64 = npt.NDArray[np.float64]


@dataclass
class TfEdge:
    """``parent_from_child`` samples: one for a static edge, a time series for a dynamic one."""

    parent: str
    static: bool
    times_ns: list[int] = field(default_factory=list)
    values: list[tuple[float, float, float, float, float, float, float]] = field(
        default_factory=list
    )
    _series: tuple[npt.NDArray[np.int64], F64] | None = None

    def series(self) -> tuple[npt.NDArray[np.int64], F64]:
        """Times (sorted, unique) and pose rows ``[tx, ty, tz, qx, qy, qz, qw]``."""
        if self._series is None:
            t = np.asarray(self.times_ns, dtype=np.int64)
            v = np.asarray(self.values, dtype=np.float64).reshape(-1, 7)
            order = np.argsort(t, kind="stable")
            t, v = t[order], v[order]
            keep = np.ones(t.shape[0], dtype=bool)
            keep[1:] = t[1:] != t[:-1]  # a repeated stamp: the first sample wins
            self._series = (t[keep], v[keep])
        return self._series


class TfBuffer:
    """The recording's TF tree; ``lookup(target, source, t)`` is ``target_from_source`` at t."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.edges: dict[str, TfEdge] = {}

    def add(
        self,
        parent: str,
        child: str,
        time_ns: int,
        translation: tuple[float, float, float],
        quat_xyzw: tuple[float, float, float, float],
        *,
        static: bool,
        topic: str,
    ) -> None:
        """Add one transform; a frame given two parents (or static and dynamic) is an error."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        edge = self.edges.get(child)
        if edge is None:
            edge = self.edges[child] = TfEdge(parent=parent, static=static)
        elif edge.parent != parent or edge.static != static:
            was = "static" if edge.static else "dynamic"
            now = "static" if static else "dynamic"
            raise InputError(
                f"{self.source}: {topic} at {time_ns} ns gives frame {child!r} the {now} parent "
                f"{parent!r}, but it already has the {was} parent {edge.parent!r}; a TF frame "
                f"has one parent.",
                source=self.source,
                field=topic,
            )
        if static:
            edge.times_ns[:] = [time_ns]
            edge.values[:] = [(*translation, *quat_xyzw)]
        else:
            edge.times_ns.append(time_ns)
            edge.values.append((*translation, *quat_xyzw))
            edge._series = None

    def frames(self) -> list[str]:
        """Every frame named in the tree, sorted."""
        names = set(self.edges) | {e.parent for e in self.edges.values()}
        return sorted(names)

    def _chain(self, frame: str) -> list[str]:
        """``frame`` and its ancestors up to the root."""
        chain = [frame]
        while chain[-1] in self.edges:
            chain.append(self.edges[chain[-1]].parent)
            if len(chain) > len(self.edges) + 1:
                raise InputError(
                    f"{self.source}: the TF tree has a cycle through frame {frame!r}.",
                    source=self.source,
                    field="tf",
                )
        return chain

    def path(
        self, target: str, source: str, *, what: str, times_ns: npt.NDArray[np.int64]
    ) -> tuple[list[str], list[str]]:
        """The frames from ``source`` up to the common ancestor, and from ``target`` up to it."""
        up_s, up_t = self._chain(source), self._chain(target)
        common = next((f for f in up_s if f in up_t), None)
        if common is None:
            t0 = int(times_ns[0]) if times_ns.size else 0
            raise InputError(
                f"{self.source}: no TF path from frame {source!r} to frame {target!r} ({what}, at "
                f"{t0} ns): {source!r} reaches {up_s[-1]!r} and {target!r} reaches {up_t[-1]!r}; "
                f"known frames {self.frames()}.",
                source=self.source,
                field="tf",
            )
        return up_s[: up_s.index(common)], up_t[: up_t.index(common)]

    def is_static(self, target: str, source: str) -> bool:
        """True when every edge between the two frames is static (a path must exist)."""
        a, b = self.path(target, source, what="static check", times_ns=np.zeros(0, np.int64))
        return all(self.edges[f].static for f in (*a, *b))

    def _edge_at(self, child: str, times_ns: npt.NDArray[np.int64], what: str) -> F64:
        """``parent_from_child`` at each time, (K, 4, 4)."""
        edge = self.edges[child]
        t, v = edge.series()
        if edge.static:
            return np.broadcast_to(pose_to_matrix(v[:1])[0], (times_ns.shape[0], 4, 4)).copy()
        outside = np.flatnonzero((times_ns < t[0]) | (times_ns > t[-1]))
        if outside.size:
            q = int(times_ns[outside[0]])
            raise InputError(
                f"{self.source}: the dynamic transform {edge.parent!r} -> {child!r} (/tf) spans "
                f"[{int(t[0])}, {int(t[-1])}] ns but {what} needs it at {q} ns "
                f"({outside.size} time(s) outside).",
                source=self.source,
                field="tf",
            )
        base = int(t[0])
        path = PosePath(timestamps=t - base, values=v)
        pos, rot = interpolate_pose(path, times_ns - base)
        return pose_to_matrix(np.concatenate([pos, rot], axis=1))

    def lookup(
        self, target: str, source: str, times_ns: npt.NDArray[np.int64], *, what: str
    ) -> F64:
        """``target_from_source`` at each time, (K, 4, 4) float64."""
        times = np.asarray(times_ns, dtype=np.int64).reshape(-1)
        up_s, up_t = self.path(target, source, what=what, times_ns=times)
        out: F64 = np.tile(np.eye(4), (times.shape[0], 1, 1))
        # common_from_source = parent(...)_from_child(source) composed upwards
        for child in up_s:  # common_from_source = E(p_n) @ ... @ E(source)
            out = self._edge_at(child, times, what) @ out
        for child in reversed(up_t):  # target_from_common = inv(E(target)) @ ... @ inv(E(q_n))
            out = np.linalg.inv(self._edge_at(child, times, what)) @ out
        return out
