"""The multi-stage task request body (spec §5.2, D24), checked in full before anything is sent.

``TaskRequest(...)`` raises ``TaskRequestError(field=..., rule=...)`` for the first violation; the
message lists every violation and ``pydantic_errors`` keeps pydantic's ``errors()``. Each rule is a
short id (``max_5``, ``http_url``, ...) that is also the pydantic error ``type``.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sfs_kit.errors import TaskRequestError
from sfs_kit.submit._repr import RedactedReprModel

__all__ = [
    "BODY_FIELDS",
    "MAX_TAGS",
    "METADATA_MAX_BYTES",
    "PRIORITIES",
    "JsonObject",
    "SceneFormat",
    "TaskRequest",
    "compact_json",
]

logger = logging.getLogger(__name__)

METADATA_MAX_BYTES = 10_000
MAX_TAGS = 5
PRIORITIES = (10, 20, 30)
# Body fields in wire order; a field's wire key is its name unless ``field_names`` renames it.
BODY_FIELDS = ("project", "batch", "instruction", "callback_url", "attachments", "scene_format",
               "blueprint_id", "metadata", "unique_id", "priority", "clear_unique_id_on_error",
               "tags")

SceneFormat = Literal["sensor_fusion", "split_base64"]
JsonObject = dict[str, Any]


def compact_json(value: object) -> str:
    """Compact JSON as sent on the wire and as measured for the metadata limit (D24)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _violation(field: str, rule: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(rule, message, {"field": field})


def _check_json(value: object, path: str) -> None:
    """Raise a violation unless ``value`` is plain JSON: str keys, finite numbers, JSON types."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _violation(path, "str_keys", f"key {key!r} at {path} is not a str")
            _check_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}.{index}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _violation(path, "finite_numbers", f"{path} is {value!r}, which JSON cannot hold")
    elif not (value is None or isinstance(value, str | int)):  # bool is an int
        raise _violation(path, "json_types",
                         f"{path} is a {type(value).__name__}, not a JSON value")


def _which(fields: list[str], total: int, one: str, many: str) -> str:
    """``Attachment attachments.0 uses ...`` or ``12 of 40 attachments (attachments.0, ...)
    use ...``: one line for the whole request."""
    if len(fields) == 1:
        return f"Attachment {fields[0]} {one}"
    shown = ", ".join(fields[:3]) + (", ..." if len(fields) > 3 else "")
    return f"{len(fields)} of {total} attachments ({shown}) {many}"


def _check_http_url(field: str, url: str) -> str:
    """The scheme of ``url`` after checking it is an absolute http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise _violation(field, "http_url",
                         f"{field} must be an absolute http:// or https:// URL with a host, "
                         f"found {url!r}")
    return parts.scheme


class TaskRequest(RedactedReprModel):
    """The body of ``POST /v1/task/multistage``; ``to_body()`` gives the exact wire JSON object.

    ``extra`` passes unknown parameters through untouched; ``field_names`` renames wire keys
    (``{"blueprint_id": "..."}``), since some keys are inferred (spec Q1, Q3).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    project: str | None = None
    batch: str | None = None
    instruction: str | None = None
    callback_url: str | None = None
    attachments: list[str]
    scene_format: SceneFormat
    blueprint_id: str | None = None
    metadata: JsonObject | None = None
    unique_id: str | None = None
    priority: int | None = None
    clear_unique_id_on_error: bool | None = None
    tags: list[str] | None = None
    extra: JsonObject = Field(default_factory=dict)
    field_names: dict[str, str] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _request_error(exc) from exc

    @field_validator("project", "batch", "blueprint_id", "unique_id")
    @classmethod
    def _non_empty(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.strip():
            name = str(info.field_name)
            raise _violation(name, "non_empty",
                             f"{name} must be a non-empty string, found {value!r}")
        return value

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        if value is not None:
            _check_http_url("callback_url", value)
        return value

    @field_validator("attachments")
    @classmethod
    def _attachments(cls, value: list[str]) -> list[str]:
        if not value:
            raise _violation("attachments", "non_empty", "attachments must hold at least one URL")
        s3_uris: list[str] = []
        plain_http: list[str] = []
        for index, url in enumerate(value):
            field = f"attachments.{index}"
            if url.startswith("s3://"):
                bucket, _, key = url[5:].partition("/")
                if not bucket or not key:
                    raise _violation(field, "url_scheme",
                                     f"{field} must be s3://bucket/key, found {url!r}")
                s3_uris.append(field)
                continue
            scheme = _check_http_url(field, url)
            if scheme == "http":
                plain_http.append(field)
        # one line per request, not one per attachment (a long capture has hundreds)
        if plain_http:
            logger.warning("%s; https:// is recommended.",
                           _which(plain_http, len(value), "uses plain http://",
                                  "use plain http://"))
        if s3_uris:
            logger.warning("%s; Scale needs access to %s bucket.",
                           _which(s3_uris, len(value), "is an s3:// URI", "are s3:// URIs"),
                           "its" if len(s3_uris) == 1 else "their")
        return value

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, value: object) -> object:
        if value is None:
            return value
        if not isinstance(value, dict):
            raise _violation("metadata", "json_object",
                             f"metadata must be a JSON object, found a {type(value).__name__}")
        _check_json(value, "metadata")
        size = len(compact_json(value).encode("utf-8"))
        if size > METADATA_MAX_BYTES:
            raise _violation("metadata", "max_10000_bytes",
                             f"metadata is {size} bytes as compact UTF-8 JSON, "
                             f"more than the {METADATA_MAX_BYTES} allowed")
        return value

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: object) -> object:
        if value is not None and (isinstance(value, bool) or value not in PRIORITIES):
            raise _violation("priority", "one_of_10_20_30",
                             f"priority must be the int 10, 20 or 30, found {value!r}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if len(value) > MAX_TAGS:
            raise _violation("tags", "max_5",
                             f"at most {MAX_TAGS} tags are allowed, found {len(value)}")
        for index, tag in enumerate(value):
            if not tag.strip():
                raise _violation(f"tags.{index}", "non_empty",
                                 f"tags.{index} must be a non-empty string, found {tag!r}")
        if len(set(value)) != len(value):
            dup = next(t for t in value if value.count(t) > 1)
            raise _violation("tags", "unique", f"tags must be unique, found {dup!r} twice")
        return value

    @field_validator("extra", mode="before")
    @classmethod
    def _extra(cls, value: object) -> object:
        if isinstance(value, dict):
            _check_json(value, "extra")
        return value

    @field_validator("field_names")
    @classmethod
    def _field_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, wire_key in value.items():
            if name not in BODY_FIELDS:
                raise _violation("field_names", "known_field",
                                 f"field_names key {name!r} is not one of {', '.join(BODY_FIELDS)}")
            if not wire_key.strip():
                raise _violation(f"field_names.{name}", "non_empty",
                                 f"field_names.{name} must be a non-empty wire key")
        return value

    @model_validator(mode="after")
    def _whole(self) -> TaskRequest:
        if self.project is None and self.batch is None:
            raise _violation("project", "project_or_batch",
                             "project is required unless batch is given")
        if self.scene_format == "sensor_fusion" and len(self.attachments) != 1:
            raise _violation("attachments", "one_for_sensor_fusion",
                             f"sensor_fusion takes exactly 1 attachment (the .sfs file), "
                             f"found {len(self.attachments)}")
        if self.scene_format == "split_base64" and len(set(self.attachments)) != len(
            self.attachments
        ):
            raise _violation("attachments", "one_per_frame",
                             "split_base64 takes one distinct URL per frame, in frame order; "
                             "a URL appears twice")
        wire_keys = [self.wire_key(name) for name in BODY_FIELDS]
        if len(set(wire_keys)) != len(wire_keys):
            raise _violation("field_names", "unique",
                             "field_names must not map two fields to the same wire key")
        clash = sorted(set(self.extra) & set(wire_keys))
        if clash:
            raise _violation("extra", "no_known_keys",
                             f"extra must not set documented parameters, found {clash[0]!r}; "
                             f"use the field itself")
        return self

    def wire_key(self, name: str) -> str:
        """The JSON key that field ``name`` is sent under."""
        return self.field_names.get(name, name)

    def to_body(self) -> JsonObject:
        """The JSON object to POST: set fields under their wire keys, then ``extra``."""
        body: JsonObject = {}
        for name in BODY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                body[self.wire_key(name)] = value
        body.update(self.extra)
        return body


def _request_error(exc: ValidationError) -> TaskRequestError:
    """One TaskRequestError naming every violation; the first one's field and rule as attributes."""
    found: list[tuple[str, str, str]] = []
    for error in exc.errors():
        ctx = error.get("ctx") or {}
        loc = ".".join(str(part) for part in error["loc"])
        field = str(ctx.get("field") or loc or "<request>")
        found.append((field, error["type"], error["msg"]))
    text = "; ".join(f"field {field!r} breaks rule {rule!r}: {msg}" for field, rule, msg in found)
    return TaskRequestError(
        f"Invalid task request: {text.rstrip('.')}.",
        field=found[0][0],
        rule=found[0][1],
        pydantic_errors=exc.errors(),
    )
