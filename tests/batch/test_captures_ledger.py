"""The capture list (text, JSONL, CSV, paths, globs), the ledger's folding and crash safety, and
the fleet limiter's slots and shared not-before time."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from sfs_kit.batch import CaptureRow, Ledger, capture_key, read_captures, run_dir_for
from sfs_kit.batch.ledger import LEDGER_NAME
from sfs_kit.batch.limits import FileLimiter
from sfs_kit.errors import InputError, JournalFormatError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_text_list_paths_are_relative_to_the_list(tmp_path: Path) -> None:
    a, b = _touch(tmp_path / "d" / "a.msgpack"), _touch(tmp_path / "d" / "b.msgpack")
    listing = tmp_path / "d" / "night.txt"
    listing.write_text("# tonight\n\na.msgpack\n  b.msgpack  \n", encoding="utf-8")
    rows = read_captures([str(listing)])
    assert [r.path for r in rows] == [str(a), str(b)]
    assert [(r.source, r.line) for r in rows] == [(str(listing), 3), (str(listing), 4)]


def test_jsonl_rows_carry_overrides(tmp_path: Path) -> None:
    _touch(tmp_path / "a.msgpack")
    listing = tmp_path / "n.jsonl"
    listing.write_text('{"capture": "a.msgpack", "tags": ["x", "y"], "metadata": {"k": 1}, '
                       '"priority": 30, "format": "split_base64", "unique_id": "u-1"}\n',
                       encoding="utf-8")
    (row,) = read_captures([str(listing)])
    assert dict(row.overrides) == {"tags": ("x", "y"), "metadata": {"k": 1}, "priority": 30,
                                   "format": "split_base64", "unique_id": "u-1"}


def test_csv_rows_parse_their_cells(tmp_path: Path) -> None:
    _touch(tmp_path / "a.msgpack")
    _touch(tmp_path / "b.msgpack")
    listing = tmp_path / "n.csv"
    listing.write_text('capture,tags,priority,metadata\na.msgpack,"x, y",20,"{""k"": 2}"\n'
                       'b.msgpack,,,\n', encoding="utf-8")
    first, second = read_captures([str(listing)])
    assert dict(first.overrides) == {"tags": ("x", "y"), "priority": 20, "metadata": {"k": 2}}
    assert dict(second.overrides) == {}


def test_globs_and_plain_paths(tmp_path: Path) -> None:
    for name in ("c1.msgpack", "c2.msgpack", "other.bin"):
        _touch(tmp_path / name)
    rows = read_captures([str(tmp_path / "c*.msgpack"), str(tmp_path / "other.bin")])
    assert [Path(r.path).name for r in rows] == ["c1.msgpack", "c2.msgpack", "other.bin"]


@pytest.mark.parametrize(("text", "suffix", "message"), [
    ('{"capture": "a", "colour": "red"}\n', ".jsonl",
     r"line 1 has unknown key 'colour'; per-capture overrides are unique_id, tags"),
    ('{"tags": ["x"]}\n', ".jsonl", r"line 1 has no 'capture' path"),
    ("[1, 2]\n", ".jsonl", r"line 1 must be a JSON object, got a list"),
    ("{nope\n", ".jsonl", r"line 1 is not valid JSON"),
    ('{"capture": "a", "priority": "high"}\n', ".jsonl", r"'priority' must be an integer"),
    ('{"capture": "a", "metadata": [1]}\n', ".jsonl", r"'metadata' must be a JSON object"),
    ("file,tags\na,x\n", ".csv", r"has no 'capture' column \(found file, tags\)"),
    ("capture\na,b\n", ".csv", r"line 2 has more cells than the header"),
])
def test_bad_lists_name_the_file_and_line(tmp_path: Path, text: str, suffix: str,
                                          message: str) -> None:
    listing = tmp_path / f"n{suffix}"
    listing.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_captures([str(listing)])


def test_missing_paths_patterns_and_duplicates_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist \(expected a capture, a glob"):
        read_captures([str(tmp_path / "nope.msgpack")])
    with pytest.raises(InputError, match=r"matches nothing"):
        read_captures([str(tmp_path / "*.nothing")])
    a = _touch(tmp_path / "a.msgpack")
    with pytest.raises(InputError, match=r"is listed twice \(first in <command line>\)"):
        read_captures([str(a), str(tmp_path / "." / "a.msgpack")])
    with pytest.raises(InputError, match="No captures given"):
        read_captures([])


def test_same_folder_name_gets_two_run_folders(tmp_path: Path) -> None:
    one = tmp_path / "site-a" / "drive"
    two = tmp_path / "site-b" / "drive"
    assert run_dir_for(tmp_path, one) != run_dir_for(tmp_path, two)
    assert run_dir_for(tmp_path, one).name.startswith("drive-")
    assert capture_key(one) == capture_key(tmp_path / "site-a" / "x" / ".." / "drive")


def test_ledger_folds_records_and_survives_a_torn_tail(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path)
    ledger.record_many([("k1", {"path": "/c1", "state": "pending"}),
                        ("k2", {"path": "/c2", "state": "pending"})])
    ledger.record("k1", state="running", attempts=1, pid=123)
    ledger.record("k1", state="failed", attempts=1, error_class="StorageServerError",
                  error_message="boom", transient=True)
    ledger.record("k1", state="done", task_id="t1", error_class=None)
    again = Ledger.open(tmp_path)
    k1 = again.get("k1")
    assert k1 is not None
    assert (k1.state, k1.attempts, k1.task_id, k1.error_class) == ("done", 1, "t1", None)
    assert k1.history == ["attempt 1: StorageServerError: boom"]
    assert again.counts() == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    # a driver killed while appending leaves a torn record: it is dropped, the rest stays
    path = tmp_path / LEDGER_NAME
    size = path.stat().st_size
    again.record("k2", state="done", task_id="t2")
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size - 3)
    torn = Ledger.open(tmp_path)
    assert path.stat().st_size == size
    k2 = torn.get("k2")
    assert k2 is not None
    assert k2.state == "pending"


def test_a_corrupt_ledger_names_the_offset(tmp_path: Path) -> None:
    Ledger.open(tmp_path).record_many([("k", {"state": "pending"}), ("k", {"state": "done"})])
    path = tmp_path / LEDGER_NAME
    blob = bytearray(path.read_bytes())
    blob[20] ^= 0xFF  # inside the first record, which has one after it
    path.write_bytes(bytes(blob))
    with pytest.raises(JournalFormatError, match=r"record at byte 8 fails its CRC-32 check"):
        Ledger.open(tmp_path)


def test_ledger_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = _touch(tmp_path / "file")
    with pytest.raises(InputError, match=r"cannot be created|is not a folder"):
        Ledger.open(target)


def _hold_slot(limiter: FileLimiter, ready: multiprocessing.synchronize.Event) -> None:
    with limiter.slot("upload"):
        ready.set()
        time.sleep(60)


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    limiter = FileLimiter(tmp_path / "limits", max_uploads=1)
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_slot, args=(limiter, ready))
    holder.start()
    assert ready.wait(10)
    start = time.monotonic()
    os.kill(holder.pid or 0, signal.SIGKILL)
    with limiter.slot("upload"):  # the kernel released the dead holder's lock
        waited = time.monotonic() - start
    holder.join()
    assert waited < 5


def test_retry_after_is_shared_and_never_moves_back(tmp_path: Path) -> None:
    one = FileLimiter(tmp_path / "limits")
    two = FileLimiter(tmp_path / "limits")
    one.retry_after(0.5)
    later = one.not_before()
    two.retry_after(0.1)  # shorter: ignored
    assert two.not_before() == later
    start = time.monotonic()
    two.wait()
    assert time.monotonic() - start >= 0.3


def test_capture_row_is_plain_data() -> None:
    row = CaptureRow("/x", {"tags": ("a",)})
    assert row.source == "<command line>"
