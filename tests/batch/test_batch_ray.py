"""The same night on a real local Ray cluster (started by the test, 2 CPUs, loopback only), a
driver killed mid-batch on it, and a batch that starts (and stops) a Ray of its own under
fleet-wide limits."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from _servers.s3_proxy import S3Fault

from sfs_kit.batch import Ledger
from sfs_kit.cli import main

from .conftest import Fleet, make_capture
from .night import KILLED, run_night

REPO = Path(__file__).resolve().parents[2]
_CLUSTER = """
import sys, ray
ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
         configure_logging=False)
print("127.0.0.1:" + ray.get_runtime_context().gcs_address.rsplit(":", 1)[1],
      int(ray.cluster_resources()["memory"]), flush=True)
sys.stdin.read()  # until the test closes our stdin
ray.shutdown()
"""


_TOKEN = secrets.token_hex(16)  # the test cluster's own token (no ~/.ray/auth_token)


@pytest.fixture(autouse=True)
def _ray_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's token authentication with the test's token, in this process only for the test."""
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", _TOKEN)


@dataclass(frozen=True)
class RayCluster:
    address: str
    memory_bytes: int  # Ray's "memory" resource of the cluster (its one node)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A Ray cluster in a process of its own, as a user's would be."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": _TOKEN}
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen([sys.executable, "-c", _CLUSTER], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert head.stdin is not None
    assert head.stdout is not None
    try:
        line = head.stdout.readline().split()
        assert len(line) == 2, "the Ray cluster did not start"
        yield RayCluster(line[0], int(line[1]))
    finally:
        head.stdin.close()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        head.stdout.close()


def _kill_ray_worker(fleet: Fleet, key: str, killed: list[int]) -> None:
    """SIGKILL the Ray worker running the capture, found by its process title (the task's name,
    ``ray::sfs_kit:<file>:<key>``)."""
    title = f"ray::sfs_kit:{KILLED}:{key}"
    for process in psutil.process_iter(["cmdline"]):
        if title in " ".join(process.info["cmdline"] or []):
            os.kill(process.pid, signal.SIGKILL)
            killed.append(process.pid)
            return


def test_a_night_of_captures_on_ray(fleet: Fleet, ray_cluster: RayCluster,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    night = run_night(fleet, capsys, ["--engine", "ray", "--ray-address", ray_cluster.address],
                      _kill_ray_worker, first_json=True)  # where Ray's notice once leaked
    # Ray ran the killed worker's task again itself (a system failure): one attempt in the ledger
    assert night.done[KILLED].attempts == 1


def _ray_processes() -> dict[int, str]:
    """This process's descendants that are Ray's node processes, by pid."""
    found: dict[int, str] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and child.name() in ("raylet", "gcs_server"):
                found[child.pid] = child.name()
        except psutil.Error:
            pass
    return found


def _watch_ray(seen: dict[int, str], stop: threading.Event) -> None:
    """Note the Ray node processes that run while the batch runs, until ``stop``."""
    while not stop.wait(0.1):
        seen.update(_ray_processes())


def test_batch_starts_its_own_ray_under_fleet_limits(
    fleet: Fleet, ray_cluster: RayCluster, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # and a cluster is running: not ours to use
    folder = fleet.root / "drives"
    folder.mkdir()
    paths = [str(make_capture(folder / f"o{i}.msgpack", seed=i)) for i in range(4)]
    for i in range(4):  # uploads and creates that take a while, so two workers would overlap
        fleet.proxy.inject(S3Fault("PUT", f"/o{i}-", status=None, delay_s=0.4))
    fleet.standin.set_latency(0.4)
    cluster = _ray_processes()  # the test cluster's, which the batch must not use
    seen: dict[int, str] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_ray, args=(seen, stop), daemon=True)
    watcher.start()
    try:
        code = main(["batch", *paths, *fleet.args("--engine", "ray", "--max-uploads", "1",
                                                   "--max-submits", "1", "--json")])
    finally:
        stop.set()
        watcher.join(timeout=5)
    result = json.loads(capsys.readouterr().out)
    assert (code, result["engine"], result["done"], result["tasks_created"]) == (0, "ray", 4, 4)
    assert len(fleet.standin.tasks) == 4
    assert fleet.proxy.peak("PUT") == 1  # the limits actor held both Ray workers to one upload
    assert fleet.standin.peak_creating == 1  # and to one task request
    ours = {pid: name for pid, name in seen.items() if pid not in cluster}
    assert set(ours.values()) == {"gcs_server", "raylet"}  # the batch started a Ray of its own
    assert not ray.is_initialized()  # and shut it down: nothing of it is left running
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(ours) & set(_ray_processes()):
        time.sleep(0.1)
    assert not set(ours) & set(_ray_processes())


def _ray_workers_on(prefix: str) -> list[int]:
    """Pids of Ray workers whose title says they run a capture whose file starts with ``prefix``."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if f"ray::sfs_kit:{prefix}" in " ".join(process.info["cmdline"] or []):
            found.append(process.pid)
    return found


def test_a_driver_killed_mid_batch_on_ray_restarts_without_a_duplicate(
    fleet: Fleet, ray_cluster: RayCluster,
) -> None:
    folder = fleet.root / "drives"
    folder.mkdir()
    paths = [str(make_capture(folder / f"k{i}.msgpack", seed=i)) for i in range(6)]
    for i in range(2, 6):  # the later uploads are held until the driver is gone
        fleet.proxy.inject(S3Fault("PUT", f"/k{i}-", status=None, delay_s=30.0))
    args = [sys.executable, "-m", "sfs_kit", "batch", *paths,
            *fleet.args("--engine", "ray", "--ray-address", ray_cluster.address)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    driver = subprocess.Popen(args, env=env, cwd=fleet.root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (
            len(fleet.standin.tasks) >= 2
            and any("/k" in r.path for r in fleet.proxy.in_flight())):
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)  # the driver only: Ray stops the tasks it owned
    driver.wait(timeout=30)
    assert 2 <= len(fleet.standin.tasks) < 6
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _ray_workers_on("k"):
        time.sleep(0.1)
    assert _ray_workers_on("k") == []  # no worker goes on uploading for a dead driver
    running = [s for s in Ledger.open(fleet.ledger).states().values() if s.state == "running"]
    assert running  # the ledger saw captures in flight
    fleet.proxy.reset()  # the restart needs no held uploads

    assert main(["batch", *paths, *fleet.args("--engine", "ray", "--ray-address",
                                               ray_cluster.address)]) == 0
    states = Ledger.open(fleet.ledger).states()
    assert [s.state for s in states.values()] == ["done"] * 6
    tasks = fleet.standin.tasks
    assert len(tasks) == 6
    assert len({t["unique_id"] for t in tasks}) == 6
    assert {t["task_id"] for t in tasks} == {s.task_id for s in states.values()}


def test_ray_places_each_capture_by_its_memory_hint(
    fleet: Fleet, ray_cluster: RayCluster, capsys: pytest.CaptureFixture[str],
) -> None:
    """Half a CPU each, but 60 % of the cluster's memory each: Ray runs one capture at a time.
    (A CPU hint alone would not show it: Ray lends a task's CPUs to another while the task waits
    in ``ray.get``, as it does for the limits actor; memory it keeps reserved.)"""
    folder = fleet.root / "drives"
    folder.mkdir()
    paths = [str(make_capture(folder / f"h{i}.msgpack", seed=i)) for i in range(2)]
    for i in range(2):  # each upload waits (3 s at most) for the other: they overlap if they can
        fleet.proxy.inject(S3Fault("PUT", f"/h{i}-", status=None, delay_s=3.0, until_peak=2))
    memory = str(int(ray_cluster.memory_bytes * 0.6))
    assert main(["batch", *paths, *fleet.args("--engine", "ray", "--ray-address",
                                              ray_cluster.address, "--workers", "2",
                                              "--ray-num-cpus", "0.5", "--ray-memory", memory,
                                              "--json")]) == 0
    assert json.loads(capsys.readouterr().out)["done"] == 2
    assert fleet.proxy.peak("PUT") == 1
