"""TaskRequest: each documented rule (spec §5.2, D24) is enforced, naming field, rule, message."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sfs_kit.errors import TaskRequestError
from sfs_kit.submit import TaskRequest

SFS = "https://bucket.example/scene.sfs"


def _base(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"project": "p", "attachments": [SFS], "scene_format": "sensor_fusion"}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not _DROP}


_DROP = object()

# (id, changes, field, rule, message pattern)
RULES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("project_or_batch", {"project": _DROP}, "project", "project_or_batch",
     r"field 'project' breaks rule 'project_or_batch': "
     r"project is required unless batch is given\."),
    ("project_non_empty", {"project": " "}, "project", "non_empty",
     r"project must be a non-empty string, found ' '"),
    ("project_type", {"project": 3}, "project", "string_type", r"Input should be a valid string"),
    ("batch_non_empty", {"batch": ""}, "batch", "non_empty",
     r"batch must be a non-empty string, found ''"),
    ("instruction_type", {"instruction": ["x"]}, "instruction", "string_type",
     r"'instruction' breaks rule 'string_type'"),
    ("callback_scheme", {"callback_url": "ftp://h/cb"}, "callback_url", "http_url",
     r"callback_url must be an absolute http:// or https:// URL with a host, found 'ftp://h/cb'"),
    ("callback_relative", {"callback_url": "/cb"}, "callback_url", "http_url",
     r"found '/cb'"),
    ("callback_email", {"callback_url": "me@example.com"}, "callback_url", "http_url",
     r"found 'me@example\.com'"),
    ("attachments_missing", {"attachments": _DROP}, "attachments", "missing", r"Field required"),
    ("attachments_empty", {"attachments": []}, "attachments", "non_empty",
     r"attachments must hold at least one URL"),
    ("attachments_scheme", {"attachments": ["ftp://h/a.sfs"]}, "attachments.0", "http_url",
     r"attachments\.0 must be an absolute http:// or https:// URL with a host"),
    ("attachments_s3_shape", {"attachments": ["s3://bucket-only"]}, "attachments.0", "url_scheme",
     r"attachments\.0 must be s3://bucket/key, found 's3://bucket-only'"),
    ("sensor_fusion_one", {"attachments": [SFS, SFS + "2"]}, "attachments",
     "one_for_sensor_fusion",
     r"sensor_fusion takes exactly 1 attachment \(the \.sfs file\), found 2"),
    ("split_base64_distinct", {"scene_format": "split_base64", "attachments": [SFS, SFS]},
     "attachments", "one_per_frame",
     r"one distinct URL per frame, in frame order; a URL appears twice"),
    ("scene_format", {"scene_format": "sfs"}, "scene_format", "literal_error",
     r"Input should be 'sensor_fusion' or 'split_base64'"),
    ("blueprint_non_empty", {"blueprint_id": ""}, "blueprint_id", "non_empty",
     r"blueprint_id must be a non-empty string"),
    ("metadata_object", {"metadata": [1]}, "metadata", "json_object",
     r"metadata must be a JSON object, found a list"),
    ("metadata_str_keys", {"metadata": {"a": {1: "x"}}}, "metadata.a", "str_keys",
     r"key 1 at metadata\.a is not a str"),
    ("metadata_nan", {"metadata": {"a": [0.5, float("nan")]}}, "metadata.a.1", "finite_numbers",
     r"metadata\.a\.1 is nan, which JSON cannot hold"),
    ("metadata_inf", {"metadata": {"a": float("inf")}}, "metadata.a", "finite_numbers",
     r"metadata\.a is inf"),
    ("metadata_types", {"metadata": {"a": {1, 2}}}, "metadata.a", "json_types",
     r"metadata\.a is a set, not a JSON value"),
    ("metadata_size", {"metadata": {"k": "é" * 5000}}, "metadata", "max_10000_bytes",
     r"metadata is 10008 bytes as compact UTF-8 JSON, more than the 10000 allowed"),
    ("unique_id_non_empty", {"unique_id": ""}, "unique_id", "non_empty",
     r"unique_id must be a non-empty string, found ''"),
    ("priority_value", {"priority": 15}, "priority", "one_of_10_20_30",
     r"priority must be the int 10, 20 or 30, found 15"),
    ("priority_bool", {"priority": True}, "priority", "one_of_10_20_30",
     r"priority must be the int 10, 20 or 30, found True"),
    ("priority_str", {"priority": "20"}, "priority", "one_of_10_20_30", r"found '20'"),
    ("clear_unique_id_bool", {"clear_unique_id_on_error": "yes"}, "clear_unique_id_on_error",
     "bool_type", r"Input should be a valid boolean"),
    ("tags_max", {"tags": ["a", "b", "c", "d", "e", "f"]}, "tags", "max_5",
     r"at most 5 tags are allowed, found 6"),
    ("tags_non_empty", {"tags": ["a", ""]}, "tags.1", "non_empty",
     r"tags\.1 must be a non-empty string, found ''"),
    ("tags_unique", {"tags": ["a", "b", "a"]}, "tags", "unique",
     r"tags must be unique, found 'a' twice"),
    ("extra_known_key", {"extra": {"unique_id": "sneaky"}}, "extra", "no_known_keys",
     r"extra must not set documented parameters, found 'unique_id'; use the field itself"),
    ("extra_json", {"extra": {"x": float("nan")}}, "extra.x", "finite_numbers",
     r"extra\.x is nan"),
    ("field_names_known", {"field_names": {"colour": "c"}}, "field_names", "known_field",
     r"field_names key 'colour' is not one of project, batch"),
    ("field_names_non_empty", {"field_names": {"blueprint_id": " "}}, "field_names.blueprint_id",
     "non_empty", r"field_names\.blueprint_id must be a non-empty wire key"),
    ("field_names_unique", {"field_names": {"blueprint_id": "project"}}, "field_names", "unique",
     r"field_names must not map two fields to the same wire key"),
    ("unknown_parameter", {"colour": "red"}, "colour", "extra_forbidden",
     r"Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("changes", "field", "rule", "pattern"),
                         [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_is_enforced(changes: dict[str, Any], field: str, rule: str,
                               pattern: str) -> None:
    with pytest.raises(TaskRequestError, match=pattern) as info:
        TaskRequest(**_base(**changes))
    assert (info.value.field, info.value.rule) == (field, rule)
    assert str(info.value).startswith("Invalid task request: field ")
    assert str(info.value).endswith(".")
    assert info.value.pydantic_errors  # pydantic's errors() stay reachable
    assert info.value.__cause__ is not None


def test_metadata_limit_is_bytes_of_compact_utf8_json() -> None:
    # {"k":"<n x é>"} is 8 + 2n bytes: n = 4996 gives exactly 10,000 bytes.
    TaskRequest(**_base(metadata={"k": "é" * 4996}))
    with pytest.raises(TaskRequestError, match=r"metadata is 10002 bytes as compact UTF-8 JSON, "
                                               r"more than the 10000 allowed") as info:
        TaskRequest(**_base(metadata={"k": "é" * 4997}))
    assert info.value.rule == "max_10000_bytes"


def test_every_violation_is_reported() -> None:
    with pytest.raises(TaskRequestError, match=r"'priority'.*'tags'") as info:
        TaskRequest(**_base(priority=11, tags=["x", "x"]))
    assert [e["type"] for e in info.value.pydantic_errors] == ["one_of_10_20_30", "unique"]  # type: ignore[index]


def test_batch_alone_is_enough_and_body_uses_wire_keys() -> None:
    request = TaskRequest(batch="b", attachments=["https://h/0.json", "https://h/1.json"],
                          scene_format="split_base64", blueprint_id="bp", priority=30,
                          clear_unique_id_on_error=True, tags=["t"], unique_id="u",
                          metadata={"a": [1, 2.5, None, True]}, extra={"is_test": True},
                          field_names={"blueprint_id": "blueprint"})
    assert request.to_body() == {
        "batch": "b", "attachments": ["https://h/0.json", "https://h/1.json"],
        "scene_format": "split_base64", "blueprint": "bp", "metadata": {"a": [1, 2.5, None, True]},
        "unique_id": "u", "priority": 30, "clear_unique_id_on_error": True, "tags": ["t"],
        "is_test": True,
    }


def test_http_and_s3_attachments_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sfs_kit.submit"):
        TaskRequest(project="p", scene_format="split_base64",
                    attachments=["http://h/0.json", "s3://bucket/1.json", "https://h/2.json"])
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "Attachment attachments.0 uses plain http://; https:// is recommended.",
        "Attachment attachments.1 is an s3:// URI; Scale needs access to its bucket.",
    ]


def test_request_is_frozen() -> None:
    request = TaskRequest(**_base())
    with pytest.raises(ValueError, match="frozen"):
        request.project = "other"  # type: ignore[misc]
