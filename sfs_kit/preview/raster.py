"""Pixels for the preview: dots painted with numpy, colour maps, pictures fitted to a panel.

Points are painted straight into RGB arrays at the size they are shown (one array pixel per PNG
pixel), so a dot is a crisp 3x3 square whatever the camera's resolution, and a hundred thousand
points cost a few numpy scatters instead of a matplotlib artist each.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sfs_kit.preview._deps import require

__all__ = ["colours", "fit", "paint_dots"]

RGB = npt.NDArray[np.uint8]


def paint_dots(canvas: RGB, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp],
               rgb: RGB, radius: int = 1) -> None:
    """Paint square dots of ``2 radius + 1`` pixels into ``canvas`` (later points on top)."""
    height, width = canvas.shape[:2]
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = rows + dr, cols + dc
            ok = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            canvas[r[ok], c[ok]] = rgb[ok]


def colours(cmap: str, values: npt.NDArray[np.float64], vmin: float, vmax: float) -> RGB:
    """``values`` through matplotlib's colour map ``cmap`` over ``vmin..vmax``, as uint8 RGB."""
    colormaps = require("matplotlib", "preview", "The preview").colormaps
    t = np.clip((values - vmin) / max(vmax - vmin, 1e-9), 0.0, 1.0)
    return np.asarray(colormaps[cmap](t)[:, :3] * 255, dtype=np.uint8)


def fit(pixels: RGB, width: int, height: int) -> RGB:
    """``pixels`` resized to exactly ``width`` x ``height`` (Pillow: box filter down, bilinear
    up), the size the panel shows it at."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    image_mod = require("PIL.Image", "preview", "The preview")
    img = image_mod.fromarray(np.ascontiguousarray(pixels))
    shrinking = width < pixels.shape[1]
    method = image_mod.Resampling.BOX if shrinking else image_mod.Resampling.BILINEAR
    return np.asarray(img.resize((max(1, width), max(1, height)), method), dtype=np.uint8)
