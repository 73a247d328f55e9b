"""Look before you pay: one PNG (and optionally a Rerun recording) of a scene, capture or frames.

``render_preview(scene, "preview.png")`` draws a bird's-eye view of several frames in the world
(coloured by frame, with the ego trajectory and the cameras), every camera image of one frame
with the lidar points projected on it (coloured by depth), and a timeline of every sensor's time
stamps. ``open_preview_scene(path)`` opens a ``.sfs``, a split_base64 folder or a capture;
``write_rerun`` writes the same scene as a ``.rrd`` for the Rerun viewer (the ``viz`` extra).
Rendering uses matplotlib's Agg backend (the ``preview`` extra); nothing needs a display.
"""

from __future__ import annotations

from sfs_kit.preview.images import decode_camera_image
from sfs_kit.preview.render import PreviewLayout, PreviewOptions, render_preview
from sfs_kit.preview.rerun_export import write_rerun
from sfs_kit.preview.source import PreviewInput, open_preview_scene

__all__ = [
    "PreviewInput",
    "PreviewLayout",
    "PreviewOptions",
    "decode_camera_image",
    "open_preview_scene",
    "render_preview",
    "write_rerun",
]
