"""Exit codes mean what the README table says, on every command; refusals create nothing."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sfs_kit.cli import main


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_bad_lifetime_is_usage_on_upload_as_on_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scene = tmp_path / "a.json"
    scene.write_text("{}")
    store = tmp_path / "store"
    assert main(["upload", str(scene), "--store", str(store), "--expires", "10d"]) == 2
    assert "exceeds the SigV4 maximum" in capsys.readouterr().err
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o"), "--expires", "10d"]) == 2
    assert not store.exists()


def test_an_unreachable_endpoint_is_a_network_failure_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    scene = tmp_path / "a.json"
    scene.write_text("{}")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    argv = ["upload", str(scene), "--bucket", "b", "--endpoint-url", endpoint,
            "--region", "us-east-1"]
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "could not be reached (EndpointConnectionError) at " + endpoint in err


def test_upload_of_a_missing_path_creates_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    assert main(["upload", str(tmp_path / "missing"), "--store", str(store)]) == 2
    assert "Cannot upload" in capsys.readouterr().err
    assert not store.exists()


@pytest.mark.parametrize("command", ["run", "upload"])
def test_a_missing_parent_folder_is_refused_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    scene = tmp_path / "a.json"
    scene.write_text("{}")
    target = tmp_path / "no" / "such"
    argv = (["run", str(tmp_path), "--out", str(target)] if command == "run"
            else ["upload", str(scene), "--store", str(target)])
    assert main(argv) == 2
    assert "does not exist (create it first)" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
