"""A unique_id answered with 409 is accepted only for the task this request would create.

``on_duplicate="return_existing"`` and the recovery after an ambiguous attempt both check that the
found task has our scene_format (when echoed) and our attachments, compared without query strings
(presigned signatures differ between signings).
"""

from __future__ import annotations

import pytest
from _servers.scale_standin import ScaleStandin

from sfs_kit.errors import DuplicateTaskError
from sfs_kit.submit import ScaleClient, Task, TaskRequest
from sfs_kit.submit.client import attachment_target, differing_settings, task_mismatch

SIGNED = "https://bucket.s3.example/runs/scene.sfs?X-Amz-Signature=aaa&X-Amz-Date=1"
RESIGNED = "https://BUCKET.s3.example/runs/scene.sfs?X-Amz-Signature=bbb&X-Amz-Date=2"


def _request(attachments: list[str] | None = None, scene_format: str = "sensor_fusion",
             **fields: object) -> TaskRequest:
    return TaskRequest(project="proj", attachments=attachments or [SIGNED],
                       scene_format=scene_format, unique_id="shared-id-1", **fields)


def _create(client: ScaleClient, request: TaskRequest, **kwargs: object) -> Task:
    task = client.create_multistage_task(request, **kwargs)  # type: ignore[arg-type]
    assert isinstance(task, Task)
    return task


def test_return_existing_accepts_the_same_objects_signed_again(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    first = _create(client, _request())
    again = _create(client, _request([RESIGNED]), on_duplicate="return_existing")
    assert (again.task_id, again.existing, again.recovered) == (first.task_id, True, False)
    assert first.existing is False
    assert len(scale_standin.tasks) == 1


def test_return_existing_refuses_a_task_with_other_attachments(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    first = _create(client, _request())
    other = "https://bucket.s3.example/runs/other.sfs?X-Amz-Signature=ccc"
    with pytest.raises(DuplicateTaskError,
                       match=rf"The unique_id 'shared-id-1' is used by task {first.task_id} for "
                             r"other attachments \(attachment 0: "
                             r"'https://bucket.s3.example/runs/scene.sfs', ours "
                             r"'https://bucket.s3.example/runs/other.sfs'\)") as info:
        client.create_multistage_task(_request([other]), on_duplicate="return_existing")
    assert info.value.existing_task_id == first.task_id
    assert "X-Amz-Signature" not in str(info.value)
    assert len(scale_standin.tasks) == 1


def test_return_existing_refuses_a_task_of_another_scene_format(
    client: ScaleClient, scale_standin: ScaleStandin
) -> None:
    first = _create(client, _request())
    frames = ["https://bucket.s3.example/runs/frame-0.json",
              "https://bucket.s3.example/runs/frame-1.json"]
    with pytest.raises(DuplicateTaskError,
                       match=rf"used by task {first.task_id} for other attachments \(its "
                             r"scene_format is 'sensor_fusion', ours 'split_base64'\)"):
        client.create_multistage_task(_request(frames, "split_base64"),
                                      on_duplicate="return_existing")


def test_return_existing_refuses_a_task_that_echoes_no_attachments() -> None:
    task = Task(task_id="t1", params={"scene_format": "sensor_fusion"})
    assert task_mismatch(_request(), task) == "its params echo no attachments to compare"
    shorter = Task(task_id="t1", params={"attachments": []})
    assert task_mismatch(_request(), shorter) == "0 attachments, ours 1"


def test_recovery_after_ambiguity_compares_without_query() -> None:
    task = Task(task_id="t1", params={"attachments": [RESIGNED], "scene_format": "sensor_fusion"})
    assert task_mismatch(_request(), task) is None
    assert attachment_target("file:///tmp/a.sfs?x=1") == "file:///tmp/a.sfs?x=1"
    assert attachment_target("s3://b/k.sfs") == "s3://b/k.sfs"
    assert attachment_target("http://H:9000/b/k?X-Amz-Signature=1#f") == "http://h:9000/b/k"


def test_differing_settings_of_an_existing_task() -> None:
    request = _request(priority=20, tags=["a", "b"], batch="b1")
    task = Task.model_validate({"task_id": "t9", "project": "proj", "batch": "b2",
                                "priority": 30, "tags": ["b", "a"], "params": {}})
    assert differing_settings(request, task) == [
        "task t9 has batch 'b2', this run asked for 'b1'",
        "task t9 has priority 30, this run asked for 20",
    ]
    untagged = Task.model_validate({"task_id": "t9", "tags": []})
    assert differing_settings(_request(tags=["x"]), untagged) == [
        "task t9 has tags [], this run asked for ['x']"]
    assert differing_settings(_request(), Task(task_id="t9")) == []
