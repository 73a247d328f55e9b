"""``sfs-kit run`` durations: one parser with ``upload``; errors name the setting as given."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sfs_kit.cli import main
from sfs_kit.errors import InputError
from sfs_kit.pipeline.config import load_config


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    root = tmp_path / "cap"
    root.mkdir()
    return root


@pytest.mark.parametrize(("value", "pattern"), [
    ("8d", r"Run setting '--expires' is invalid: 691200 s exceeds the SigV4 maximum of 604800 s "
           r"\(7 days\) for a presigned URL \(got '8d'\)\."),
    ("abc", r"Run setting '--expires' is invalid: it must be a duration like '7d', '12h', '90m', "
            r"'1.5h' or '3600' \(units s, m, h, d, w\) \(got 'abc'\)\."),
])
def test_run_expires_errors_name_the_option(
    capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, pattern: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(capture), "--out", str(out), "--expires", value]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err), err
    assert not out.exists()


def test_duration_errors_name_env_and_file_keys(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Run setting SFS_KIT_MIN_LIFETIME is invalid: it must "
                                         r"be a duration"):
        load_config(env={"SFS_KIT_MIN_LIFETIME": "soon"}, cwd=tmp_path)
    (tmp_path / "sfs-kit.toml").write_text('expires = "2w"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"Run setting 'expires' in '.*sfs-kit.toml' is invalid: "
                                         r"1209600 s exceeds the SigV4 maximum"):
        load_config(env={}, cwd=tmp_path)


def test_run_accepts_the_same_units_as_upload(tmp_path: Path) -> None:
    config = load_config({"expires_s": "1.5h", "min_lifetime_s": "1W"}, env={}, cwd=tmp_path)
    assert (config.expires_s, config.min_lifetime_s) == (5400, 604_800)
