"""``PosePath``: sensor-to-world poses over time, rows ``[x, y, z, qx, qy, qz, qw]``."""

from __future__ import annotations

from typing import Any, Self

from pydantic import model_validator

from sfs_kit.models._arrays import PoseTimestamps, PoseValues
from sfs_kit.models.base import SfsModel

__all__ = ["PosePath"]


class PosePath(SfsModel):
    """Timestamps (int, scene clock, ``time_unit``) and one 7-number pose row per timestamp.

    Both are held as read-only arrays (int64 ``(K,)`` and float64 ``(K, 7)``) and written back
    to the header as JSON lists. Rules on values (order, finiteness, quaternion norm) belong to
    ``validate()``; the model checks structure only.
    """

    timestamps: PoseTimestamps
    values: PoseValues

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        if len(self.timestamps) != len(self.values):
            raise ValueError(
                f"poses have {len(self.timestamps)} timestamps but {len(self.values)} value rows"
            )
        if len(self.timestamps) == 0:
            raise ValueError("poses need at least one timestamp")
        return self

    def to_tree(self) -> dict[str, Any]:
        """Header view: plain lists of ints and floats."""
        return {"timestamps": self.timestamps.tolist(), "values": self.values.tolist()}
