"""The geometric pre-flight of ``run``: the G-* rules on the converted output, before upload.

``check_geometry`` opens what ``convert`` wrote (the ``.sfs`` memory-mapped, or the staged
split_base64 frames with their points subsampled) and runs ``validate_geometry`` with the
run's thresholds. ``run`` keeps the issues in ``RunResult.geometry``; with ``strict_geometry``
any geometric error stops it before anything is uploaded (``SceneValidationError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sfs_kit.codecs.scene_from_frames import read_frames_scene
from sfs_kit.codecs.scene_io import read_sfs
from sfs_kit.errors import SceneValidationError, SfsKitError
from sfs_kit.models.validate_geometry import GeometryIssue, GeometryThresholds, validate_geometry

__all__ = ["check_geometry", "raise_on_geometry_errors"]


def check_geometry(out_dir: Path, files: Sequence[Mapping[str, Any]],
                   thresholds: GeometryThresholds) -> list[GeometryIssue]:
    """G-* issues of the converted attachments in ``out_dir`` (``files`` as ``convert`` lists)."""
    attachments = [out_dir / f["name"] for f in files if f["role"] == "attachment"]
    if not attachments:
        return []
    try:
        if len(attachments) == 1 and attachments[0].suffix == ".sfs":
            scene = read_sfs(attachments[0])
        else:
            scene = read_frames_scene(attachments[0].parent, max_points=thresholds.sample_points)
    except SfsKitError as err:  # the output was validated when written; say why, do not stop
        return [GeometryIssue("G-00", "warning", "", f"geometry checks skipped: the output "
                              f"could not be read back ({err})")]
    return validate_geometry(scene, thresholds)


def raise_on_geometry_errors(issues: Sequence[Mapping[str, Any]]) -> None:
    """``SceneValidationError`` listing the geometric errors (issue dicts), if there are any."""
    errors = [i for i in issues if i.get("severity") == "error"]
    if not errors:
        return
    shown = "; ".join(f"error {i.get('code')} at {i.get('path') or '<scene>'}: {i.get('message')}"
                      for i in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    raise SceneValidationError(
        f"The geometric pre-flight found {len(errors)} error(s), so nothing was uploaded "
        f"(strict_geometry): {shown}{more}.", issues=list(issues))
