"""A driver killed mid-batch (with its workers) and restarted finishes without a duplicate task;
a second driver on a busy ledger is refused; --timeout fails only the slow capture; a ledger
resumed with other settings says which; a real batch after a dry run submits every capture."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _servers.s3_proxy import S3Fault

from sfs_kit.batch import Ledger
from sfs_kit.cli import main

from .conftest import Fleet, alive, make_capture

REPO = Path(__file__).resolve().parents[2]


def _list(root: Path, count: int) -> Path:
    folder = root / "drives"
    folder.mkdir()
    paths = [make_capture(folder / f"d{i:02d}.msgpack", seed=i) for i in range(count)]
    listing = folder / "night.txt"  # paths relative to the list's folder
    listing.write_text("# tonight\n" + "\n".join(p.name for p in paths) + "\n", encoding="utf-8")
    return listing


def test_driver_killed_mid_batch_restarts_without_a_duplicate(fleet: Fleet) -> None:
    listing = _list(fleet.root, 10)
    for i in range(10):  # every upload is slow, so the kill lands mid-upload
        fleet.proxy.inject(S3Fault("PUT", f"/d{i:02d}-", status=None, delay_s=5.0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    args = [sys.executable, "-m", "sfs_kit", "batch", str(listing),
            *fleet.args("--workers", "2")]
    driver = subprocess.Popen(args, env=env, cwd=fleet.root, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(fleet.standin.tasks) < 2:
        time.sleep(0.02)
    os.kill(driver.pid, signal.SIGKILL)  # the driver only: its workers must die with it
    driver.wait(timeout=30)
    assert 2 <= len(fleet.standin.tasks) < 10
    running = [s for s in Ledger.open(fleet.ledger).states().values() if s.state == "running"]
    assert running  # the ledger saw captures in flight
    deadline = time.monotonic() + 30  # their workers die with the driver (no orphan holds a lock)
    while time.monotonic() < deadline and any(s.pid is None or alive(s.pid) for s in running):
        time.sleep(0.05)
    assert not [s.pid for s in running if s.pid is None or alive(s.pid)]
    fleet.proxy.reset()  # the restart needs no slow uploads

    code = main(["batch", str(listing), *fleet.args("--workers", "2")])
    assert code == 0
    states = Ledger.open(fleet.ledger).states()
    assert [s.state for s in states.values()] == ["done"] * 10
    tasks = fleet.standin.tasks
    assert len(tasks) == 10
    assert len({t["unique_id"] for t in tasks}) == 10
    assert {t["task_id"] for t in tasks} == {s.task_id for s in states.values()}


def test_a_second_driver_on_the_same_ledger_is_refused(fleet: Fleet, capsys: object) -> None:
    listing = _list(fleet.root, 1)
    fleet.ledger.mkdir()
    import fcntl

    with (fleet.ledger / ".batch.lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        code = main(["batch", str(listing), *fleet.args()])
    assert code == 2
    assert "in use by another sfs-kit batch" in capsys.readouterr().err  # type: ignore[attr-defined]
    assert fleet.standin.tasks == []


def test_timeout_fails_only_the_slow_capture(fleet: Fleet, capsys: object) -> None:
    listing = _list(fleet.root, 3)
    fleet.proxy.inject(S3Fault("PUT", "/d01-", status=None, delay_s=30.0))
    code = main(["batch", str(listing), *fleet.args("--workers", "3", "--timeout", "6s",
                                                    "--json")])
    result = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert code == 1
    by_name = {Path(c["path"]).name: c for c in result["captures"]}
    assert by_name["d01.msgpack"]["state"] == "failed"
    assert by_name["d01.msgpack"]["error_class"] == "CaptureTimeout"
    assert "--timeout 6 s" in by_name["d01.msgpack"]["error_message"]
    assert [by_name[n]["state"] for n in ("d00.msgpack", "d02.msgpack")] == ["done", "done"]
    assert len(fleet.standin.tasks) == 2


def test_a_ledger_resumed_with_other_settings_says_which_changed(
    fleet: Fleet, capsys: pytest.CaptureFixture[str],
) -> None:
    listing = _list(fleet.root, 2)
    assert main(["batch", str(listing), *fleet.args("--json")]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == []
    make_capture(fleet.root / "drives" / "d02.msgpack", seed=2)  # one more capture tonight
    listing.write_text("d00.msgpack\nd01.msgpack\nd02.msgpack\n", encoding="utf-8")

    code = main(["batch", str(listing), *fleet.args("--prefix", "morning", "--tag", "secret-x",
                                                    "--json")])
    cap = capsys.readouterr()
    assert cap.out, cap.err
    result = json.loads(cap.out)
    assert (code, result["skipped_done"], result["tasks_created"]) == (0, 2, 1)
    [note] = result["notes"]
    assert note.startswith("settings changed since this ledger's last batch (prefix, tags): "
                           "its 2 done captures keep the tasks made with the earlier settings")
    assert "morning" not in note  # names, never values (a setting may hold a secret)
    assert "secret-x" not in note
    assert fleet.standin.tasks[-1]["tags"] == ["secret-x"]  # the new capture got the new ones

    code = main(["batch", str(listing), *fleet.args("--prefix", "morning", "--tag", "secret-x",
                                                    "--json")])
    assert json.loads(capsys.readouterr().out)["notes"] == []  # the same settings again: quiet
    assert code == 0
    code = main(["batch", str(listing), *fleet.args()])  # a summary shows the note too
    assert "note        settings changed since this ledger's last batch (prefix, tags)" in (
        capsys.readouterr().out)


def test_a_real_batch_after_a_dry_run_submits_every_capture(
    fleet: Fleet, capsys: pytest.CaptureFixture[str],
) -> None:
    listing = _list(fleet.root, 2)
    assert main(["batch", str(listing), *fleet.args("--dry-run", "--json")]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert [c["dry_run"] for c in dry["captures"]] == [True, True]
    assert fleet.standin.tasks == []

    assert main(["batch", str(listing), *fleet.args("--json")]) == 0
    real = json.loads(capsys.readouterr().out)
    assert (real["ran"], real["tasks_created"], real["skipped_done"]) == (2, 2, 0)
    assert [c["dry_run"] for c in real["captures"]] == [False, False]
    assert len(fleet.standin.tasks) == 2
    assert main(["batch", str(listing), *fleet.args("--json")]) == 0  # now done for real
    assert json.loads(capsys.readouterr().out)["ran"] == 0
