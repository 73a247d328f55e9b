"""The CLI redacts the credential variables' values from everything it prints (defence in depth
behind errors that never quote secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfs_kit.cli import main

SCALE_KEY = "live_abcdef0123456789"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALE_API_KEY", SCALE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-value-42")


@pytest.mark.parametrize("secret", [SCALE_KEY, "session-token-value-42"])
def test_secret_values_never_reach_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    assert main(["inspect", str(tmp_path / f"{secret}.pcd")]) != 0
    err = capsys.readouterr().err
    assert secret not in err
    assert "REDACTED.pcd" in err


def test_secret_values_never_reach_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / f"{SCALE_KEY}.txt").write_text("x")
    (folder / "plain.txt").write_text("y")
    assert main(["upload", str(folder), "--store", str(tmp_path / "store"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "plain.txt" in out
    assert "REDACTED.txt" in out
    assert SCALE_KEY not in out


def test_the_variable_named_by_api_key_env_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_SCALE_KEY", "team_key_0123456789")
    (tmp_path / "sfs-kit.toml").write_text('[run]\napi_key_env = "TEAM_SCALE_KEY"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tmp_path / "team_key_0123456789"), "--dry-run"]) != 0
    err = capsys.readouterr().err
    assert "team_key_0123456789" not in err
    assert "REDACTED" in err
