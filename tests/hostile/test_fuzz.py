"""The fuzz campaign the project owns (scripts/fuzz_inputs.py): a short seeded run is part of the
suite, its classifier is shown to catch each bug class, and a hypothesis property feeds mutated
inputs of every kind to the public readers in-process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfs_kit.errors import SfsKitError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_inputs.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_inputs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_inputs"] = module
    spec.loader.exec_module(module)
    return module


fuzz = _load()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seeds")
    fuzz.build_seeds(root)
    return root


def test_short_seeded_campaign_finds_no_bug() -> None:
    kinds = len(fuzz.KINDS)
    count = len(fuzz.SPECIALS) * kinds + 4 * kinds
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", str(count), "--seed", "9", "--jobs", "2",
         "--timeout", "120", "--json"],
        capture_output=True, text=True, timeout=900, check=False)
    summary = json.loads(done.stdout)
    assert summary["examples"] == [], summary["examples"]
    assert done.returncode == 0
    assert set(summary["counts"]) == {kind.name for kind in fuzz.KINDS}
    assert sum(summary["totals"].values()) == count
    assert summary["totals"]["clean"] >= len(fuzz.SPECIALS) * kinds


def test_every_seed_is_a_valid_input(seeds: Path, tmp_path: Path) -> None:
    for kind in fuzz.KINDS:
        data = (seeds / kind.seed).read_bytes()
        result = fuzz.run_case(kind, seeds, tmp_path, data, None, 512 << 20)
        assert result["outcome"] == "accepted", (kind.name, result)


def test_the_classifier_catches_each_bug_class(
    seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = fuzz.KIND_BY_NAME["pcd_binary"]
    data = (seeds / kind.seed).read_bytes()

    def boom(*_: object) -> None:
        raise ValueError("a bare error")

    monkeypatch.setattr(fuzz, "_entry", boom)
    assert fuzz.run_case(kind, seeds, tmp_path, data, None, 512 << 20)["outcome"] == "traceback"

    def echo(*_: object) -> None:
        raise SfsKitError(f"secret {fuzz.FAKE_SECRET}")

    monkeypatch.setattr(fuzz, "_entry", echo)
    assert fuzz.run_case(kind, seeds, tmp_path, data, None, 512 << 20)["outcome"] == "bad-msg"

    def grow(*_: object) -> None:
        block = bytearray(64 << 20)
        block[::4096] = b"x" * len(block[::4096])

    monkeypatch.setattr(fuzz, "_entry", grow)
    assert fuzz.run_case(kind, seeds, tmp_path, data, None, 16 << 20)["outcome"] == "blow-up"


def test_a_hang_is_reported_and_the_worker_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = [fuzz.KIND_BY_NAME["manifest_yaml"]]
    summary = fuzz.campaign(seed=1, count=1, jobs=1, timeout=0.01, memory_mb=3072,
                            budget_mb=512, kinds=kinds, keep=None)
    assert summary.totals()["hang"] == 1


def _mutated(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for pos, bit in flips:
        if out:
            out[pos % len(out)] ^= 1 << bit
    return bytes(out[:cut] if cut is not None else out)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(kind=st.sampled_from([k for k in fuzz.KINDS if k.folder is None]),
       flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), max_size=8),
       cut=st.none() | st.integers(0, 4096))
def test_no_exception_but_ours_leaves_a_reader(
    seeds: Path, tmp_path_factory: pytest.TempPathFactory, kind: object,
    flips: list[tuple[int, int]], cut: int | None,
) -> None:
    case_dir = tmp_path_factory.mktemp("case")
    data = _mutated((seeds / kind.seed).read_bytes(), flips, cut)  # type: ignore[attr-defined]
    path = fuzz._prepare(kind, seeds, case_dir, data, None)
    message = ""
    try:
        fuzz._entry(kind, path, case_dir)
    except SfsKitError as err:  # anything else fails the property
        message = str(err)
    assert len(message) < fuzz.MAX_MESSAGE
