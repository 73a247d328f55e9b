"""The commands around a batch: run-one for array jobs, batch status, Scale batches, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sfs_kit.batch import CaptureRow, Ledger, run_capture
from sfs_kit.cli import main
from sfs_kit.pipeline import RunConfig

from .conftest import Fleet, make_capture


def _list(root: Path, count: int) -> Path:
    folder = root / "drives"
    folder.mkdir()
    for i in range(count):
        make_capture(folder / f"c{i}.msgpack", seed=i)
    listing = folder / "night.txt"
    listing.write_text("".join(f"c{i}.msgpack\n" for i in range(count)), encoding="utf-8")
    return listing


def test_run_one_runs_its_index_and_array_jobs_share_the_ledger(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = _list(fleet.root, 3)
    assert main(["run-one", str(listing), "--index", "1", *fleet.args()]) == 0
    assert "c1.msgpack: done, task " in capsys.readouterr().out
    monkeypatch.setenv("AWS_BATCH_JOB_ARRAY_INDEX", "2")
    assert main(["run-one", str(listing), *fleet.args("--json")]) == 0
    assert json.loads(capsys.readouterr().out)["index"] == 2
    assert main(["run-one", str(listing), "--index", "1", *fleet.args()]) == 0  # done: no rerun
    capsys.readouterr()
    assert len(fleet.standin.tasks) == 2
    states = Ledger.open(fleet.ledger).states()
    assert sorted(Path(s.path).name for s in states.values() if s.state == "done") == [
        "c1.msgpack", "c2.msgpack"]
    # the batch then runs only what is left
    assert main(["batch", str(listing), *fleet.args("--json")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["skipped_done"], result["tasks_created"]) == (2, 1)
    assert main(["run-one", str(listing), "--index", "3", *fleet.args()]) == 2
    assert "--index 3 is outside the list of 3 captures" in capsys.readouterr().err


def test_run_capture_is_the_function_other_engines_map(fleet: Fleet) -> None:
    capture = make_capture(fleet.root / "one.msgpack", seed=5)
    config = RunConfig(bucket=fleet.bucket, endpoint_url=fleet.proxy.endpoint_url,
                       project="proj", api_key=fleet.standin.api_key,
                       api_base_url=fleet.standin.base_url)
    first = run_capture({"capture": str(capture), "tags": ["dask"]}, config, fleet.ledger)
    assert first.state == "done"
    assert first.task_created
    again = run_capture(CaptureRow(str(capture)), config, fleet.ledger)
    assert (again.state, again.task_id, again.task_created) == ("done", first.task_id, False)
    assert len(fleet.standin.tasks) == 1
    assert fleet.standin.tasks[0]["tags"] == ["dask"]


def test_create_batch_then_finalize_when_all_done(fleet: Fleet,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    listing = _list(fleet.root, 2)
    fleet.standin.clear()
    code = main(["batch", str(listing), *fleet.args("--batch", "night-7", "--create-batch",
                                                    "--finalize")])
    out = capsys.readouterr().out
    assert code == 0
    assert "scale batch night-7 [in_progress] finalized" in out
    assert fleet.standin.batches["night-7"]["status"] == "in_progress"
    assert {t["batch"] for t in fleet.standin.tasks} == {"night-7"}
    # again: the batch exists (reused, not an error) and is already finalized
    code = main(["batch", str(listing), *fleet.args("--batch", "night-7", "--create-batch",
                                                    "--finalize", "--json")])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["scale_batch"]["finalized"] is True
    assert len(fleet.standin.tasks) == 2
    creates = [r for r in fleet.standin.requests if r.method == "POST"
               and r.path == "/v1/batches"]
    assert len(creates) == 1  # nothing left to run: no second create


def test_finalize_waits_for_every_capture(fleet: Fleet,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    listing = _list(fleet.root, 1)
    (listing.parent / "bad.msgpack").write_bytes(b"\xc1")
    listing.write_text("c0.msgpack\nbad.msgpack\n", encoding="utf-8")
    code = main(["batch", str(listing), *fleet.args("--batch", "b2", "--create-batch",
                                                    "--finalize")])
    assert code == 1
    assert "not finalized: 1 captures are not done" in capsys.readouterr().out
    assert fleet.standin.batches["b2"]["status"] == "staging"


def test_batch_status_fetches_each_task(fleet: Fleet,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    listing = _list(fleet.root, 3)
    assert main(["batch", str(listing), *fleet.args()]) == 0
    capsys.readouterr()
    first, *_ = fleet.standin.tasks
    fleet.standin.set_status(first["task_id"], "completed")
    assert main(["batch", "status", str(fleet.ledger), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task_statuses"] == {"completed": 1, "pending": 2}
    assert report["checked"] == 3
    state = next(s for s in Ledger.open(fleet.ledger).states().values()
                 if s.task_id == first["task_id"])
    assert state.task_status == "completed"
    assert main(["batch", "status", str(fleet.ledger)]) == 0
    out = capsys.readouterr().out
    assert "completed   1" in out
    assert "done 3" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--unique-id", "x"], "--unique-id would give every capture the same task id"),
    (["--priority", "15"], "priority"),
    (["--create-batch"], "--create-batch and --finalize need both --project and --batch"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--max-submits", "0"], "--max-submits must be at least 1"),
    (["--timeout", "soon"], "--timeout"),
])
def test_a_batch_that_cannot_run_exits_2_or_more(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], args: list[str], message: str,
) -> None:
    listing = _list(fleet.root, 1)
    code = main(["batch", str(listing), *fleet.args(*args)])
    assert code >= 2
    assert message in capsys.readouterr().err
    assert fleet.standin.tasks == []


def test_a_missing_list_or_ledger_exits_2(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "none.txt"), "--out", str(tmp_path / "l")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["batch", "status", str(tmp_path / "nowhere")]) == 2
    assert main(["batch", str(tmp_path)]) == 2
    assert "needs --out LEDGER_DIR" in capsys.readouterr().err


def test_dry_run_batch_writes_requests_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    listing = _list(tmp_path, 2)
    assert main(["batch", str(listing), "--out", "ledger", "--workers", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tasks_created"] == 0
    for capture in result["captures"]:
        assert capture["dry_run"] is True
        assert Path(capture["request_path"]).is_file()


def test_progress_line_shows_counts_bytes_rate_and_eta() -> None:
    from sfs_kit.batch import BatchProgress
    from sfs_kit.cli._batch_progress import describe

    event = BatchProgress(total=40, done=30, failed=2, running=2, pending=6,
                          bytes_uploaded=1_234_000, elapsed_s=60.0, finished_this_run=20,
                          to_run=30)
    assert describe(event) == ("30/40 done, 2 failed, 2 running | 1.2 MB | 20/min | ETA 0:30")


def test_run_settings_and_row_overrides_reach_each_capture(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _list(fleet.root, 3)
    drives = fleet.root / "drives"
    # the same layers as run: command line > environment > sfs-kit.toml > defaults
    (fleet.root / "sfs-kit.toml").write_text('priority = 10\ntag = ["from-file"]\nexpires = "2d"\n',
                                             encoding="utf-8")
    monkeypatch.setenv("SFS_KIT_EXPIRES", "3d")
    listing = fleet.root / "night.jsonl"
    listing.write_text("\n".join(json.dumps(row) for row in [
        {"capture": str(drives / "c0.msgpack"), "format": "split_base64"},
        {"capture": str(drives / "c1.msgpack"), "unique_id": "night-c1", "tags": ["row"]},
        {"capture": str(drives / "c2.msgpack")},
    ]) + "\n", encoding="utf-8")
    code = main(["batch", str(listing), *fleet.args("--priority", "30", "--json")])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, [(c["error_class"], c["error_message"]) for c in result["captures"]]
    by_name = {Path(c["path"]).name: c for c in result["captures"]}
    tasks = {t["task_id"]: t for t in fleet.standin.tasks}
    task = {name: tasks[c["task_id"]] for name, c in by_name.items()}
    sent = {p.body["unique_id"]: p.body for p in fleet.standin.posts()}
    assert {body["priority"] for body in sent.values()} == {30}  # command line over the file
    assert task["c0.msgpack"]["params"]["scene_format"] == "split_base64"  # the row's format
    assert task["c2.msgpack"]["params"]["scene_format"] == "sensor_fusion"
    assert task["c2.msgpack"]["tags"] == ["from-file"]  # the file, where nothing else says
    assert task["c1.msgpack"]["tags"] == ["row"]  # a row's override wins
    assert task["c1.msgpack"]["unique_id"] == "night-c1"
    assert task["c2.msgpack"]["unique_id"] != "night-c1"
    for capture in by_name.values():  # the environment over the file: URLs live 3 days
        expires = datetime.fromisoformat(capture["urls_expire_at"])
        left = (expires - datetime.now(UTC)).total_seconds()
        assert 2.9 * 86400 < left <= 3 * 86400


def test_bad_credentials_fail_without_retries(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = _list(fleet.root, 2)
    monkeypatch.setenv("SCALE_API_KEY", "live_wrong")
    code = main(["batch", str(listing), *fleet.args("--json")])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    for capture in result["captures"]:  # permanent: one attempt each, no retries, no task
        assert (capture["state"], capture["attempts"]) == ("failed", 1)
        assert capture["error_class"] == "ScaleAuthError"
        assert "live_wrong" not in capture["error_message"]
    assert fleet.standin.tasks == []
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")  # S3's turn: also permanent
    code = main(["batch", str(listing), *fleet.args("--retry-failed", "--json")])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(c["attempts"], c["transient"]) for c in result["captures"]] == [(2, False)] * 2
    assert {c["error_class"] for c in result["captures"]} == {"StorageAccessDeniedError"}
    assert not [c for c in result["captures"] if "wrong-secret" in c["error_message"]]
