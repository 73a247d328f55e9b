"""Start-up: ``--version`` and ``--help`` import no heavy dependency and answer fast.

Timed against a bare interpreter in the same test (medians of a few runs), so a loaded machine
moves both figures; the import check is exact."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "numpy", "pydantic", "msgpack", "urllib3", "rich")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _median_s(argv: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=_env(), check=True, capture_output=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag: str) -> None:
    code = ("import sys\nfrom sfs_kit.cli import main\n"
            f"main([{flag!r}])\n"
            "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], env=_env(), check=True,
                          capture_output=True, text=True, timeout=60)
    loaded = set(done.stdout.strip().splitlines()[-1].split(","))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_start_fast(flag: str) -> None:
    bare = _median_s([sys.executable, "-c", "pass"])
    ours = _median_s([sys.executable, "-m", "sfs_kit", flag])
    # 0.2 s on a quiet machine; a loaded one slows the bare interpreter too, so allow for it
    bound = 0.2 + 3 * bare
    assert ours < bound, f"sfs-kit {flag}: {ours:.3f} s (bare python {bare:.3f} s)"
