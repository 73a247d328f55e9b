"""The issue's night, shared by the local pool's and Ray's tests.

40 tiny real captures, 4 broken in different ways; S3 answers 500s, Scale a 429 storm and a 500
after creating a task, and the worker running one capture is SIGKILLed inside its upload. The
ledger must say 36 done and 4 failed with their reasons, the stand-in must hold exactly 36 tasks,
a second batch must upload nothing and create nothing, and --retry-failed after a fix must make
exactly one more task.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from _servers.s3_proxy import S3Fault
from _servers.scale_standin import Fault

from sfs_kit.batch import CaptureState, Ledger, capture_key
from sfs_kit.capture.msgpack_stream import MsgpackCaptureWriter
from sfs_kit.cli import main

from .conftest import Fleet, make_capture

GOOD = 36
KILLED = "cap-11.msgpack"  # its worker is SIGKILLed during its first upload
RETRIED = "cap-05.msgpack"  # S3 fails its upload more often than botocore retries
STORM = 4  # 429s in a row, each with Retry-After RETRY_AFTER_S
RETRY_AFTER_S = 2

# kill(fleet, key, killed): SIGKILL the worker running capture ``key`` now and append its pid
# (or, when it cannot find that worker yet, do nothing: it is asked again)
Killer = Callable[[Fleet, str, list[int]], None]


@dataclass
class Night:
    """What the first run left: the ledger's states by file name, and the killed pids."""

    done: dict[str, CaptureState]
    failed: dict[str, CaptureState]
    killed: list[int]


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


def _kill_inside_upload(kill: Killer, fleet: Fleet, key: str, killed: list[int]) -> None:
    """While the killed capture's (held) upload is in flight, have the engine's ``kill`` SIGKILL
    its worker, trying until it has (killed any earlier, its rerun would meet the held upload)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not killed:
        if any(f"/{KILLED.removesuffix('.msgpack')}-" in r.path for r in fleet.proxy.in_flight()):
            kill(fleet, key, killed)
        time.sleep(0.02)


def run_night(fleet: Fleet, capsys: pytest.CaptureFixture[str], engine_args: list[str],
              kill: Killer, *, first_json: bool = False) -> Night:
    """The whole scenario on one engine; returns the first run's ledger for the engine's own
    checks (how a killed worker shows in a capture's history differs between engines). With
    ``first_json`` the first run prints JSON (else its summary is checked)."""
    listing, broken = _captures(fleet.root)
    drives = fleet.root / "drives"
    # S3: six 500s for one capture's upload (botocore's own retries give up, ours do not), two
    # for another (botocore absorbs them); the first upload of the capture whose worker is killed
    # is held long enough that the kill always lands inside it (its rerun uploads at once).
    fleet.proxy.inject(S3Fault("PUT", "/cap-05-", times=6), S3Fault("PUT", "/cap-06-", times=2),
                       S3Fault("PUT", "/cap-11-", status=None, delay_s=30.0))
    # Scale: a 429 storm, then a 500 after the task was created.
    fleet.standin.inject(*[Fault("rate_limit", path="/v1/task/multistage",
                                 retry_after=str(RETRY_AFTER_S))] * STORM,
                         Fault("error_after_create", path="/v1/task/multistage"))
    killed: list[int] = []
    killer = threading.Thread(target=_kill_inside_upload, daemon=True,
                              args=(kill, fleet, capture_key(drives / KILLED), killed))
    killer.start()
    code = main(["batch", str(listing), *fleet.args(*engine_args, *(["--json"] * first_json))])
    killer.join(timeout=5)
    out = capsys.readouterr().out

    assert code == 1  # some failed
    assert killed, "the killed capture's worker was never seen running"
    states = Ledger.open(fleet.ledger).states()
    assert len(states) == 40
    done = {Path(s.path).name: s for s in states.values() if s.state == "done"}
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
    assert {t["task_id"] for t in tasks} == {s.task_id for s in done.values()}
    # the ledger's record of a done capture: what Scale got, what S3 holds, how long each step took
    record = done["cap-01.msgpack"]
    task = next(t for t in tasks if t["task_id"] == record.task_id)
    assert record.unique_id == task["unique_id"]
    assert len(record.content_sha256 or "") == 64
    assert datetime.fromisoformat(record.urls_expire_at or "") > datetime.now(UTC)
    assert record.bytes_uploaded > 1000
    assert {"convert", "upload", "submit"} <= set(record.step_seconds)
    # S3 failed one capture past botocore's retries: ours ran it again; botocore absorbed two
    assert done[RETRIED].attempts == 2
    assert "StorageServerError" in " ".join(done[RETRIED].history)
    assert done["cap-06.msgpack"].attempts == 1
    # the per-capture overrides reached Scale
    tagged = next(t for t in tasks if t.get("tags") == ["night", "n9"])
    assert tagged["metadata"] == {"drive": 9}
    # the 429 storm slowed every worker: after each 429 (Retry-After 2 s) no task POST from any
    # worker arrived in the second half of those 2 s (a worker that passed its wait just before
    # the 429 was shared may post a little after it on a loaded machine, never a second later)
    posts = fleet.standin.posts()
    for limited in posts[:STORM]:
        early = [p.time_s - limited.time_s for p in posts
                 if RETRY_AFTER_S / 2 < p.time_s - limited.time_s < RETRY_AFTER_S - 0.05]
        assert early == [], early
    if first_json:  # stdout is the JSON document alone, though a worker died meanwhile
        result = json.loads(out)
        assert (result["done"], result["failed"], result["tasks_created"]) == (GOOD, 4, GOOD)
    else:  # the summary's failure table names each broken capture and its class
        assert "failures (4):" in out
        assert "TaskRequestError" in out
        assert "badprio.msgpack" in out

    # a second batch on the same ledger: nothing uploaded, no task (speed: bench_batch.py)
    fleet.proxy.reset()
    posts_before = len(fleet.standin.posts())
    code = main(["batch", str(listing), *fleet.args(*engine_args, "--json")])
    result = json.loads(capsys.readouterr().out)  # stdout holds the JSON document only
    assert code == 1
    assert (result["ran"], result["tasks_created"], result["bytes_uploaded"]) == (0, 0, 0)
    assert result["skipped_done"] == GOOD
    assert fleet.proxy.requests("PUT") == []
    assert len(fleet.standin.posts()) == posts_before

    # fix one broken capture and retry the failed ones: exactly one more task
    broken["garbage"].unlink()  # the writer appends
    make_capture(broken["garbage"], seed=1234)
    code = main(["batch", str(listing), *fleet.args(*engine_args, "--retry-failed", "--json")])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (result["done"], result["failed"], result["tasks_created"]) == (GOOD + 1, 3, 1)
    assert len(fleet.standin.tasks) == GOOD + 1
    fixed = Ledger.open(fleet.ledger).get(capture_key(broken["garbage"]))
    assert fixed is not None
    assert (fixed.state, fixed.attempts, fixed.error_class) == ("done", 2, None)
    return Night(done, failed, killed)
