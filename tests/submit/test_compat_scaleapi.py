"""Compatibility: the official scaleapi SDK and ScaleClient send the same body and Authorization."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from _servers.scale_standin import API_KEY, ScaleStandin

from sfs_kit.submit import ScaleClient, Task, TaskRequest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the SDK's own imports are not under test
    import scaleapi
    from scaleapi.tasks import TaskType

PARAMS: list[dict[str, Any]] = [
    {"project": "proj", "attachments": ["https://b.example/scene.sfs"],
     "scene_format": "sensor_fusion"},
    {"project": "proj", "batch": "batch-1", "instruction": "# Label\n\nEvery **car**.",
     "callback_url": "https://cb.example/hook?x=1",
     "attachments": [f"https://b.example/frame-{i}.json" for i in range(3)],
     "scene_format": "split_base64", "blueprint_id": "bp-7",
     "metadata": {"scene": "é/ü", "n": [1, 2.5, None, True], "nested": {"k": "v"}},
     "unique_id": "uid-42", "priority": 30, "clear_unique_id_on_error": True,
     "tags": ["a", "b"]},
]


@pytest.mark.parametrize("params", PARAMS, ids=["minimal", "every-field"])
def test_same_body_and_authorization_as_the_sdk(scale_standin: ScaleStandin,
                                                params: dict[str, Any]) -> None:
    sdk = scaleapi.ScaleClient(API_KEY, api_instance_url=f"{scale_standin.base_url}/v1")
    sdk_task = sdk.create_task(TaskType.MultiStage, **params)
    [sdk_sent] = scale_standin.requests
    scale_standin.clear()

    ours = ScaleClient(API_KEY, base_url=scale_standin.base_url)
    task = ours.create_multistage_task(TaskRequest(**params))
    [our_sent] = scale_standin.requests

    assert isinstance(task, Task)
    assert sdk_task.id != task.task_id  # two real creates, each answered with a task
    assert (our_sent.method, our_sent.path) == (sdk_sent.method, sdk_sent.path)
    assert our_sent.body == sdk_sent.body == params
    assert our_sent.headers["Authorization"] == sdk_sent.headers["Authorization"]
    assert our_sent.headers["Content-Type"] == sdk_sent.headers["Content-Type"]
