"""Scene validation (spec section 3): every V-* rule, on the plain dict tree, never raising.

The core works on the tree ``read_sfs_dict`` returns (dicts, lists, JSON scalars, numpy arrays),
so malformed input the strict models refuse (bool ids, float timestamps, flat positions whose
length is not a multiple of 3, a camera without content) is reported rule by rule instead of
crashing. ``validate(Scene)`` runs the same code on ``scene.to_sfs_dict()``.

Speed: array rules are vectorised, one ``min``/``max`` reduction pair per array (NaN propagates
through both, so finiteness and the largest magnitude come from the same two passes).

One module per rule family (``_points``, ``_cameras``, ``_annotations``) over a shared base
(``_base``); ``_scene`` walks the tree with all of them mixed into one checker. Imports flow one
way: ``_base`` <- the families <- ``_scene`` <- this package.
"""

from __future__ import annotations

from sfs_kit.models.validate._base import (
    FPS_TOLERANCE,
    MAX_COORDINATE_M,
    MAX_FIRST_TIMESTAMP_US,
    MAX_FPS,
    MAX_SAFE_INT,
    QUAT_NORM_TOLERANCE,
    Issue,
    Mode,
    Severity,
)
from sfs_kit.models.validate._cameras import count_video_frames
from sfs_kit.models.validate._scene import validate, validate_tree

__all__ = [
    "FPS_TOLERANCE",
    "MAX_COORDINATE_M",
    "MAX_FIRST_TIMESTAMP_US",
    "MAX_FPS",
    "MAX_SAFE_INT",
    "QUAT_NORM_TOLERANCE",
    "Issue",
    "Mode",
    "Severity",
    "count_video_frames",
    "validate",
    "validate_tree",
]
