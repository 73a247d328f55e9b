"""What ``run`` returns and reports: plain, picklable, JSON-ready records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sfs_kit._redact import redact_url

__all__ = ["PipelineProgress", "RunObject", "RunResult", "StepTiming"]


@dataclass(frozen=True)
class PipelineProgress:
    """Progress of one step (files and bytes); sent to ``run(..., on_progress=...)``."""

    step: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


class RunObject(BaseModel):
    """One stored object: where it came from, where it is, and the URL that fetches it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str  # path relative to the output directory
    role: Literal["attachment", "image"]
    key: str
    url: str
    size: int
    sha256: str
    uploaded: bool  # True when this run (not an earlier one) sent the bytes
    expires_at: datetime | None

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The repr shows ``url`` with its signature redacted; the field keeps the real URL."""
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "url" else value


class StepTiming(BaseModel):
    """How long a step took; ``resumed`` when its result came from the journal."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    step: str
    seconds: float
    resumed: bool


class RunResult(BaseModel):
    """Everything an ingestion job needs to know about one capture's run."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    capture: str
    out_dir: str
    journal_path: str
    format: Literal["sfs", "split_base64"]
    store: str
    unique_id: str
    unique_id_source: Literal["derived", "override"]
    content_sha256: str
    dry_run: bool
    task_id: str | None
    task_status: str | None
    task_recovered: bool  # an ambiguous POST of this run created it; a lookup found it
    task_existing: bool  # it existed before this run (same unique_id, same attachments)
    request_path: str | None
    attachments: list[str]
    objects: list[RunObject]
    urls_expire_at: datetime | None
    bytes_uploaded: int
    steps: list[StepTiming]
    warnings: list[str]
    geometry: list[dict[str, Any]] = Field(default_factory=list)  # G-* issues, before upload

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The repr shows ``attachments`` with signatures redacted; ``objects`` redact their own."""
        for name, value in super().__repr_args__():
            yield name, [redact_url(u) for u in value] if name == "attachments" else value
