"""Runtime invariants of the create call are explicit checks raising our error, not asserts."""

from __future__ import annotations

import pytest
from _servers.scale_standin import ScaleStandin

from sfs_kit.errors import ScaleApiError, SubmitError
from sfs_kit.submit import ScaleClient, TaskRequest
from sfs_kit.submit import client as client_module

SFS = "https://bucket.example/scene.sfs"


def _request(unique_id: str | None = "uid-9") -> TaskRequest:
    return TaskRequest(project="proj", attachments=[SFS], scene_format="sensor_fusion",
                       unique_id=unique_id)


def test_409_that_maps_to_another_error_is_reported(
    client: ScaleClient, scale_standin: ScaleStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.create_multistage_task(_request())

    def not_a_duplicate(status: int, body: bytes, **_: object) -> ScaleApiError:
        return ScaleApiError("mapped wrongly.", status_code=status)

    monkeypatch.setattr(client_module, "error_for_response", not_a_duplicate)
    with pytest.raises(SubmitError, match=r"answered HTTP 409, but the answer did not map to a "
                                          r"duplicate-task error \(ScaleApiError\); this is a "
                                          r"bug in sfs_kit\."):
        client.create_multistage_task(_request())


def test_lookup_without_unique_id_is_refused(client: ScaleClient) -> None:
    call = client_module._CreateCall(client, _request(unique_id=None), b"{}", {},
                                     idempotency_key="k", on_duplicate="raise")
    with pytest.raises(SubmitError, match=r"a lookup by unique_id needs a unique_id; this is a "
                                          r"bug in sfs_kit\."):
        call._lookup_ours()
