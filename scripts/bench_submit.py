"""Benchmark: creating multi-stage tasks against the local stand-in, ours vs the scaleapi SDK.

Run by hand: ``.venv/bin/python scripts/bench_submit.py``. Measures the client-side cost per create
(validation, serialisation, HTTP round trip on loopback); ours reuses one connection pool, the SDK
opens a new session per request. Prints medians over repeats, the ratio and machine facts.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from sfs_kit.submit import ScaleClient, TaskRequest

# The stand-in lives with the tests (outside mypy's import path for scripts): load it by path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
_standin = importlib.import_module("_servers.scale_standin")
API_KEY: str = _standin.API_KEY
ScaleStandin: Any = _standin.ScaleStandin

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import scaleapi
    from scaleapi.tasks import TaskType

CREATES = 200
REPEATS = 5
PARAMS = {"project": "bench", "attachments": [f"https://b.example/f{i}.json" for i in range(50)],
          "scene_format": "split_base64", "metadata": {"k": "v" * 2000}, "tags": ["a", "b"]}


def _ours(standin: Any, run: int) -> float:
    client = ScaleClient(API_KEY, base_url=standin.base_url)
    start = time.perf_counter()
    for i in range(CREATES):
        client.create_multistage_task(TaskRequest(**PARAMS, unique_id=f"o{run}-{i}"))
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed / CREATES


def _sdk(standin: Any, run: int) -> float:
    sdk = scaleapi.ScaleClient(API_KEY, api_instance_url=f"{standin.base_url}/v1")
    start = time.perf_counter()
    for i in range(CREATES):
        sdk.create_task(TaskType.MultiStage, **PARAMS, unique_id=f"s{run}-{i}")
    return (time.perf_counter() - start) / CREATES


def main() -> None:
    ours: list[float] = []
    sdk: list[float] = []
    with ScaleStandin() as standin:
        _ours(standin, -1)  # warm up both
        _sdk(standin, -1)
        for run in range(REPEATS):
            ours.append(_ours(standin, run))
            sdk.append(_sdk(standin, run))
            standin.clear()
    ours_ms = statistics.median(ours) * 1e3
    sdk_ms = statistics.median(sdk) * 1e3
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}, boto3 {boto3.__version__}, scaleapi {scaleapi.__version__}")
    print(f"creates per repeat: {CREATES}, repeats: {REPEATS}")
    print(f"sfs_kit ScaleClient: median {ours_ms:.3f} ms per create")
    print(f"scaleapi SDK:        median {sdk_ms:.3f} ms per create")
    print(f"ratio (sdk / ours):  {sdk_ms / ours_ms:.2f}x")


if __name__ == "__main__":
    main()
