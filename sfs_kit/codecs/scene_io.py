"""Scene-level .sfs I/O: ``Scene`` <-> file, on top of the dict-level codec in ``codecs.sfs``.

``write_sfs`` (compat mode, the default) first checks the scene in spec mode, converts it with
``to_compat`` (ns -> us, uint32 point timestamps, ego -> world, unit quaternions), checks the
result in compat mode and only then writes, so a file it produces passes Scale's
``parse_and_validate_scene``. ``read_sfs`` wraps pydantic's ``ValidationError`` in
``SceneValidationError`` (``pydantic_errors`` keeps ``errors()``; ``__cause__`` is the original).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from sfs_kit._atomic import atomic_output
from sfs_kit.codecs._output import check_output_file, output_errors
from sfs_kit.codecs._sfs_common import SfsItem
from sfs_kit.codecs._sfs_plan import SfsPlan, build_plan
from sfs_kit.codecs.sfs import SfsSource, read_sfs_dict, write_sfs_dict
from sfs_kit.errors import InputError, SceneValidationError
from sfs_kit.models._array_facts import ArrayFacts, MinMaxAside
from sfs_kit.models.compat import Posing, to_compat
from sfs_kit.models.geometry import iter_affine_blocks
from sfs_kit.models.scene import Scene
from sfs_kit.models.sensors import LidarFrame, LidarSensor, RadarFrame, RadarSensor
from sfs_kit.models.validate import Issue, Mode, validate, validate_tree

__all__ = ["read_sfs", "write_sfs"]

_log = logging.getLogger(__name__)


def _raise_on_errors(issues: list[Issue], what: str, mode: Mode) -> None:
    errors = [i for i in issues if i.severity == "error"]
    for issue in issues:
        if issue.severity == "warning":
            _log.warning("%s", issue)
    if errors:
        shown = "; ".join(str(i) for i in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        msg = f"{what} fails {mode}-mode validation with {len(errors)} error(s): {shown}{more}."
        raise SceneValidationError(msg, issues=issues)


def write_sfs(
    scene: Scene,
    dest: str | os.PathLike[str] | BinaryIO,
    *,
    align: int = 64,
    compat: bool = True,
) -> int:
    """Write ``scene`` as .sfs to a path (atomically) or a binary stream; return the byte count.

    With ``compat=True`` the scene is converted for Scale and must pass compat-mode validation,
    else ``SceneValidationError`` carries the issues. ``compat=False`` writes the model as it is
    after spec-mode validation. A path whose folder is missing, or that is a folder, raises
    ``OutputError`` before any work.

    Written to a path, the checks run in the writing pass: each point array's figures are read
    by a helper thread while the file is written, ego-coordinate points are posed into the
    world a chunk at a time as they are written, and the checks (spec, then compat, in one
    walk when they can: ``_check_both``, reusing those figures: ``ArrayFacts``) run before the
    file is committed. Memory grows by
    one frame, each array is read from memory once for a valid scene, and an invalid scene
    leaves nothing at the path, with the same errors as a stream (which is checked before any
    byte is written).
    """
    name = os.fspath(dest) if isinstance(dest, str | os.PathLike) else "<stream>"
    what = f"The scene for {name!r}"
    if not isinstance(dest, str | os.PathLike):
        return _write_checked_first(scene, dest, align, compat, what)
    target = check_output_file(dest)  # before validating: a bad -o fails at once
    posing: Posing = {}
    try:
        converted = to_compat(scene, defer_posing=posing) if compat else scene
        tree = converted.to_sfs_dict()
        plan = build_plan(tree, align, None)
    except (SceneValidationError, InputError):  # let the spec check speak first, as it did
        return _write_checked_first(scene, target, align, compat, what)
    if posing and not _posed_arrays_unshared(tree, posing, plan):
        return _write_checked_first(scene, target, align, compat, what)  # pose them up front
    facts = ArrayFacts()
    posed_facts = ArrayFacts(parent=facts)
    reader = _ReadWhileWriting(plan, posing, facts, posed_facts)
    with output_errors(target), atomic_output(target) as stream:
        try:
            size = plan.write_to(stream, reader)
        finally:
            reader.close()
        if compat:
            _check_both(scene, converted, tree, facts=facts, posed_facts=posed_facts, what=what)
        else:
            _raise_on_errors(validate(scene, mode="spec", facts=facts), what, "spec")
    return size


def _write_checked_first(scene: Scene, dest: str | os.PathLike[str] | BinaryIO, align: int,
                         compat: bool, what: str) -> int:
    """Validate (spec; convert; compat), then write: for streams, and the rare trees the
    writing pass cannot take."""
    facts = ArrayFacts()
    if not compat:
        _raise_on_errors(validate(scene, mode="spec", facts=facts), what, "spec")
        return write_sfs_dict(scene.to_sfs_dict(), dest, align=align)
    try:
        converted = to_compat(scene)
    except Exception:  # the spec check speaks first, as it did when it ran first
        _raise_on_errors(validate(scene, mode="spec", facts=facts), what, "spec")
        raise
    tree = converted.to_sfs_dict()
    _check_both(scene, converted, tree, facts=facts, posed_facts=facts, what=what)
    return write_sfs_dict(tree, dest, align=align)


def _raise_compat_errors(issues: list[Issue], what: str) -> None:
    _raise_on_errors([i for i in issues if i.severity == "error"], what, "compat")


def _check_both(scene: Scene, converted: Scene, tree: Mapping[str, Any], *, facts: ArrayFacts,
                posed_facts: ArrayFacts, what: str) -> None:
    """Raise as the spec check of ``scene`` and then the compat check of ``tree`` (its
    ``to_compat`` form) would, logging the spec check's warnings, in one walk when it can.

    The modes differ only in V-S3, V-N1 and V-A4, where compat is stricter. When ``to_compat``
    changed nothing those walks read beyond unit-norm quaternions and posed ego points
    (``_walks_alike``), a compat walk without errors means the spec walk has none either and
    the same warnings, except V-O1, which counts ego points only once posed: a compat V-O1
    warning on a scene with ego sensors, like any compat error, sends it through both walks.
    Any failure is therefore reported exactly as the two walks report it."""
    if _walks_alike(scene, converted):
        issues = validate_tree(tree, mode="compat", facts=posed_facts)
        ego = any(getattr(s, "coordinates", None) == "ego" for s in scene.sensors)
        if not any(i.severity == "error" or (ego and i.code == "V-O1") for i in issues):
            _raise_on_errors(issues, what, "spec")  # no errors: logs the warnings
            return
    _raise_on_errors(validate(scene, mode="spec", facts=facts), what, "spec")
    _raise_compat_errors(validate_tree(tree, mode="compat", facts=posed_facts), what)


def _walks_alike(scene: Scene, converted: Scene) -> bool:
    """True when ``to_compat`` kept every timestamp as it was: microseconds in, and every
    frame's point-timestamp array the very same (uint32 already; none dropped as empty)."""
    if scene.time_unit == "nanoseconds":
        return False
    for given, made in zip(scene.sensors, converted.sensors, strict=True):
        if isinstance(given, LidarSensor | RadarSensor):
            assert isinstance(made, LidarSensor | RadarSensor)
            frames: tuple[LidarFrame | RadarFrame, ...] = given.frames
            made_frames: tuple[LidarFrame | RadarFrame, ...] = made.frames
            for frame, new in zip(frames, made_frames, strict=True):
                if frame.points.timestamps is not new.points.timestamps:
                    return False
    return True


_POSED_KEYS = ("positions", "directions")
#: Posing while writing: float64 blocks of 16384 points (0.65 MB of scratch, the fastest in the
#: benchmark) into a float32 chunk of up to 131072 points (1.5 MB: one write a 120,000-point
#: frame), so memory stays bounded whatever the frame size.
_POSE_BLOCK_POINTS = 16384
_POSE_CHUNK_POINTS = 131072
_CHECKED_KEYS = frozenset({"positions", "directions", "lengths", "timestamps"})


def _posed_arrays(tree: Mapping[str, Any], posing: Posing) -> list[tuple[str, Any]]:
    """The (key, array) pairs of every deferred frame's points that posing rewrites."""
    found = []
    for sensor_index, frame_index in posing:
        points = tree["sensors"][sensor_index]["frames"][frame_index]["points"]
        found += [(key, points[key]) for key in _POSED_KEYS if points.get(key) is not None]
    return found


def _posed_arrays_unshared(tree: Mapping[str, Any], posing: Posing, plan: SfsPlan) -> bool:
    """True when no array that posing rewrites appears anywhere else in the tree (the facts of
    an array are kept by identity, so a shared one would get one frame's posed figures). The
    plan holds one item per array occurrence, so counting its sources is counting the tree's."""
    counts = Counter(id(source) for source in plan.sources)
    return all(counts[id(arr)] == 1 for _, arr in _posed_arrays(tree, posing))


class _ReadWhileWriting:
    """``SfsPlan`` substitute: has each point array's min/max for the checks read while the file
    is written (``MinMaxAside``: one helper thread, one read of each array), and writes each
    deferred frame's positions (and radar directions) posed into the world as it writes them:
    up to ``_POSE_CHUNK_POINTS`` at a time into one reused float32 buffer (posed by
    ``iter_affine_blocks`` in blocks of ``_POSE_BLOCK_POINTS``, still in cache), one write and
    one min/max per chunk, keeping the posed figures for the compat check. No posed frame is
    held beyond that bounded buffer. ``close`` waits for the figures."""

    def __init__(self, plan: SfsPlan, posing: Posing, facts: ArrayFacts,
                 posed_facts: ArrayFacts) -> None:
        self._facts = facts
        self._aside = MinMaxAside(facts)
        self._posed_facts = posed_facts
        self._chunk: npt.NDArray[np.float32] | None = None
        self._posing: dict[tuple[object, ...], npt.NDArray[np.float64]] = {}
        for (sensor_index, frame_index), matrix in posing.items():
            for key in _POSED_KEYS:
                self._posing[("sensors", sensor_index, "frames", frame_index, "points", key)] = \
                    matrix

    def close(self) -> None:
        """Wait for the figures read aside (raising what their reading raised); release the
        posing buffer."""
        self._chunk = None
        self._aside.wait()

    def __call__(self, item: SfsItem, source: Any) -> Iterator[bytes | memoryview] | None:
        keys = tuple(item.keys)
        if len(keys) != 6 or keys[4] != "points" or keys[5] not in _CHECKED_KEYS:
            return None
        matrix = self._posing.get(keys)
        if matrix is None or not isinstance(source, np.ndarray):
            if source.size and source.dtype.kind in "fiu":
                self._aside.add(source)
            return None
        return self._posed(source, matrix, translate=keys[5] == "positions")

    def _posed(self, source: npt.NDArray[Any], matrix: npt.NDArray[np.float64], *,
               translate: bool) -> Iterator[memoryview]:
        """The posed bytes of ``source``, chunk by chunk, recording the posed points' min/max for
        the compat check. The given points' figures are left to the spec check, which reads them
        only when that check runs (``_check_both``: when the compat check finds a problem)."""
        flat = source.reshape(-1, 3)
        if self._chunk is None or len(self._chunk) < min(len(flat), _POSE_CHUNK_POINTS):
            self._chunk = np.empty((min(len(flat), _POSE_CHUNK_POINTS), 3), np.float32)
        posed_los, posed_his = [], []
        for start in range(0, len(flat), _POSE_CHUNK_POINTS):
            part = flat[start : start + _POSE_CHUNK_POINTS]
            out = self._chunk[: len(part)]
            for _ in iter_affine_blocks(part, matrix, translate=translate, into=out,
                                        block_points=_POSE_BLOCK_POINTS):
                pass
            posed_los.append(out.min())
            posed_his.append(out.max())
            yield out.data.cast("B")
        if posed_los:
            self._posed_facts.put_minmax(source, np.min(posed_los), np.max(posed_his))


def read_sfs(source: SfsSource, *, lenient: bool = False) -> Scene:
    """Read a .sfs file (path or bytes) into a ``Scene`` whose arrays are read-only views.

    Raises ``SfsFormatError`` for broken bytes and ``SceneValidationError`` when the content is
    not an SFS 1.0 scene (use ``read_sfs_dict`` plus ``validate`` to see every problem).
    """
    tree = read_sfs_dict(source, lenient=lenient)
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else "<bytes>"
    try:
        return Scene.model_validate(tree)
    except ValidationError as err:
        details = err.errors(include_url=False)
        first = details[0] if details else {"loc": (), "msg": "invalid"}
        loc = ".".join(str(p) for p in first["loc"]) or "<scene>"
        msg = (
            f"{name!r} is not a valid SFS 1.0 scene: {len(details)} problem(s), first at "
            f"{loc}: {first['msg']}."
        )
        raise SceneValidationError(msg, pydantic_errors=details) from err
