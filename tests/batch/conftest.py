"""Batch fixtures: tiny real captures, SeaweedFS behind a fault proxy, the stand-in, CLI args."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _servers.s3_proxy import S3FaultProxy
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.capture.msgpack_stream import MsgpackCaptureWriter

__all__ = ["API_KEY", "Fleet", "make_capture"]


def make_capture(path: Path, seed: int, *, points: int = 40) -> Path:
    """A tiny valid msgpack capture: one lidar, two sweeps, two poses (about 1.5 kB)."""
    rng = np.random.default_rng(seed)
    with MsgpackCaptureWriter(path) as writer:
        writer.write_calibration("lidar", "lidar", np.eye(4))
        writer.write_pose(1_000_000, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
        writer.write_pose(1_200_000, [1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
        for k in range(2):
            writer.write_points("lidar", 1_000_000 + 100_000 * k,
                                rng.normal(size=(points, 3)).astype("<f4"))
    return path


@dataclass
class Fleet:
    """Where a batch test's pieces are: the stand-in, the S3 proxy, the bucket, the folders."""

    standin: ScaleStandin
    proxy: S3FaultProxy
    bucket: str
    root: Path

    @property
    def ledger(self) -> Path:
        return self.root / "ledger"

    def args(self, *extra: str) -> list[str]:
        """``--out LEDGER --bucket ... --project ...`` and ``extra``."""
        return ["--out", str(self.ledger), "--bucket", self.bucket, "--prefix", "night",
                "--endpoint-url", self.proxy.endpoint_url, "--project", "proj", *extra]


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_server: SeaweedServer) -> SeaweedServer:
    """The test server's credentials and the stand-in's key in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    return s3_server


@pytest.fixture
def fleet(tmp_path: Path, s3_env: SeaweedServer, s3_bucket: str, scale_standin: ScaleStandin,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """A proxy in front of SeaweedFS, the stand-in's key and URL in the environment."""
    monkeypatch.setenv("SCALE_API_KEY", API_KEY)
    monkeypatch.setenv("SCALE_API_BASE_URL", scale_standin.base_url)
    monkeypatch.chdir(tmp_path)
    proxy = S3FaultProxy(s3_env.endpoint_url)
    try:
        yield Fleet(scale_standin, proxy, s3_bucket, tmp_path)
    finally:
        proxy.stop()


def ledger_pid(ledger: Path, key: str) -> int | None:
    """The pid the ledger records for a running capture, if any."""
    from sfs_kit.batch import Ledger

    if not (ledger / "sfs-kit-ledger.bin").exists():
        return None
    state = Ledger.open(ledger).get(key)
    return state.pid if state is not None and state.state == "running" else None


def alive(pid: int) -> bool:
    """True while the local engine's worker ``pid`` runs: a zombie (killed, not yet reaped) is not
    alive, nor is a reused pid that is no forkserver child."""
    import psutil

    try:
        process = psutil.Process(pid)
        return (process.status() != psutil.STATUS_ZOMBIE
                and "forkserver" in " ".join(process.cmdline()))
    except psutil.Error:
        return False
