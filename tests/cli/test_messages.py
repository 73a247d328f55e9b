"""Messages a new user reads: one warning per request (not per attachment), a visible retry,
and an inspect line for a legacy file without 'None'."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import numpy as np
import pytest

from sfs_kit import ScaleClient, TaskRequest
from sfs_kit.cli import main
from sfs_kit.codecs.sfs import write_sfs_dict
from sfs_kit.errors import SubmitError


def test_plain_http_is_one_warning_for_many_attachments(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sfs_kit.submit"):
        TaskRequest(project="p", scene_format="split_base64",
                    attachments=[f"http://h/{i}.json" for i in range(300)])
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["300 of 300 attachments (attachments.0, attachments.1, attachments.2, "
                        "...) use plain http://; https:// is recommended."]


def test_retries_say_so(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ScaleClient("live_test", base_url=f"http://127.0.0.1:{port}", max_attempts=3,
                         sleep=lambda _s: None)
    request = TaskRequest(project="p", scene_format="sensor_fusion",
                          attachments=["https://h/a.sfs"], unique_id="u1")
    with caplog.at_level(logging.WARNING, logger="sfs_kit.submit"), \
            pytest.raises(SubmitError):
        client.create_multistage_task(request)
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 2
    assert retries[0].startswith("Scale API: ")
    assert "attempt 1/3 failed" in retries[0]


def test_inspect_of_a_legacy_file_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "legacy.sfs"
    write_sfs_dict({"sensors": [{"id": "l", "type": "lidar", "frames": [
        {"timestamp": 1, "points": {"positions": np.zeros((2, 3), np.float32)}}]}]}, path)
    assert main(["inspect", str(path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "None" not in first
    assert "SFS (no version field: a legacy file)" in first
    assert "no time_offset" in first
