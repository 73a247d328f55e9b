"""The README's examples run, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sfs_kit
from sfs_kit.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_the_readme_has_the_two_setup_commands() -> None:
    bash = _blocks("bash")
    assert any("pip install ." in b and "sfs-kit run fixtures/sample_capture" in b for b in bash)
    assert any(b.strip() == "bash scripts/test.sh" for b in bash)


def test_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        code = block.replace("/tmp/", f"{tmp_path}/")
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_config_file_example_loads(tmp_path: Path) -> None:
    (toml,) = _blocks("toml")
    path = tmp_path / "sfs-kit.toml"
    path.write_text(toml, encoding="utf-8")
    config = sfs_kit.load_config(env={"MY_SCALE_KEY": "live_x"}, config_path=path)
    assert config.format == "split_base64"
    assert config.bucket == "my-labeling-bucket"
    assert config.expires_s == 7 * 86400
    assert config.tags == ("nightly",)
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "live_x"


def test_first_command_runs_the_main_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(ROOT / "fixtures" / "sample_capture")]) == 0
    out = capsys.readouterr().out
    assert "DRY RUN" in out
    (folder,) = (tmp_path / "sfs-kit-out").iterdir()  # sample_capture-<hash of its path>
    assert folder.name.startswith("sample_capture-")
    assert (folder / "task_request.json").is_file()


def test_convert_example_in_the_capture_section(tmp_path: Path) -> None:
    (line,) = [b for b in _blocks("bash") if "sfs-kit convert" in b]
    args = line.split("sfs-kit", 1)[1].split()
    args = [a.replace("/tmp/", f"{tmp_path}/") for a in args]
    args = [str(ROOT / a) if a.startswith("fixtures/") else a for a in args]
    assert main(args) == 0
    assert (tmp_path / "sample.sfs").is_file()
