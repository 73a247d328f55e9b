"""The shape of each step's journal record, checked before a resumed run trusts it.

A record that passes its CRC is what the step wrote, unless the journal was edited or written by
a broken version: a resumed run must not turn its values into a ``KeyError``, a ``TypeError`` or
a naive-vs-aware datetime comparison deep in a later step. ``checked(record, step, journal)``
validates the record's ``data`` against the step's model (strict types; extra keys allowed, so
newer fields do not break an older reader) and raises ``JournalFormatError`` naming the journal,
the record's byte offset, the step and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import JournalFormatError
from sfs_kit.pipeline.journal import JournalRecord

__all__ = ["checked"]


def _aware(text: str) -> str:
    when = datetime.fromisoformat(text)  # ValueError: not an ISO time
    if when.tzinfo is None:
        raise ValueError("the time has no UTC offset")
    return text


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
IsoTime = Annotated[str, AfterValidator(_aware)]


class _Data(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    warnings: list[str] = []


class _File(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    name: str = Field(min_length=1)
    role: Literal["attachment", "image"]
    size: int = Field(ge=0)
    sha256: Sha256


class _Object(_File):
    key: str = Field(min_length=1)


class _Url(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    url: str = Field(min_length=1)
    expires_at: IsoTime


class _Issue(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    code: str
    severity: Literal["error", "warning", "info"]
    path: str | None = None
    message: str


class _Convert(_Data):
    files: list[_File]
    content_sha256: Sha256


class _Geometry(_Data):
    issues: list[_Issue]


class _Upload(_Data):
    objects: list[_Object]


class _Presign(_Data):
    urls: list[_Url]


class _Frames(_Data):
    files: list[_File]


class _Verify(_Data):
    count: int = Field(ge=0)


class _Submit(_Data):
    task_id: str | None = None
    status: str | None = None
    recovered: bool = False
    existing: bool = False
    request_path: str | None = None


class _Intent(_Data):
    unique_id: str


class _Capture(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    path: str


_MODELS: dict[str, type[BaseModel]] = {
    "capture": _Capture, "convert": _Convert, "geometry": _Geometry, "upload": _Upload,
    "upload_images": _Upload, "presign": _Presign, "presign_images": _Presign,
    "write_frames": _Frames, "verify": _Verify, "submit": _Submit, "submit_intent": _Intent,
}


@cache
def _adapter(step: str) -> TypeAdapter[Any]:
    return TypeAdapter(_MODELS[step])


def checked(record: JournalRecord, journal: str) -> Mapping[str, Any]:
    """``record.data`` once it has the fields its step writes, with their types; else
    ``JournalFormatError`` (deleting the journal is safe: the run starts over)."""
    if record.step not in _MODELS:
        return record.data
    try:
        _adapter(record.step).validate_python(dict(record.data))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise JournalFormatError(
            f"Journal {journal!r} record at byte {record.offset} (step {record.step!r}): "
            f"field {where!r}: {first['msg']} (got {excerpt(first.get('input'), 60)}). "
            f"Deleting the journal is safe: the run starts over, identical objects are not "
            f"uploaded again, and the task's unique_id prevents a second task.",
            source=journal, offset=record.offset, key=where,
        ) from None
    return record.data
