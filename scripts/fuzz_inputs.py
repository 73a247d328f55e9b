"""Fuzz every input kind sfs_kit reads: seeded mutations of a valid file, run in worker processes.

Each case takes a valid seed file of one kind (``_fuzz_kinds.py``: point clouds in every format,
images, poses, calibrations, manifests, timestamps, a msgpack stream, frame JSON, .sfs, every file
of a KITTI drive and of a Scale toolkit folder, a video camera's MP4, ROS 1 / ROS 2 / MCAP
recordings and a manifest naming one, the batch's capture lists and ledger, the run journal,
``sfs-kit.toml``), mutates it (bit flips, byte edits, truncation, insertions, header field edits,
huge and negative counts, deep nesting, NaN/inf, long tokens, duplicate lines, non-UTF-8 bytes;
for journals also a record's values edited and its CRC re-sealed) or replaces it by a
non-regular file (FIFO, symlink to /dev/zero or /proc/self/environ, a folder), and runs the public
entry point that reads that kind in a worker subprocess under a memory limit and a per-case time
limit. Outcomes:

  clean      an SfsKitError (short, one line, no secret)        - what hostile input must give
  accepted   no error (the mutation kept the file valid, or the reader tolerated it)
  traceback  any other exception (or a worker crash)              - a bug
  hang       the case ran past the time limit                     - a bug
  blow-up    MemoryError, or peak RSS grew past the memory budget - a bug
  bad-msg    an SfsKitError echoing a long token, a newline or a secret - a bug

Usage: ``python scripts/fuzz_inputs.py --cases 10000 --seed 1 --jobs 2`` prints counts per kind
and outcome, and the first examples of every bug class (``--keep DIR`` saves their inputs).
``--json`` prints the summary as JSON (the test suite runs a short seeded campaign this way).
Exit status 1 when any traceback, hang, blow-up or bad message was seen.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fuzz_kinds import KIND_BY_NAME, KINDS, ROOT, Kind, build_seeds
from _fuzz_kinds import entry as _entry

__all__ = ["KINDS", "KIND_BY_NAME", "ROOT", "Kind", "build_seeds", "campaign", "main", "run_case"]
FAKE_SECRET = "fuzz-secret-Zq8vN3xK"
BUGS = ("traceback", "hang", "blow-up", "bad-msg")
OUTCOMES = ("clean", "accepted", *BUGS)
MAX_MESSAGE = 1200

# --- mutations ---------------------------------------------------------------------------------

EXTREME_NUMBERS = ("-1", "0", "-0", "4294967296", "18446744073709551616", "9" * 25,
                   "1" + "0" * 400, "nan", "NaN", "inf", "-inf", ".inf", "1e999", "-1e308",
                   "2147483648", "65536", "1\u0661", "1_0", "0x7fffffff", "3.", "1e-400")
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _positions(rng: random.Random, size: int, count: int) -> list[int]:
    return [rng.randrange(max(size, 1)) for _ in range(count)]


def _bitflip(rng: random.Random, data: bytearray, text: bool) -> str:
    flips = rng.choice((1, 1, 2, 4, 16))
    for pos in _positions(rng, len(data), flips):
        if data:
            data[pos] ^= 1 << rng.randrange(8)
    return f"bitflip x{flips}"


def _bytes_set(rng: random.Random, data: bytearray, text: bool) -> str:
    value = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    count = rng.choice((1, 4, 8))
    for pos in _positions(rng, len(data), count):
        if data:
            data[pos] = value
    return f"set {count} bytes to {value:#04x}"


def _truncate(rng: random.Random, data: bytearray, text: bool) -> str:
    cut = rng.randrange(len(data) + 1)
    del data[cut:]
    return f"truncate at {cut}"


def _insert(rng: random.Random, data: bytearray, text: bool) -> str:
    pos = rng.randrange(len(data) + 1)
    blob = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 4, 12, 64))))
    data[pos:pos] = blob
    return f"insert {len(blob)} bytes at {pos}"


def _delete(rng: random.Random, data: bytearray, text: bool) -> str:
    if not data:
        return "delete nothing"
    pos = rng.randrange(len(data))
    size = rng.choice((1, 4, 16, 100))
    del data[pos:pos + size]
    return f"delete {size} bytes at {pos}"


def _duplicate_range(rng: random.Random, data: bytearray, text: bool) -> str:
    if not data:
        return "duplicate nothing"
    pos = rng.randrange(len(data))
    size = rng.choice((4, 16, 64, 256))
    data[pos:pos] = data[pos:pos + size]
    return f"duplicate {size} bytes at {pos}"


def _number_edit(rng: random.Random, data: bytearray, text: bool) -> str:
    window = bytes(data[:4096]) if not text else bytes(data)
    matches = list(_NUMBER.finditer(window))
    if not matches:
        return _bitflip(rng, data, text)
    match = rng.choice(matches)
    value = rng.choice(EXTREME_NUMBERS)
    data[match.start():match.end()] = value.encode()
    return f"number {match.group().decode(errors='replace')!r} at {match.start()} -> {value!r}"


def _field_overwrite(rng: random.Random, data: bytearray, text: bool) -> str:
    if len(data) < 8:
        return _truncate(rng, data, text)
    width = rng.choice((1, 2, 4, 8))
    pos = rng.randrange(0, min(len(data), 512) - width + 1)
    value = rng.choice((0, 1, 2**(8 * width) - 1, 2**(8 * width - 1), 2**(8 * width - 1) - 1,
                        rng.randrange(2**(8 * width))))
    data[pos:pos + width] = value.to_bytes(width, "little")
    return f"u{8 * width} at {pos} -> {value}"


def _float_overwrite(rng: random.Random, data: bytearray, text: bool) -> str:
    if len(data) < 8:
        return _truncate(rng, data, text)
    pos = rng.randrange(0, len(data) - 3) & ~3
    value = rng.choice((float("nan"), float("inf"), -float("inf"), 3e38, -3e38, 1e-45))
    data[pos:pos + 4] = struct.pack("<f", value)
    return f"f32 at {pos} -> {value}"


def _long_token(rng: random.Random, data: bytearray, text: bool) -> str:
    pos = rng.randrange(len(data) + 1)
    size = rng.choice((300, 70_000, 1_000_000))
    data[pos:pos] = rng.choice((b"A", b"7", b"\x00", b"[")) * size
    return f"long token of {size} at {pos}"


def _deep_nesting(rng: random.Random, data: bytearray, text: bool) -> str:
    depth = rng.choice((65, 200, 5_000, 200_000))
    opener, closer = rng.choice(((b"[", b"]"), (b"{\"a\":", b"}"), (b"- ", b"")))
    pos = rng.randrange(len(data) + 1)
    blob = opener * depth + (b"1" + closer * depth if closer else b"1")
    if opener == b"- ":  # YAML block sequences nest by indentation
        blob = b"\n" + b"".join(b"  " * k + b"-\n" for k in range(min(depth, 3000))) + b"\n"
    data[pos:pos] = blob
    return f"nesting {depth} deep at {pos}"


def _lines(rng: random.Random, data: bytearray, text: bool) -> str:
    lines = bytes(data).split(b"\n")
    if len(lines) < 2:
        return _insert(rng, data, text)
    op = rng.choice(("delete", "duplicate", "swap", "blank", "control"))
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "blank":
        lines[i] = b""
    else:
        lines[i] = lines[i] + rng.choice((b"\x00", b"\x1b[2J", b"\r", b"\xff\xfe", b"\t\x0b"))
    data[:] = b"\n".join(lines)
    return f"line {op} {i}"


def _encoding(rng: random.Random, data: bytearray, text: bool) -> str:
    pos = rng.randrange(len(data) + 1)
    blob = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", "\u2028".encode(),
                       "\u0661\u0662".encode(), "\ufeff".encode()))
    data[pos:pos] = blob
    return f"encoding {blob!r} at {pos}"


BINARY_MUTATORS: tuple[Callable[[random.Random, bytearray, bool], str], ...] = (
    _bitflip, _bitflip, _bytes_set, _truncate, _insert, _delete, _duplicate_range,
    _number_edit, _field_overwrite, _field_overwrite, _float_overwrite, _long_token,
)
TEXT_MUTATORS: tuple[Callable[[random.Random, bytearray, bool], str], ...] = (
    _bitflip, _truncate, _insert, _delete, _number_edit, _number_edit, _number_edit,
    _long_token, _deep_nesting, _lines, _lines, _encoding, _duplicate_range,
)
SPECIALS = ("fifo", "dev_zero", "proc_environ", "folder", "empty", "long_name")


# A journal (the run's, the batch ledger) is MAGIC then records "RC" u32 length, u32 crc32,
# msgpack payload: a flipped byte fails its CRC, so half the cases edit one record's values and
# re-seal it, reaching the code that trusts what a sound record says.
_JOURNAL_MAGIC_SIZE = 8
_RECORD_HEAD = struct.Struct("<2sII")
HOSTILE_VALUES: tuple[object, ...] = (
    None, True, 0, -1, 2**64 - 1, -(2**63), 1e308, float("nan"), float("inf"), "", "x" * 5000,
    "../../../escape", "/proc/self/environ", "2026-13-45T99:99:99", [], {}, [1, [2, [3]]],
    {"a": {"b": 1}}, b"\xff\xfe", "\x00\x1b[2J",
)


def _records(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, payload) of every whole record of a journal (the framing as written)."""
    out, pos = [], _JOURNAL_MAGIC_SIZE
    while pos + _RECORD_HEAD.size <= len(data):
        _, length, _ = _RECORD_HEAD.unpack_from(data, pos)
        stop = pos + _RECORD_HEAD.size + length
        if stop > len(data):
            break
        out.append((pos, data[pos + _RECORD_HEAD.size:stop]))
        pos = stop
    return out


def _edit_value(rng: random.Random, obj: Any) -> str:
    """Replace, drop or add one value somewhere inside the decoded record ``obj`` (a map)."""
    parent, where = obj, "record"
    while True:
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        if not keys:
            break
        key = rng.choice(keys)
        child = parent[key]
        if isinstance(child, dict | list) and child and rng.random() < 0.6:
            parent, where = child, f"{where}.{key}"
            continue
        op = rng.choice(("replace", "replace", "replace", "drop"))
        if op == "drop" and isinstance(parent, dict):
            del parent[key]
            return f"drop {where}.{key}"
        value = rng.choice(HOSTILE_VALUES)
        parent[key] = value
        return f"{where}.{key} -> {value!r:.40}"
    if isinstance(parent, dict):
        parent[rng.choice(("state", "files", "name", "zz"))] = rng.choice(HOSTILE_VALUES)
        return f"add a key to {where}"
    parent.append(rng.choice(HOSTILE_VALUES))
    return f"append to {where}"


def _journal_value(rng: random.Random, data: bytearray, text: bool) -> str:
    records = _records(bytes(data))
    if not records:
        return _bitflip(rng, data, text)
    offset, payload = rng.choice(records)
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return _bitflip(rng, data, text)
    how = _edit_value(rng, obj) if isinstance(obj, dict) else "not a map"
    blob = msgpack.packb(obj, use_bin_type=True)
    head = _RECORD_HEAD.pack(b"RC", len(blob), zlib.crc32(blob))
    data[offset:offset + _RECORD_HEAD.size + len(payload)] = head + blob
    return f"record at {offset}: {how}"


def mutate(rng: random.Random, data: bytes, kind: Kind) -> tuple[bytes, str]:
    """One to three mutations of ``data``; returns the bytes and what was done."""
    out = bytearray(data)
    if kind.journal and rng.random() < 0.5:
        done = [_journal_value(rng, out, False) for _ in range(rng.choice((1, 1, 2)))]
        return bytes(out), "; ".join(done)
    pool = TEXT_MUTATORS if kind.text else BINARY_MUTATORS
    done = [rng.choice(pool)(rng, out, kind.text) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    return bytes(out), "; ".join(done)


# --- the worker: runs one case at a time, reports the outcome ----------------------------------


def _reset_peak() -> int:
    """Reset the kernel's peak-RSS counter of this process; return the current RSS in bytes."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _prepare(kind: Kind, seeds: Path, case_dir: Path, data: bytes | None, special: str | None
             ) -> Path:
    """Lay out the case: a copy of the seed folder (folder kinds) with the mutated file."""
    if kind.folder is not None:
        shutil.copytree(seeds / kind.folder, case_dir / kind.folder, symlinks=True)
    target = case_dir / kind.seed
    target.parent.mkdir(parents=True, exist_ok=True)
    if special is None:
        target.write_bytes(data or b"")
        return target
    target.unlink(missing_ok=True)
    if special == "fifo":
        os.mkfifo(target)
    elif special == "dev_zero":
        target.symlink_to("/dev/zero")
    elif special == "proc_environ":
        target.symlink_to("/proc/self/environ")
    elif special == "folder":
        target.mkdir()
    elif special == "empty":
        target.write_bytes(b"")
    elif special == "long_name":
        # the seed keeps its name; a sibling with a 300-byte name is what a glob may match
        target.write_bytes((seeds / kind.seed).read_bytes())
        with contextlib.suppress(OSError):
            (target.parent / ("x" * 300 + target.suffix)).write_bytes(b"")
        if kind.folder is None:
            return target.parent / ("x" * 300 + target.suffix)
    return target


def run_case(kind: Kind, seeds: Path, work: Path, data: bytes | None, special: str | None,
             budget: int) -> dict[str, Any]:
    """Run one case in this process; the outcome record (without ``hang``, the parent's)."""
    from sfs_kit.errors import SfsKitError

    case_dir = Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    base = _reset_peak()
    outcome, detail = "accepted", ""
    try:
        path = _prepare(kind, seeds, case_dir, data, special)
        _entry(kind, path, case_dir)
    except SfsKitError as err:
        message = str(err)
        outcome, detail = "clean", message[:300]
        if len(message) > MAX_MESSAGE or "\n" in message or FAKE_SECRET in message:
            outcome = "bad-msg"
            detail = f"{len(message)} chars: {message[:300]!r}"
    except MemoryError:
        outcome, detail = "blow-up", "MemoryError"
    except BaseException as err:  # noqa: BLE001 - classifying every escape is the point
        frames = traceback.extract_tb(err.__traceback__)
        ours = [f for f in frames if "sfs_kit" in f.filename] or frames
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        outcome, detail = "traceback", f"{type(err).__name__} at {where}: {str(err)[:200]}"
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)
    peak = max(_status("VmHWM") - base, 0)
    if peak > budget and outcome != "traceback":
        outcome, detail = "blow-up", f"peak RSS +{peak >> 20} MB ({detail[:100]})"
    return {"outcome": outcome, "detail": detail, "seconds": time.perf_counter() - started,
            "peak_mb": peak >> 20}


def worker(seeds: Path, memory_mb: int, budget_mb: int) -> None:
    """Read cases (JSON lines) from stdin, answer each with one JSON line on stdout."""
    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import sfs_kit.capture
    import sfs_kit.readers  # noqa: F401 - import once, before the first case's peak is taken

    work = Path(tempfile.mkdtemp(prefix="sfs-fuzz-"))
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing a reader prints may corrupt the protocol
    try:
        for line in sys.stdin:
            case = json.loads(line)
            data = bytes.fromhex(case["data"]) if case["data"] is not None else None
            result = run_case(KIND_BY_NAME[case["kind"]], seeds, work, data, case["special"],
                              budget_mb << 20)
            out.write(json.dumps({"id": case["id"], **result}) + "\n")
            out.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the parent: builds cases, feeds workers, enforces the time limit ------------------------


@dataclass
class Case:
    """One generated input: a kind, mutated bytes (or a special file), and how they were made."""

    id: int
    kind: str
    data: bytes | None
    special: str | None
    how: str


def generate(seed: int, count: int, kinds: list[Kind], seeds: Path) -> Iterator[Case]:
    """``count`` cases: first each special file once per kind, then seeded mutations."""
    rng = random.Random(seed)
    originals = {kind.name: (seeds / kind.seed).read_bytes() for kind in kinds}
    made = 0
    for special in SPECIALS:
        for kind in kinds:
            if made >= count:
                return
            yield Case(made, kind.name, None, special, f"special {special}")
            made += 1
    while made < count:
        kind = kinds[made % len(kinds)]
        data, how = mutate(rng, originals[kind.name], kind)
        yield Case(made, kind.name, data, None, how)
        made += 1


@dataclass
class _Worker:
    proc: subprocess.Popen[str]
    case: Case | None = None
    since: float = 0.0


@dataclass
class Summary:
    """Counts per kind and outcome, and the first examples of each bug class."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, case: Case, outcome: str, detail: str, keep: Path | None) -> None:
        self.counts.setdefault(case.kind, Counter())[outcome] += 1
        if outcome in BUGS and sum(1 for e in self.examples if e["kind"] == case.kind
                                   and e["outcome"] == outcome) < 3:
            example = {"id": case.id, "kind": case.kind, "outcome": outcome, "how": case.how,
                       "detail": detail}
            if keep is not None and case.data is not None:
                keep.mkdir(parents=True, exist_ok=True)
                suffix = Path(KIND_BY_NAME[case.kind].seed).suffix
                saved = keep / f"{case.id:06d}-{case.kind}{suffix}"
                saved.write_bytes(case.data)
                example["saved"] = str(saved)
            self.examples.append(example)

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counter in self.counts.values():
            total.update(counter)
        return total


def _spawn(seeds: Path, memory_mb: int, budget_mb: int) -> _Worker:
    env = {**os.environ, "SCALE_API_KEY": FAKE_SECRET, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(seeds), "--memory-mb", str(memory_mb),
         "--budget-mb", str(budget_mb)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env, start_new_session=True)
    return _Worker(proc)


def _send(w: _Worker, case: Case) -> bool:
    """Hand ``case`` to worker ``w``; False when its pipe is broken (it died)."""
    message = {"id": case.id, "kind": case.kind, "special": case.special,
               "data": case.data.hex() if case.data is not None else None}
    try:
        assert w.proc.stdin is not None
        w.proc.stdin.write(json.dumps(message) + "\n")
        w.proc.stdin.flush()
    except OSError:
        return False
    w.case, w.since = case, time.monotonic()
    return True


def _kill(w: _Worker) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(w.proc.pid, signal.SIGKILL)
    w.proc.wait()
    for stream in (w.proc.stdin, w.proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def campaign(*, seed: int, count: int, jobs: int, timeout: float, memory_mb: int,
             budget_mb: int, kinds: list[Kind], keep: Path | None,
             progress: Callable[[int, Summary], None] | None = None) -> Summary:
    """Run ``count`` cases on ``jobs`` workers; a worker past ``timeout`` is killed (a hang)."""
    summary = Summary()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sfs-fuzz-seeds-") as tmp:
        seeds = Path(tmp)
        build_seeds(seeds)
        cases = generate(seed, count, kinds, seeds)
        workers = [_spawn(seeds, memory_mb, budget_mb) for _ in range(max(jobs, 1))]
        selector = selectors.DefaultSelector()
        done = 0
        pending = True
        try:
            while True:
                for i in range(len(workers)):
                    if workers[i].case is None and pending:
                        case = next(cases, None)
                        if case is None:
                            pending = False
                            continue
                        if not _send(workers[i], case):  # died between cases: start another
                            _kill(workers[i])
                            workers[i] = _spawn(seeds, memory_mb, budget_mb)
                            _send(workers[i], case)
                        stdout = workers[i].proc.stdout
                        assert stdout is not None
                        selector.register(stdout, selectors.EVENT_READ, i)
                busy = [w for w in workers if w.case is not None]
                if not busy:
                    break
                wait = max(0.05, min(w.since + timeout for w in busy) - time.monotonic())
                for key, _ in selector.select(timeout=wait):
                    i = key.data
                    w = workers[i]
                    assert w.proc.stdout is not None
                    assert w.case is not None
                    line = w.proc.stdout.readline()
                    selector.unregister(w.proc.stdout)
                    if line:
                        result = json.loads(line)
                        summary.add(w.case, result["outcome"], result["detail"], keep)
                        w.case = None
                    else:  # the worker died: a crash (segfault, abort) counts as a traceback
                        code = w.proc.wait()
                        summary.add(w.case, "traceback", f"worker died (exit {code})", keep)
                        _kill(w)
                        workers[i] = _spawn(seeds, memory_mb, budget_mb)
                    done += 1
                    if progress is not None:
                        progress(done, summary)
                now = time.monotonic()
                for i, w in enumerate(workers):
                    if w.case is not None and now - w.since > timeout:
                        assert w.proc.stdout is not None
                        selector.unregister(w.proc.stdout)
                        _kill(w)
                        summary.add(w.case, "hang", f"no answer within {timeout:g} s", keep)
                        workers[i] = _spawn(seeds, memory_mb, budget_mb)
                        done += 1
        finally:
            for w in workers:
                _kill(w)
    summary.seconds = time.perf_counter() - started
    return summary


def _print(summary: Summary) -> None:
    width = max(len(k) for k in summary.counts) if summary.counts else 4
    print(f"{'kind':<{width}} " + " ".join(f"{o:>9}" for o in OUTCOMES))
    for kind in sorted(summary.counts):
        row = summary.counts[kind]
        print(f"{kind:<{width}} " + " ".join(f"{row[o]:>9}" for o in OUTCOMES))
    total = summary.totals()
    print(f"{'total':<{width}} " + " ".join(f"{total[o]:>9}" for o in OUTCOMES))
    print(f"{sum(total.values())} cases in {summary.seconds:.0f} s")
    for example in summary.examples:
        print(f"- {example['outcome']} {example['kind']} #{example['id']} ({example['how']}): "
              f"{example['detail']}" + (f" [{example['saved']}]" if "saved" in example else ""))


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the campaign (or be a worker), print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--memory-mb", type=int, default=3072,
                        help="address-space limit of a worker")
    parser.add_argument("--budget-mb", type=int, default=512,
                        help="peak RSS growth of one case counted as a blow-up")
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--keep", type=Path, help="save the inputs of bug cases here")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.memory_mb, args.budget_mb)
        return 0
    names = [n for n in args.kinds.split(",") if n] or [k.name for k in KINDS]
    unknown = sorted(set(names) - set(KIND_BY_NAME))
    if unknown:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KIND_BY_NAME)}")

    def progress(done: int, summary: Summary) -> None:
        if not args.json and done % 500 == 0:
            total = summary.totals()
            print(f"  {done} cases: " + ", ".join(f"{o} {total[o]}" for o in OUTCOMES),
                  file=sys.stderr, flush=True)

    summary = campaign(seed=args.seed, count=args.cases, jobs=args.jobs, timeout=args.timeout,
                       memory_mb=args.memory_mb, budget_mb=args.budget_mb,
                       kinds=[KIND_BY_NAME[n] for n in names], keep=args.keep,
                       progress=progress)
    if args.json:
        print(json.dumps({"counts": {k: dict(v) for k, v in summary.counts.items()},
                          "totals": dict(summary.totals()), "examples": summary.examples,
                          "seconds": summary.seconds}))
    else:
        _print(summary)
    return 1 if any(summary.totals()[o] for o in BUGS) else 0


if __name__ == "__main__":
    sys.exit(main())
