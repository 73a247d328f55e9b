"""What the endpoint answers (spec §5.3): a small ``Task`` model, and ``DryRunRequest``."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from sfs_kit.submit._repr import RedactedReprModel

__all__ = ["Batch", "DryRunRequest", "Task"]


class Task(RedactedReprModel):
    """A Scale task as returned by create or lookup; unknown fields are kept (``model_extra``).

    ``recovered`` and ``existing`` are ours, not Scale's. ``recovered``: an earlier, ambiguous
    attempt of the same call created the task and a lookup found it (spec §5.5). ``existing``: the
    task existed before this call and ``on_duplicate="return_existing"`` returned it (its
    scene_format and attachments were checked to be ours).
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    task_id: str
    status: str | None = None
    type: str | None = None
    created_at: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    unique_id: str | None = None
    recovered: bool = False
    existing: bool = False

    @field_validator("params", "metadata", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("status", "type", "created_at", "unique_id", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return value if value is None or isinstance(value, str) else str(value)


class DryRunRequest(RedactedReprModel):
    """The exact request a ``dry_run`` create would send, with Authorization redacted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class Batch(RedactedReprModel):
    """A Scale batch (``/v1/batches``); unknown fields are kept (``model_extra``).

    ``status`` is ``staging`` until the batch is finalized, then ``in_progress`` and
    ``completed``. ``existing`` is ours: ``create_batch`` found a batch of that name already.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    project: str | None = None
    status: str | None = None
    created_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    existing: bool = False

    @field_validator("metadata", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("project", "status", "created_at", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return value if value is None or isinstance(value, str) else str(value)
