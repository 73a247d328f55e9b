"""A reused unique_id: the run returns an existing task only when it is ours, and says so.

SeaweedFS and the Scale stand-in, with the small deterministic converter (``fake_convert``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.cli.run import print_summary
from sfs_kit.errors import DuplicateTaskError
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.run import JOURNAL_NAME, run

from .conftest import Counts

Fmt = Literal["sfs", "split_base64"]


def _config(server: SeaweedServer, bucket: str, standin: ScaleStandin, out: Path,
            fmt: Fmt = "sfs", **extra: Any) -> RunConfig:
    return RunConfig(format=fmt, out_dir=out, bucket=bucket, prefix="reuse",
                     endpoint_url=server.endpoint_url, region=server.region, project="proj",
                     api_key=API_KEY, api_base_url=standin.base_url, **extra)


def test_same_unique_id_for_another_format_is_refused(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin,
) -> None:
    first = run(fake_capture, _config(s3_env, s3_bucket, scale_standin, tmp_path / "a",
                                      unique_id="shared-id-1"))
    assert (first.task_existing, first.task_recovered) == (False, False)
    second = _config(s3_env, s3_bucket, scale_standin, tmp_path / "b", "split_base64",
                     unique_id="shared-id-1")
    with pytest.raises(DuplicateTaskError,
                       match=rf"The unique_id 'shared-id-1' is used by task {first.task_id} for "
                             r"other attachments \(its scene_format is 'sensor_fusion', ours "
                             r"'split_base64'\)"):
        run(fake_capture, second)
    assert len(scale_standin.tasks) == 1


def test_lost_journal_returns_the_existing_task_and_warns_on_other_settings(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    first = run(fake_capture, _config(s3_env, s3_bucket, scale_standin, out, tags=("a",),
                                      unique_id="mine-2"))
    (out / JOURNAL_NAME).unlink()
    second = run(fake_capture, _config(s3_env, s3_bucket, scale_standin, out, tags=("b",),
                                       unique_id="mine-2"))
    assert (second.task_id, second.task_existing, second.task_recovered) == (
        first.task_id, True, False)
    assert second.warnings == [f"existing task returned, but task {first.task_id} has tags "
                               f"['a'], this run asked for ['b']"]
    resumed = run(fake_capture, _config(s3_env, s3_bucket, scale_standin, out, tags=("b",),
                                        unique_id="mine-2"))
    assert (resumed.task_existing, resumed.warnings) == (True, second.warnings)
    print_summary(second)
    assert "(existing task returned: it already had this unique_id" in capsys.readouterr().out
    assert len(scale_standin.tasks) == 1
