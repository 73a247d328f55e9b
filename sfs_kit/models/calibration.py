"""Camera intrinsics and the ten SFS distortion models with their exact parameter counts (D13)."""

from __future__ import annotations

import math
from typing import Annotated, Final, Literal, Self

from pydantic import Field, StrictFloat, StrictInt, model_validator

from sfs_kit.models.base import SfsModel

__all__ = [
    "DISTORTION_PARAM_COUNTS",
    "DISTORTION_PARAM_NAMES",
    "CameraIntrinsics",
    "Distortion",
    "DistortionModel",
]

DistortionModel = Literal[
    "brown_conrady",
    "fisheye",
    "mod_equi_fish",
    "mod_kannala",
    "fisheye_rad_tan_prism",
    "fisheye_radial_custom",
    "ftheta",
    "omnidirectional",
    "cylindrical",
    "equirectangular",
]

DISTORTION_PARAM_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "brown_conrady": ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6", "lx", "ly"),
    "fisheye": ("k1", "k2", "k3", "k4"),
    "mod_equi_fish": ("k1", "k2", "k3", "k4"),
    "mod_kannala": ("k1", "k2", "k3", "k4"),
    "fisheye_rad_tan_prism": (
        "k1",
        "k2",
        "k3",
        "k4",
        "k5",
        "k6",
        "p1",
        "p2",
        "s1",
        "s2",
        "s3",
        "s4",
    ),
    "fisheye_radial_custom": ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2", "dcx", "dcy"),
    "ftheta": ("k1", "k2", "k3", "k4", "k5"),
    "omnidirectional": ("k1", "k2", "k3", "k4", "p1", "p2", "xi", "lx", "ly"),
    "cylindrical": (),
    "equirectangular": (),
}
"""Parameter names in ``params`` order for each model (spec section 2.5)."""

DISTORTION_PARAM_COUNTS: Final[dict[str, int]] = {
    model: len(names) for model, names in DISTORTION_PARAM_NAMES.items()
}
"""Exact ``params`` count per distortion model."""

Number = StrictFloat  # accepts ints (stored as float), refuses bools and strings


class Distortion(SfsModel):
    """``{model, params}``; ``params`` must have exactly the model's count (Scale pads/drops)."""

    model: DistortionModel
    params: tuple[Number, ...] = ()

    @model_validator(mode="after")
    def _count(self) -> Self:
        want = DISTORTION_PARAM_COUNTS[self.model]
        if len(self.params) != want:
            raise ValueError(
                f"distortion model {self.model!r} takes exactly {want} params, "
                f"found {len(self.params)}"
            )
        bad = [p for p in self.params if not math.isfinite(p)]
        if bad:
            raise ValueError(f"distortion params must be finite, found {bad[0]!r}")
        return self

    def by_name(self) -> dict[str, float]:
        """The params keyed by their names (``k1``, ``p1``, ``xi``, ...)."""
        return dict(zip(DISTORTION_PARAM_NAMES[self.model], self.params, strict=True))


class CameraIntrinsics(SfsModel):
    """Pinhole intrinsics in pixels of the stored image, with optional distortion."""

    fx: Number
    fy: Number
    cx: Number
    cy: Number
    width: Annotated[StrictInt, Field(gt=0)]
    height: Annotated[StrictInt, Field(gt=0)]
    distortion: Distortion | None = None
