"""A night of captures on the local pool, against SeaweedFS (behind a fault proxy) and the stand-in.

40 tiny real captures, 4 broken in different ways; S3 answers 500s, Scale a 429 storm and a 500
after creating a task, and a worker is SIGKILLed mid-capture. The ledger must say 36 done and 4
failed with their reasons, the stand-in must hold exactly 36 tasks, a second batch must upload
nothing and create nothing, and --retry-failed after a fix must make exactly one more task.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from _servers.s3_proxy import S3Fault
from _servers.scale_standin import Fault

from sfs_kit.batch import Ledger, capture_key
from sfs_kit.cli import main

from .conftest import Fleet, ledger_pid, make_capture

GOOD = 36


def _captures(root: Path) -> tuple[Path, dict[str, Path]]:
    """The JSONL list: 36 good captures (some with overrides) and 4 broken ones."""
    folder = root / "drives"
    folder.mkdir()
    rows: list[dict[str, object]] = []
    for i in range(GOOD):
        path = make_capture(folder / f"cap-{i:02d}.msgpack", seed=i)
        row: dict[str, object] = {"capture": str(path.relative_to(root))}
        if i % 9 == 0:
            row.update(tags=["night", f"n{i}"], metadata={"drive": i}, priority=20)
        rows.append(row)
    broken = {
        "garbage": folder / "garbage.msgpack",  # not msgpack at all
        "missing": folder / "gone.msgpack",  # listed, never written
        "nocalib": folder / "nocalib.msgpack",  # points without a calibration record
        "override": make_capture(folder / "badprio.msgpack", seed=99),  # priority 15
    }
    broken["garbage"].write_bytes(b"\xc1\xc1 this is not a msgpack capture")
    import numpy as np

    from sfs_kit.capture.msgpack_stream import MsgpackCaptureWriter

    with MsgpackCaptureWriter(broken["nocalib"]) as writer:
        writer.write_pose(1_000_000, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
        writer.write_points("lidar", 1_000_000, np.zeros((5, 3), "<f4"))
    for name, path in broken.items():
        row = {"capture": str(path)}
        if name == "override":
            row["priority"] = 15
        rows.insert(7 * len(rows) // 40 + 3, row)
    listing = root / "night.jsonl"
    listing.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return listing, broken


def _kill_when_running(ledger: Path, key: str, killed: list[int]) -> None:
    """Wait for the capture's worker to be recorded as running, then SIGKILL it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = ledger_pid(ledger, key)
        if pid is not None:
            time.sleep(0.3)  # inside its (delayed) upload
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


def test_a_night_of_captures_with_faults(fleet: Fleet, capsys: object) -> None:
    listing, broken = _captures(fleet.root)
    drives = fleet.root / "drives"
    # S3: six 500s for one capture's upload (botocore's own retries give up, ours do not), two
    # for another (botocore absorbs them); the first upload of the capture whose worker is killed
    # is held long enough that the kill always lands inside it (its rerun uploads at once).
    fleet.proxy.inject(S3Fault("PUT", "/cap-05-", times=6), S3Fault("PUT", "/cap-06-", times=2),
                       S3Fault("PUT", "/cap-11-", status=None, delay_s=30.0))
    # Scale: a 429 storm, then a 500 after the task was created.
    fleet.standin.inject(*[Fault("rate_limit", path="/v1/task/multistage", retry_after="1")] * 5,
                         Fault("error_after_create", path="/v1/task/multistage"))
    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_running, daemon=True, args=(
        fleet.ledger, capture_key(drives / "cap-11.msgpack"), killed))
    killer.start()

    code = main(["batch", str(listing), *fleet.args("--workers", "2")])
    killer.join(timeout=5)
    out = capsys.readouterr().out  # type: ignore[attr-defined]

    assert code == 1  # some failed
    assert killed, "the worker was never seen running"
    states = Ledger.open(fleet.ledger).states()
    assert len(states) == 40
    done = [s for s in states.values() if s.state == "done"]
    failed = {Path(s.path).name: s for s in states.values() if s.state == "failed"}
    assert len(done) == GOOD
    assert sorted(failed) == sorted(p.name for p in broken.values())
    assert failed["garbage.msgpack"].error_class == "InputError"
    assert "not valid msgpack" in (failed["garbage.msgpack"].error_message or "")
    assert "does not exist" in (failed["gone.msgpack"].error_message or "")
    assert "no lidar calibration record" in (failed["nocalib.msgpack"].error_message or "")
    assert failed["badprio.msgpack"].error_class == "TaskRequestError"
    assert all(not s.transient and s.attempts == 1 for s in failed.values())
    # exactly one task per good capture, every one known to the ledger
    tasks = fleet.standin.tasks
    assert len(tasks) == GOOD
    assert len({t["unique_id"] for t in tasks}) == GOOD
    assert {t["task_id"] for t in tasks} == {s.task_id for s in done}
    by_name = {Path(s.path).name: s for s in done}
    assert by_name["cap-00.msgpack"].step_seconds["submit"] >= 0
    # the killed worker's capture was run again and finished; so was the one S3 failed for
    assert by_name["cap-11.msgpack"].attempts == 2
    assert "SIGKILL" in " ".join(by_name["cap-11.msgpack"].history)
    assert by_name["cap-05.msgpack"].attempts == 2
    assert "StorageServerError" in " ".join(by_name["cap-05.msgpack"].history)
    assert by_name["cap-06.msgpack"].attempts == 1
    # the per-capture overrides reached Scale
    tagged = next(t for t in tasks if t.get("tags") == ["night", "n9"])
    assert tagged["metadata"] == {"drive": 9}
    # the 429 storm slowed every worker: after each 429 (Retry-After 1 s) no task POST from any
    # worker arrived in the rest of that second (one that passed its wait just before the 429 may
    # land a little after it on a loaded machine; none can land later than half a second)
    posts = fleet.standin.posts()
    for limited in posts[:5]:
        early = [p.time_s - limited.time_s for p in posts if 0.5 < p.time_s - limited.time_s < 0.95]
        assert early == [], early
    # the summary's failure table names each broken capture and its class
    assert "failures (4):" in out
    assert "TaskRequestError" in out
    assert "badprio.msgpack" in out

    # a second batch on the same ledger: nothing uploaded, no task (speed: bench_batch.py)
    fleet.proxy.reset()
    posts_before = len(fleet.standin.posts())
    code = main(["batch", str(listing), *fleet.args("--workers", "2", "--json")])
    result = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert code == 1
    assert (result["ran"], result["tasks_created"], result["bytes_uploaded"]) == (0, 0, 0)
    assert result["skipped_done"] == GOOD
    assert fleet.proxy.requests("PUT") == []
    assert len(fleet.standin.posts()) == posts_before

    # fix one broken capture and retry the failed ones: exactly one more task
    broken["garbage"].unlink()  # the writer appends
    make_capture(broken["garbage"], seed=1234)
    code = main(["batch", str(listing), *fleet.args("--workers", "2", "--retry-failed",
                                                    "--json")])
    result = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert code == 1
    assert (result["done"], result["failed"], result["tasks_created"]) == (GOOD + 1, 3, 1)
    assert len(fleet.standin.tasks) == GOOD + 1
    fixed = Ledger.open(fleet.ledger).get(capture_key(broken["garbage"]))
    assert fixed is not None
    assert (fixed.state, fixed.attempts, fixed.error_class) == ("done", 2, None)
