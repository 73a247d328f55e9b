"""A night of captures on the local pool, against SeaweedFS (behind a fault proxy) and the stand-in
(the scenario is in ``night.py``; Ray runs the same one in ``test_batch_ray.py``)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from _servers.s3_proxy import S3Fault

from sfs_kit.batch import Ledger
from sfs_kit.cli import main

from .conftest import Fleet, ledger_pid, make_capture
from .night import KILLED, run_night


def _kill_worker(fleet: Fleet, key: str, killed: list[int]) -> None:
    """SIGKILL the worker the ledger records as running the capture (once it records one)."""
    pid = ledger_pid(fleet.ledger, key)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)


def test_a_night_of_captures_with_faults(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    night = run_night(fleet, capsys, ["--workers", "2"], _kill_worker)
    # the killed worker's capture was run again by the driver and finished
    assert night.done[KILLED].attempts == 2
    assert "WorkerLost" in " ".join(night.done[KILLED].history)
    assert "SIGKILL" in " ".join(night.done[KILLED].history)


def _kill_every_attempt(fleet: Fleet, key: str, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL each worker the ledger records for the capture, attempt after attempt."""
    while not stop.is_set():
        pid = ledger_pid(fleet.ledger, key)
        if pid is not None and pid not in killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.02)


def test_a_capture_killed_on_every_attempt_fails_alone(
    fleet: Fleet, capsys: pytest.CaptureFixture[str],
) -> None:
    from sfs_kit.batch import capture_key

    folder = fleet.root / "drives"
    folder.mkdir()
    paths = [make_capture(folder / f"k{i}.msgpack", seed=i) for i in range(4)]
    fleet.proxy.inject(S3Fault("PUT", "/k1-", status=None, delay_s=30.0, times=10))
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_every_attempt, daemon=True,
                              args=(fleet, capture_key(paths[1]), killed, stop))
    killer.start()
    try:
        code = main(["batch", *map(str, paths), *fleet.args("--workers", "2", "--retries", "1")])
    finally:
        stop.set()
        killer.join(timeout=5)
    out = capsys.readouterr().out
    assert code == 1
    assert len(killed) == 2  # the first attempt and the one retry
    states = {p.name: Ledger.open(fleet.ledger).get(capture_key(p)) for p in paths}
    lost = states["k1.msgpack"]
    assert lost is not None
    assert (lost.state, lost.attempts, lost.error_class) == ("failed", 2, "WorkerLost")
    assert "killed by SIGKILL" in (lost.error_message or "")
    assert [s.state for n, s in states.items() if s and n != "k1.msgpack"] == ["done"] * 3
    assert len(fleet.standin.tasks) == 3
    assert "WorkerLost" in out
    assert "k1.msgpack" in out
