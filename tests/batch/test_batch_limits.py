"""Fleet-wide limits on the local pool (file slots; Ray's actor: test_batch_ray.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _servers.s3_proxy import S3Fault

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
    if limit is None:  # each create waits (20 s at most) for the other worker's: they overlap
        fleet.standin.set_latency(20.0, until_peak=2)
    else:  # each create takes a while, so two workers would overlap but for the limit
        fleet.standin.set_latency(0.4)
    extra = ["--max-submits", str(limit)] if limit else []
    assert main(["batch", *paths, *fleet.args("--workers", "2", *extra)]) == 0
    assert len(fleet.standin.tasks) == 4
    assert fleet.standin.peak_creating == (limit or 2)


@pytest.mark.parametrize("limit", [None, 1])
def test_max_uploads_caps_concurrent_uploads(fleet: Fleet, limit: int | None) -> None:
    paths = _captures(fleet.root, 4)
    for i in range(4):  # as above: uploads that wait for each other, or merely take a while
        fleet.proxy.inject(S3Fault("PUT", f"/r{i:02d}-", status=None, delay_s=0.4) if limit
                           else S3Fault("PUT", f"/r{i:02d}-", status=None, delay_s=20.0,
                                        until_peak=2))
    extra = ["--max-uploads", str(limit)] if limit else []
    assert main(["batch", *paths, *fleet.args("--workers", "2", *extra)]) == 0
    assert fleet.proxy.peak("PUT") == (limit or 2)
