"""Scene-level .sfs I/O: ``Scene`` <-> file, on top of the dict-level codec in ``codecs.sfs``.

``write_sfs`` (compat mode, the default) first checks the scene in spec mode, converts it with
``to_compat`` (ns -> us, uint32 point timestamps, ego -> world, unit quaternions), checks the
result in compat mode and only then writes, so a file it produces passes Scale's
``parse_and_validate_scene``. ``read_sfs`` wraps pydantic's ``ValidationError`` in
``SceneValidationError`` (``pydantic_errors`` keeps ``errors()``; ``__cause__`` is the original).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from sfs_kit._atomic import atomic_output
from sfs_kit.codecs._output import check_output_file, output_errors
from sfs_kit.codecs._sfs_common import SfsItem
from sfs_kit.codecs._sfs_plan import SfsPlan, build_plan, iter_array_chunks
from sfs_kit.codecs.sfs import SfsSource, read_sfs_dict, write_sfs_dict
from sfs_kit.errors import InputError, SceneValidationError
from sfs_kit.models._array_facts import ArrayFacts
from sfs_kit.models.compat import Posing, to_compat
from sfs_kit.models.geometry import rotate_vectors, transform_points
from sfs_kit.models.scene import Scene
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
    as it is written (still in cache), ego-coordinate points are posed into the world one frame
    at a time, and both validations (spec, then compat, reusing those figures: ``ArrayFacts``)
    run before the file is committed. Memory grows by one frame, each array is read from memory
    once, and an invalid scene leaves nothing at the path, with the same errors as a stream (which
    is checked before any byte is written).
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
    if posing and not _posed_arrays_unshared(tree, posing):
        return _write_checked_first(scene, target, align, compat, what)  # pose them up front
    facts = ArrayFacts()
    posed_facts = ArrayFacts(parent=facts)
    reader = _ReadWhileWriting(plan, posing, facts, posed_facts)
    with output_errors(target), atomic_output(target) as stream:
        try:
            size = plan.write_to(stream, reader)
        finally:
            reader.close()
        _raise_on_errors(validate(scene, mode="spec", facts=facts), what, "spec")
        if compat:
            _raise_compat_errors(validate_tree(tree, mode="compat", facts=posed_facts), what)
    return size


def _write_checked_first(scene: Scene, dest: str | os.PathLike[str] | BinaryIO, align: int,
                         compat: bool, what: str) -> int:
    """Validate (spec; convert; compat), then write: for streams, and the rare trees the
    writing pass cannot take."""
    facts = ArrayFacts()
    _raise_on_errors(validate(scene, mode="spec", facts=facts), what, "spec")
    if not compat:
        return write_sfs_dict(scene.to_sfs_dict(), dest, align=align)
    tree = to_compat(scene).to_sfs_dict()
    _raise_compat_errors(validate_tree(tree, mode="compat", facts=facts), what)
    return write_sfs_dict(tree, dest, align=align)


def _raise_compat_errors(issues: list[Issue], what: str) -> None:
    _raise_on_errors([i for i in issues if i.severity == "error"], what, "compat")


_POSED_KEYS = ("positions", "directions")
_CHECKED_KEYS = frozenset({"positions", "directions", "lengths", "timestamps"})


def _posed_arrays(tree: Mapping[str, Any], posing: Posing) -> list[tuple[str, Any]]:
    """The (key, array) pairs of every deferred frame's points that posing rewrites."""
    found = []
    for sensor_index, frame_index in posing:
        points = tree["sensors"][sensor_index]["frames"][frame_index]["points"]
        found += [(key, points[key]) for key in _POSED_KEYS if points.get(key) is not None]
    return found


def _posed_arrays_unshared(tree: Mapping[str, Any], posing: Posing) -> bool:
    """True when no array that posing rewrites appears anywhere else in the tree (the facts of
    an array are kept by identity, so a shared one would get one frame's posed figures)."""
    counts: dict[int, int] = {}

    def walk(value: object) -> None:
        if isinstance(value, np.ndarray):
            counts[id(value)] = counts.get(id(value), 0) + 1
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(tree)
    return all(counts.get(id(arr), 0) == 1 for _, arr in _posed_arrays(tree, posing))


_Posed = tuple[npt.NDArray[np.float32], Any, Any, Any, Any]
"""A posed frame's array, the given array's min and max, and the posed array's min and max."""


def _pose(source: npt.NDArray[Any], matrix: npt.NDArray[np.float64], key: str) -> _Posed:
    """Pose one frame's ``positions`` (or rotate ``directions``) and read both arrays' figures."""
    posed = (transform_points(source, matrix) if key == "positions"
             else rotate_vectors(source, matrix)).reshape(source.shape)
    if not posed.size:
        return posed, None, None, None, None
    return posed, source.min(), source.max(), posed.min(), posed.max()


class _ReadWhileWriting:
    """``SfsPlan`` substitute: reads each point array's min/max for the checks just before it is
    written (one read from memory), and writes each deferred frame's positions (and radar
    directions) posed into the world, keeping the posed figures for the compat check.

    The next frame is posed on a worker thread while this one is written (numpy and the write
    release the GIL), so at most two posed frames exist at once."""

    def __init__(self, plan: SfsPlan, posing: Posing, facts: ArrayFacts,
                 posed_facts: ArrayFacts) -> None:
        self._facts = facts
        self._posed_facts = posed_facts
        by_key: dict[tuple[object, ...], npt.NDArray[np.float64]] = {}
        for (sensor_index, frame_index), matrix in posing.items():
            for key in _POSED_KEYS:
                by_key[("sensors", sensor_index, "frames", frame_index, "points", key)] = matrix
        self._jobs = [(tuple(item.keys), source, by_key[tuple(item.keys)])
                      for item, source in zip(plan.items, plan.sources, strict=True)
                      if tuple(item.keys) in by_key and isinstance(source, np.ndarray)]
        self._next = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfs-pose") \
            if self._jobs else None
        self._ahead: Future[_Posed] | None = self._submit()

    def _submit(self) -> Future[_Posed] | None:
        if self._pool is None or self._next >= len(self._jobs):
            return None
        keys, source, matrix = self._jobs[self._next]
        self._next += 1
        context = contextvars.copy_context()  # numpy's errstate, as on the calling thread
        return self._pool.submit(context.run, _pose, source, matrix, str(keys[5]))

    def close(self) -> None:
        """Stop the worker (after the last frame, or when writing failed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __call__(self, item: SfsItem, source: Any) -> Iterator[bytes | memoryview] | None:
        keys = tuple(item.keys)
        if len(keys) != 6 or keys[4] != "points" or keys[5] not in _CHECKED_KEYS:
            return None
        if self._ahead is None or self._jobs[self._next - 1][0] != keys:
            if source.size and source.dtype.kind in "fiu":
                self._facts.minmax(source)
            return None
        posed, lo, hi, posed_lo, posed_hi = self._ahead.result()
        self._ahead = self._submit()
        if posed.size:
            self._facts.put_minmax(source, lo, hi)
            self._posed_facts.put_minmax(source, posed_lo, posed_hi)
        return iter_array_chunks(posed)


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
