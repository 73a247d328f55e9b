"""What a resumed command trusts: the run journal, the batch ledger, the batch's capture lists and
``sfs-kit.toml``. A record whose CRC is sound but whose values are not what the step writes (a
hand edit, a broken writer) is our JournalFormatError naming the file, the byte offset and the
field, never a KeyError or TypeError in a later step; special files are refused without blocking;
malformed lists and configs name the file and line."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from capture.conftest import build_folder

from sfs_kit.batch import BatchOptions, Ledger, capture_key, read_captures, run_batch
from sfs_kit.batch.ledger import LEDGER_NAME
from sfs_kit.errors import InputError, JournalFormatError
from sfs_kit.pipeline import RunConfig, load_config
from sfs_kit.pipeline.run import JOURNAL_NAME, run

HEAD = struct.Struct("<2sII")


def _edit_record(path: Path, step: str, edit: Callable[[dict[str, Any]], None]) -> int:
    """Apply ``edit`` to the data of the journal's first ``step`` record and re-seal it (length
    and CRC-32 fixed), as a hand edit would; returns the record's offset."""
    blob = bytearray(path.read_bytes())
    pos = 8
    while pos < len(blob):
        _, length, _ = HEAD.unpack_from(blob, pos)
        payload = bytes(blob[pos + HEAD.size:pos + HEAD.size + length])
        record = msgpack.unpackb(payload)
        if record["step"] == step:
            edit(record["data"])
            new = msgpack.packb(record)
            blob[pos:pos + HEAD.size + length] = HEAD.pack(b"RC", len(new), zlib.crc32(new)) + new
            path.write_bytes(bytes(blob))
            return pos
        pos += HEAD.size + length
    raise AssertionError(f"no {step} record")


@pytest.fixture
def dry_run(tmp_path: Path) -> tuple[Path, RunConfig]:
    """A capture and the config of its finished dry run (the journal to resume)."""
    capture = build_folder(tmp_path / "cap", frames=2, points=20)
    config = RunConfig(dry_run=True, out_dir=tmp_path / "out", store_dir=tmp_path / "store")
    run(capture, config)
    return capture, config


def test_a_clean_resume_still_trusts_every_record(dry_run: tuple[Path, RunConfig]) -> None:
    result = run(*dry_run)
    assert all(step.resumed for step in result.steps)


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target: Any = data
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return edit


@pytest.mark.parametrize(("step", "key", "value", "field"), [
    ("convert", "files", "/proc/self/environ", "files"),
    ("convert", "files.0.size", "12", "files.0.size"),
    ("convert", "files.0.sha256", KeyError, "files.0.sha256"),
    ("convert", "content_sha256", None, "content_sha256"),
    ("geometry", "issues", [{"code": "G-1"}], "issues.0.severity"),
    ("upload", "objects.0.key", 7, "objects.0.key"),
    ("presign", "urls.0.expires_at", "2026-12-10T00:00:00", "urls.0.expires_at"),  # no offset
    ("presign", "urls.0.expires_at", "tomorrow", "urls.0.expires_at"),
    ("verify", "count", -1, "count"),
    ("submit", "task_id", [1], "task_id"),
])
def test_a_resealed_record_with_wrong_values_is_named(
    dry_run: tuple[Path, RunConfig], step: str, key: str, value: object, field: str
) -> None:
    capture, config = dry_run
    assert config.out_dir is not None
    journal = config.out_dir / JOURNAL_NAME
    offset = _edit_record(journal, step, _set(key, value))
    with pytest.raises(JournalFormatError, match=rf"record at byte {offset} \(step '{step}'\): "
                       rf"field '{field}'.*Deleting the journal is safe") as info:
        run(capture, config)
    assert (info.value.offset, info.value.key) == (offset, field)


def test_presigned_urls_that_do_not_pair_with_the_objects(
        dry_run: tuple[Path, RunConfig]) -> None:
    capture, config = dry_run
    assert config.out_dir is not None
    offset = _edit_record(config.out_dir / JOURNAL_NAME, "presign",
                          lambda data: data["urls"].append(dict(data["urls"][0])))
    with pytest.raises(JournalFormatError, match=rf"byte {offset} .* holds 2 URLs for 1 objects"):
        run(capture, config)


@pytest.mark.parametrize("special", ["fifo", "dev_zero"])
def test_a_journal_or_ledger_that_is_no_regular_file_is_refused_at_once(
        tmp_path: Path, special: str) -> None:
    capture = build_folder(tmp_path / "cap", frames=2, points=20)
    out, ledger = tmp_path / "out", tmp_path / "ledger"
    for folder, name in ((out, JOURNAL_NAME), (ledger, LEDGER_NAME)):
        folder.mkdir()
        if special == "fifo":
            os.mkfifo(folder / name)
        else:
            (folder / name).symlink_to("/dev/zero")
    with pytest.raises(JournalFormatError, match=r"a FIFO|under /dev"):
        run(capture, RunConfig(dry_run=True, out_dir=out))
    with pytest.raises(JournalFormatError, match=r"a FIFO|under /dev"):
        Ledger.open(ledger)


def _ledger(tmp_path: Path) -> tuple[Path, Path]:
    caps = tmp_path / "caps"
    (caps / "a").mkdir(parents=True)
    ledger = Ledger.open(tmp_path / "ledger")
    ledger.record(capture_key(caps / "a"), path=str(caps / "a"), state="done", attempts=1,
                  dry_run=True, step_seconds={"convert": 0.5})
    return caps / "a", tmp_path / "ledger"


@pytest.mark.parametrize(("key", "value", "match"), [
    ("attempts", "1", r"'attempts' must be int, got '1'"),
    ("attempts", -3, r"'attempts' must be >= 0"),
    ("state", "finished", r"'state' must be pending, running, done or failed"),
    ("dry_run", 1, r"'dry_run' must be bool"),
    ("step_seconds", {"convert": "slow"}, r"'step_seconds' must map step names to seconds"),
    ("task_id", b"\xff", r"'task_id' must be str or NoneType"),
])
def test_a_resealed_ledger_record_with_wrong_values_is_named(
        tmp_path: Path, key: str, value: object, match: str) -> None:
    capture, ledger_dir = _ledger(tmp_path)
    offset = _edit_record(ledger_dir / LEDGER_NAME, "capture", _set(key, value))
    with pytest.raises(JournalFormatError, match=rf"record at byte {offset}: {match}") as info:
        run_batch(read_captures([str(capture)]), RunConfig(dry_run=True), ledger_dir,
                  BatchOptions(workers=1))
    assert info.value.key == key


def test_an_untouched_ledger_resumes(tmp_path: Path) -> None:
    capture, ledger_dir = _ledger(tmp_path)
    result = run_batch(read_captures([str(capture)]), RunConfig(dry_run=True), ledger_dir,
                       BatchOptions(workers=1))
    assert (result.skipped_done, result.ran) == (1, 0)


@pytest.mark.parametrize(("name", "text", "match"), [
    ("n.jsonl", '{"capture": "a", "metadata": ' + "[" * 5000 + "]" * 5000 + "}\n",
     r"n\.jsonl' line 1 nests objects/arrays 5001 deep"),
    ("n.jsonl", '{"capture": "a", "capture": "b"}\n', r"line 1: the key 'capture' appears twice"),
    ("n.csv", "capture,tags\n" + "a," + "x" * 200_000 + "\n",
     r"n\.csv' line \d+ is not valid CSV \(field larger than field limit"),
    ("n.csv", 'capture,metadata\na,"' + "[" * 5000 + '"\n', r"'metadata' must be a JSON object"),
    ("n.csv", "capture,priority\na,\u0661\n", r"'priority' must be an integer"),
    ("n.csv", 'caps/a,"x\ny",20\ncapture\n',  # a header cell's newline stays escaped
     r"has no 'capture' column \(found caps/a, 'x\\x0ay', 20\)\.$"),
    ("n.txt", "a\nb\x00c\n", r"holds a NUL byte"),
])
def test_malformed_capture_lists_name_the_file_and_line(
        tmp_path: Path, name: str, text: str, match: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        read_captures([str(tmp_path / name)])


def test_a_capture_list_that_is_proc_environ_is_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALE_API_KEY", "list-secret-123")
    (tmp_path / "night.txt").symlink_to("/proc/self/environ")
    with pytest.raises(InputError, match="under /proc") as info:
        read_captures([str(tmp_path / "night.txt")])
    assert "list-secret-123" not in str(info.value)


@pytest.mark.parametrize(("data", "match"), [
    (b'[run]\nproject = "a\xff"\n', r"config file .*: it is not UTF-8 text \(byte 18, line 2"),
    (b"[run]\nmetadata = {a = " + b"[" * 5000 + b"]" * 5000 + b"}\n",
     r"nests arrays or tables too deeply"),
    (b'[run]\nexpires = "1' + b"0" * 400 + b'd"\n',  # an infinite float: was OverflowError
     r"'expires' in .* is invalid: it must be a duration like '7d'"),
    (b"[run]\npriority = " + b"7" * 5000 + b"\n",  # int() past 4300 digits: was ValueError
     r"has a number too long to read"),
])
def test_a_malformed_config_file_is_our_error(tmp_path: Path, data: bytes, match: str) -> None:
    (tmp_path / "sfs-kit.toml").write_bytes(data)
    with pytest.raises(InputError, match=match):
        load_config(env={}, config_path=tmp_path / "sfs-kit.toml")


def test_a_config_file_that_is_a_fifo_or_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "sfs-kit.toml")
    with pytest.raises(InputError, match="a FIFO"):
        load_config(env={}, cwd=tmp_path)
    (tmp_path / "sfs-kit.toml").unlink()
    (tmp_path / "sfs-kit.toml").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="under /dev"):
        load_config(env={}, cwd=tmp_path)
