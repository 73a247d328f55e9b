"""What a conversion returns: the output format and ``ConvertResult``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sfs_kit.models.validate import Issue

Format = Literal["sfs", "split_base64"]


@dataclass(frozen=True)
class ConvertResult:
    """What a conversion wrote: paths, counts, the time base and origin used, and the report."""

    format: Format
    output: Path
    paths: tuple[Path, ...]
    frame_count: int
    point_count: int
    image_count: int
    time_offset_us: int
    origin_offset_m: tuple[float, float, float] | None
    issues: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = ()
    video_count: int = 0  # cameras stored as MP4 video (their frames are not in image_count)

    def to_dict(self) -> dict[str, Any]:
        """JSON view for ``sfs-kit convert --json``."""
        return {
            "format": self.format,
            "output": str(self.output),
            "files_written": len(self.paths),
            "frame_count": self.frame_count,
            "point_count": self.point_count,
            "image_count": self.image_count,
            "video_count": self.video_count,
            "time_offset_us": self.time_offset_us,
            "origin_offset_m": list(self.origin_offset_m) if self.origin_offset_m else None,
            "issues": [issue.to_dict() for issue in self.issues],
            "notes": list(self.notes),
        }
