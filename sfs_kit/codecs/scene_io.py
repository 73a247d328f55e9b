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
from typing import BinaryIO

from pydantic import ValidationError

from sfs_kit.codecs._output import check_output_file
from sfs_kit.codecs.sfs import SfsSource, read_sfs_dict, write_sfs_dict
from sfs_kit.errors import SceneValidationError
from sfs_kit.models.compat import to_compat
from sfs_kit.models.scene import Scene
from sfs_kit.models.validate import Issue, Mode, validate

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
    """
    name = os.fspath(dest) if isinstance(dest, str | os.PathLike) else "<stream>"
    if isinstance(dest, str | os.PathLike):
        check_output_file(dest)  # before validating: a bad -o fails at once
    what = f"The scene for {name!r}"
    _raise_on_errors(validate(scene, mode="spec"), what, "spec")
    if compat:
        scene = to_compat(scene)
        _raise_on_errors(
            [i for i in validate(scene, mode="compat") if i.severity == "error"], what, "compat"
        )
    return write_sfs_dict(scene.to_sfs_dict(), dest, align=align)


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
