"""Fleet-wide limits on the local pool (file slots) and the same batch on a real local Ray."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _servers.s3_proxy import S3Fault
from _servers.scale_standin import Fault

from sfs_kit.batch import Ledger
from sfs_kit.cli import main

from .conftest import Fleet, make_capture


def _captures(root: Path, count: int, *, broken: int = 0) -> list[str]:
    folder = root / "drives"
    folder.mkdir()
    paths = [str(make_capture(folder / f"r{i:02d}.msgpack", seed=i)) for i in range(count)]
    for i in range(broken):
        bad = folder / f"broken{i}.msgpack"
        bad.write_bytes(b"\xc1 not a capture")
        paths.append(str(bad))
    return paths


@pytest.mark.parametrize("limit", [None, 1])
def test_max_submits_caps_concurrent_task_requests(fleet: Fleet, limit: int | None) -> None:
    paths = _captures(fleet.root, 4)
    fleet.standin.set_latency(0.4)  # each create takes a while, so two workers would overlap
    extra = ["--max-submits", str(limit)] if limit else []
    assert main(["batch", *paths, *fleet.args("--workers", "2", *extra)]) == 0
    assert len(fleet.standin.tasks) == 4
    assert fleet.standin.peak_creating == (limit or 2)


@pytest.mark.parametrize("limit", [None, 1])
def test_max_uploads_caps_concurrent_uploads(fleet: Fleet, limit: int | None) -> None:
    paths = _captures(fleet.root, 4)
    for i in range(4):
        fleet.proxy.inject(S3Fault("PUT", f"/r{i:02d}-", status=None, delay_s=0.4))
    extra = ["--max-uploads", str(limit)] if limit else []
    assert main(["batch", *paths, *fleet.args("--workers", "2", *extra)]) == 0
    assert fleet.proxy.peak("PUT") == (limit or 2)


@pytest.fixture(scope="session")
def local_ray() -> Iterator[Any]:
    """One real local Ray per test session (2 CPUs, loopback only)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _json(out: str) -> Any:
    """The CLI's JSON document (Ray's raylet may print a line about a lost worker before it)."""
    return json.loads(out[out.index("\n{") + 1:] if not out.startswith("{") else out)


def _kill_a_ray_worker(fleet: Fleet, killed: list[int]) -> None:
    """SIGKILL the Ray worker running r04 during its slow upload (found by its process title,
    the task name ``sfs_kit:r04.msgpack:<key>``): Ray runs that task again on a new worker (a
    system failure), and the capture still gets one task."""
    import psutil

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any("/r04-" in r.path for r in fleet.proxy.in_flight()):
            for process in psutil.process_iter(["cmdline"]):
                if "ray::sfs_kit:r04.msgpack:" in " ".join(process.info["cmdline"] or []):
                    os.kill(process.pid, signal.SIGKILL)
                    killed.append(process.pid)
                    return
        time.sleep(0.05)


def test_batch_on_ray(fleet: Fleet, local_ray: Any, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _captures(fleet.root, 5, broken=1)
    fleet.standin.inject(Fault("rate_limit", path="/v1/task/multistage", retry_after="1"),
                         Fault("error_after_create", path="/v1/task/multistage"))
    fleet.proxy.inject(S3Fault("PUT", "/r02-", times=6),  # our retry, after botocore's
                       S3Fault("PUT", "/r04-", status=None, delay_s=30.0))  # killed inside
    fleet.standin.set_latency(0.3)
    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_ray_worker, args=(fleet, killed), daemon=True)
    killer.start()
    code = main(["batch", *paths, *fleet.args("--engine", "ray", "--max-submits", "1",
                                               "--json")])
    killer.join(timeout=5)
    result = _json(capsys.readouterr().out)
    assert killed, "no Ray worker was seen running the slow capture"
    assert code == 1
    assert (result["engine"], result["done"], result["failed"]) == ("ray", 5, 1)
    assert result["tasks_created"] == 5
    assert len(fleet.standin.tasks) == 5
    assert fleet.standin.peak_creating == 1  # the limits actor held every worker to one
    states = {Path(s.path).name: s for s in Ledger.open(fleet.ledger).states().values()}
    assert states["broken0.msgpack"].error_class == "InputError"
    assert states["r02.msgpack"].attempts == 2
    assert local_ray.is_initialized()  # a Ray the batch did not start is left running

    code = main(["batch", *paths, *fleet.args("--engine", "ray", "--json")])
    again = _json(capsys.readouterr().out)
    assert (code, again["ran"], again["tasks_created"], again["bytes_uploaded"]) == (1, 0, 0, 0)
    assert len(fleet.standin.tasks) == 5
