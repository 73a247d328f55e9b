"""``sfs-kit submit``: output, exit codes per error class, key handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _servers.scale_standin import API_KEY, Fault, ScaleStandin

from sfs_kit.cli import main

SFS = "https://bucket.example/scene.sfs"


def _args(standin: ScaleStandin, *extra: str) -> list[str]:
    return ["submit", "--project", "p", "--scene-format", "sensor_fusion", "--attachment", SFS,
            "--base-url", standin.base_url, *extra]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALE_API_KEY", API_KEY)


@pytest.mark.usefixtures("keyed")
def test_prints_the_task_id(scale_standin: ScaleStandin, capsys: pytest.CaptureFixture[str],
                            tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text('{"scene": "a", "n": 1}')
    (tmp_path / "howto.md").write_text("# Label cars\n")
    code = main(_args(scale_standin, "--unique-id", "u1", "--priority", "20", "--tag", "a",
                      "--tag", "b", "--metadata", f"@{tmp_path / 'meta.json'}",
                      "--instruction", f"@{tmp_path / 'howto.md'}", "--blueprint-id", "bp",
                      "--callback-url", "https://cb.example/done", "--clear-unique-id-on-error",
                      "--batch", "b1"))
    out = capsys.readouterr().out
    assert code == 0
    [task] = scale_standin.tasks
    assert out == task["task_id"] + "\n"
    assert scale_standin.posts()[0].body == {
        "project": "p", "batch": "b1", "instruction": "# Label cars\n",
        "callback_url": "https://cb.example/done", "attachments": [SFS],
        "scene_format": "sensor_fusion", "blueprint_id": "bp",
        "metadata": {"scene": "a", "n": 1}, "unique_id": "u1", "priority": 20,
        "clear_unique_id_on_error": True, "tags": ["a", "b"]}


@pytest.mark.usefixtures("keyed")
def test_json_output_and_recovery_note(scale_standin: ScaleStandin,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    scale_standin.inject(Fault("error_after_create"))
    assert main(_args(scale_standin, "--unique-id", "u1", "--json")) == 0
    captured = capsys.readouterr()
    task = json.loads(captured.out)
    assert task["task_id"] == scale_standin.tasks[0]["task_id"]
    assert task["recovered"] is True
    assert "was created by an earlier attempt and recovered by unique_id" in captured.err


def test_dry_run_needs_no_key(scale_standin: ScaleStandin,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(scale_standin, "--dry-run", "--metadata", '{"a": 1}')) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["headers"]["Authorization"] == "Basic <redacted>"
    assert request["url"] == scale_standin.base_url + "/v1/task/multistage"
    assert request["body"]["metadata"] == {"a": 1}
    assert scale_standin.requests == []


def test_no_key_is_exit_3(scale_standin: ScaleStandin, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(scale_standin)) == 3
    assert capsys.readouterr().err == (
        "sfs-kit: error: No Scale API key: set SCALE_API_KEY in the environment, or use "
        "--dry-run to see the request without sending it.\n")
    assert scale_standin.requests == []


def test_invalid_request_is_exit_1(scale_standin: ScaleStandin,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(scale_standin, "--priority", "15")) == 1
    assert "field 'priority' breaks rule 'one_of_10_20_30'" in capsys.readouterr().err
    assert scale_standin.requests == []


@pytest.mark.usefixtures("keyed")
def test_wrong_key_is_exit_3(scale_standin: ScaleStandin, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SCALE_API_KEY", "wrong")
    assert main(_args(scale_standin)) == 3
    assert "HTTP 401" in capsys.readouterr().err


@pytest.mark.usefixtures("keyed")
def test_duplicate_is_exit_4_unless_return_existing(scale_standin: ScaleStandin,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(scale_standin, "--unique-id", "u1")) == 0
    first = capsys.readouterr().out.strip()
    assert main(_args(scale_standin, "--unique-id", "u1")) == 4
    assert f"({first})" in capsys.readouterr().err
    assert main(_args(scale_standin, "--unique-id", "u1", "--on-duplicate",
                      "return_existing")) == 0
    assert capsys.readouterr().out.strip() == first
    assert len(scale_standin.tasks) == 1


@pytest.mark.usefixtures("keyed")
def test_server_error_is_exit_5(scale_standin: ScaleStandin,
                                capsys: pytest.CaptureFixture[str]) -> None:
    scale_standin.inject(Fault("error_after_create"))
    assert main(_args(scale_standin)) == 5
    assert "the task may have been created" in capsys.readouterr().err
    assert len(scale_standin.posts()) == 1


@pytest.mark.usefixtures("keyed")
def test_bad_metadata_file(scale_standin: ScaleStandin, capsys: pytest.CaptureFixture[str],
                           tmp_path: Path) -> None:
    bad = tmp_path / "meta.json"
    bad.write_text('{\n  "a": 1,\n}')
    assert main(_args(scale_standin, "--metadata", f"@{bad}")) == 2
    assert f"--metadata {str(bad)!r} is not valid JSON at line 3, column 1: " \
           f"Expecting property name enclosed in double quotes." in capsys.readouterr().err
    missing = tmp_path / "nope.md"
    assert main(_args(scale_standin, "--instruction", f"@{missing}")) == 2
    assert f"--instruction file {str(missing)!r} cannot be read" in capsys.readouterr().err
    assert scale_standin.requests == []
