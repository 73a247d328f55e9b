"""Task settings are validated before any work: nothing converted, written or uploaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.cli import main
from sfs_kit.errors import TaskRequestError
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.run import run

from .conftest import Counts

BAD: list[tuple[dict[str, Any], str]] = [
    ({"priority": 15}, r"field 'priority' breaks rule 'one_of_10_20_30'"),
    ({"tags": ("a", "b", "c", "d", "e", "f")}, r"field 'tags' breaks rule 'max_5'"),
    ({"callback_url": "ftp://h/cb"}, r"field 'callback_url' breaks rule 'http_url'"),
    ({"metadata": {"blob": "x" * 10_001}}, r"field 'metadata' breaks rule 'max_10000_bytes'"),
    ({"project": None}, r"field 'project' breaks rule 'project_or_batch'"),
]


@pytest.mark.parametrize(("settings", "pattern"), BAD,
                         ids=["priority", "tags", "callback", "metadata", "no-project"])
def test_bad_task_settings_fail_before_any_work(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin, settings: dict[str, Any], pattern: str,
) -> None:
    fields: dict[str, Any] = {"project": "proj", **settings}
    config = RunConfig(format="split_base64", out_dir=tmp_path / "out", bucket=s3_bucket,
                       endpoint_url=s3_env.endpoint_url, region=s3_env.region,
                       api_key=API_KEY, api_base_url=scale_standin.base_url, **fields)
    with pytest.raises(TaskRequestError, match=pattern):
        run(fake_capture, config)
    assert not (tmp_path / "out").exists()
    assert fake_convert.convert == 0
    assert fake_convert.s3 == {}  # no store was even built
    assert scale_standin.requests == []


def test_dry_run_checks_settings_up_front_too(fake_capture: Path, tmp_path: Path,
                                              fake_convert: Counts) -> None:
    with pytest.raises(TaskRequestError, match=r"field 'callback_url' breaks rule 'http_url'"):
        run(fake_capture, RunConfig(out_dir=tmp_path / "o", callback_url="ftp://h/cb"))
    assert not (tmp_path / "o").exists()
    run(fake_capture, RunConfig(out_dir=tmp_path / "o"))  # no project: fine in a dry run


def test_cli_env_priority_exits_1_with_nothing_written(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SFS_KIT_PRIORITY", "15")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(fake_capture), "--out", str(out), "--project", "p"]) == 1
    assert "field 'priority' breaks rule 'one_of_10_20_30'" in capsys.readouterr().err
    assert not out.exists()
    assert fake_convert.convert == 0
