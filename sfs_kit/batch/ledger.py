"""The batch ledger: one durable record per change of a capture's state, in ``LEDGER_DIR``.

The file is ``LEDGER_DIR/sfs-kit-ledger.bin`` in the pipeline journal's framing (magic, then
``RC length crc32 msgpack`` records, fsynced as written: see ``sfs_kit.pipeline.journal``, whose
reader and writer it uses). Each record is ``step="capture"``, ``deps={"key": <capture key>}`` and
``data`` holding the fields that changed (``state`` pending/running/done/failed, ``attempts``,
``unique_id``, ``content_sha256``, ``task_id``, ``task_status``, ``urls_expire_at``,
``bytes_uploaded``, ``step_seconds``, ``error_class``, ``error_message``, ...). Reading folds the
records, oldest first, into the current state per capture. A ``step="settings"`` record holds a
digest per setting of the batch that wrote it, so a resumed batch can say what changed. A torn last
record (a driver killed while appending) is dropped like the journal's. The ledger, not the
engine, is the source of truth.

Each capture's run folder (journal, outputs) is ``LEDGER_DIR/runs/<name>-<key>``, where ``key`` is
a hash of the capture's resolved path: two captures with the same folder name never share one.
Appends take ``LEDGER_DIR/.ledger.lock`` (``flock``), so ``run-one`` array jobs may share a ledger.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError, JournalFormatError
from sfs_kit.pipeline.journal import JOURNAL_MAGIC, Journal, JournalRecord

__all__ = [
    "LEDGER_NAME",
    "RUNS_DIR",
    "CaptureState",
    "Ledger",
    "capture_key",
    "driver_lock",
    "run_dir_for",
]

LEDGER_NAME = "sfs-kit-ledger.bin"
RUNS_DIR = "runs"
_LOCK_NAME = ".ledger.lock"
_STEP = "capture"
_SETTINGS_STEP = "settings"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
State = Literal["pending", "running", "done", "failed"]


def capture_key(path: str | os.PathLike[str]) -> str:
    """16 hex digits of SHA-256 over the capture's resolved path (symlinks followed)."""
    resolved = os.path.realpath(path).encode("utf-8", "surrogateescape")
    return hashlib.sha256(resolved).hexdigest()[:16]


def run_dir_for(ledger_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """``LEDGER_DIR/runs/<safe capture name>-<key>``: the capture's own run folder."""
    p = Path(path)
    name = _SAFE.sub("_", p.stem if p.suffix else p.name).strip("._")[:60] or "capture"
    return Path(ledger_dir) / RUNS_DIR / f"{name}-{capture_key(path)}"


@dataclass
class CaptureState:
    """The folded state of one capture (every field of its records, latest value wins)."""

    key: str
    path: str = ""
    state: State = "pending"
    attempts: int = 0
    unique_id: str | None = None
    content_sha256: str | None = None
    task_id: str | None = None
    task_status: str | None = None
    task_existing: bool = False
    task_created: bool = False
    dry_run: bool = False
    request_path: str | None = None
    urls_expire_at: str | None = None
    bytes_uploaded: int = 0
    step_seconds: dict[str, float] = field(default_factory=dict)
    error_class: str | None = None
    error_message: str | None = None
    transient: bool = False
    warnings: int = 0
    pid: int | None = None
    updated_s: float = 0.0
    history: list[str] = field(default_factory=list)  # one line per failed attempt

    def is_done_for(self, *, dry_run: bool) -> bool:
        """Done, as a batch that is (or is not) a dry run sees it: a dry run's "done" made no
        task, so a real batch runs that capture again (its run journal keeps the conversion)."""
        return self.state == "done" and (dry_run or not self.dry_run)

    def to_dict(self) -> dict[str, Any]:
        """JSON view (``--json``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


_FIELDS = frozenset(CaptureState.__dataclass_fields__) - {"key", "history"}


_STR_OR_NONE = (str, type(None))
_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,), "attempts": (int,), "bytes_uploaded": (int,), "warnings": (int,),
    "pid": (int, type(None)), "step_seconds": (dict,),
    **dict.fromkeys(("task_existing", "task_created", "dry_run", "transient"), (bool,)),
    **dict.fromkeys(("unique_id", "content_sha256", "task_id", "task_status", "request_path",
                     "urls_expire_at", "error_class", "error_message"), _STR_OR_NONE),
}


def _value_problem(name: str, value: object) -> str | None:
    """What is wrong with a ledger record's ``name: value`` (None when it is what we write)."""
    if name == "state":
        return None if value in ("pending", "running", "done", "failed") else \
            "must be pending, running, done or failed"
    types = _TYPES.get(name)
    if types is None:
        return None
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        return f"must be {' or '.join(t.__name__ for t in types)}"
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return "must be >= 0"
    if isinstance(value, dict) and not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in value.items()):
        return "must map step names to seconds"
    return None


def _check_record(record: JournalRecord, source: str) -> None:
    """A ledger record folds only with the types the driver writes: a hand-edited or damaged
    record (an ``attempts`` string, a ``state`` of another name) is ours to name, not a
    ``TypeError`` in the batch that resumes it."""
    for name, value in record.data.items():
        problem = _value_problem(name, value)
        if problem is not None:
            raise JournalFormatError(
                f"Ledger {source!r} record at byte {record.offset}: {name!r} {problem}, got "
                f"{excerpt(value, 60)}. Move the ledger folder aside to start the batch over "
                f"(done captures' tasks are found again by their unique_id).",
                source=source, offset=record.offset, key=name)


def _fold(state: CaptureState, data: Mapping[str, Any], time_s: float) -> None:
    for name, value in data.items():
        if name in _FIELDS:
            setattr(state, name, value)
    if data.get("state") == "failed" or data.get("retrying"):
        state.history.append(f"attempt {data.get('attempts', state.attempts)}: "
                             f"{data.get('error_class')}: {data.get('error_message')}")
    state.updated_s = time_s


class Ledger:
    """The ledger of one ``LEDGER_DIR``: ``states`` is the folded view, ``record`` appends."""

    def __init__(self, ledger_dir: Path, journal: Journal, states: dict[str, CaptureState],
                 settings: dict[str, str] | None = None) -> None:
        self.dir = ledger_dir
        self._journal = journal
        self._states = states
        self._settings = settings

    @classmethod
    def open(cls, ledger_dir: str | os.PathLike[str]) -> Ledger:
        """Read (or create) the ledger in ``ledger_dir`` and fold it."""
        root = Path(ledger_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"Ledger folder {str(root)!r} cannot be created "
                             f"({err.strerror or type(err).__name__}).", source=str(root),
                             field="out") from err
        if not root.is_dir():
            raise InputError(f"Ledger folder {str(root)!r} is not a folder.", source=str(root),
                             field="out")
        path = root / LEDGER_NAME
        with _append_lock(root):
            if not path.exists():  # created up front, so concurrent run-one jobs only append
                with path.open("xb") as fh:
                    fh.write(JOURNAL_MAGIC)
                    fh.flush()
                    os.fsync(fh.fileno())
            journal = Journal.open(path)
        states: dict[str, CaptureState] = {}
        settings: dict[str, str] | None = None
        for record in journal.records:
            if record.step == _SETTINGS_STEP:
                settings = {str(k): str(v) for k, v in record.data.items()}
            if record.step != _STEP:
                continue
            key = record.deps.get("key", "")
            _check_record(record, str(path))
            _fold(states.setdefault(key, CaptureState(key)), record.data, record.time_s)
        return cls(root, journal, states, settings)

    @property
    def path(self) -> Path:
        """The ledger file."""
        return self._journal.path

    def states(self) -> dict[str, CaptureState]:
        """Every capture's current state, by key (a copy of the mapping)."""
        return dict(self._states)

    def get(self, key: str) -> CaptureState | None:
        """The state of one capture, if the ledger knows it."""
        return self._states.get(key)

    def record(self, key: str, **data: Any) -> CaptureState:
        """Append one record for capture ``key`` (fsynced) and fold it."""
        return self.record_many([(key, data)])[0]

    def record_many(self, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[CaptureState]:
        """Append several records with one fsync and fold them."""
        with _append_lock(self.dir):
            written = self._journal.append_many([(_STEP, {"key": key}, dict(data))
                                                 for key, data in entries])
        out = []
        for (key, _), rec in zip(entries, written, strict=True):
            state = self._states.setdefault(key, CaptureState(key))
            _fold(state, rec.data, rec.time_s)
            out.append(state)
        return out

    @property
    def settings(self) -> dict[str, str] | None:
        """The fingerprint of the settings the last batch on this ledger ran with (a digest per
        setting, never a value: settings may hold secrets), if any batch recorded one."""
        return dict(self._settings) if self._settings is not None else None

    def record_settings(self, fingerprint: Mapping[str, str]) -> None:
        """Append the settings fingerprint a batch runs with (fsynced)."""
        with _append_lock(self.dir):
            self._journal.append_many([(_SETTINGS_STEP, {}, dict(fingerprint))])
        self._settings = dict(fingerprint)

    def counts(self) -> dict[str, int]:
        """Captures per state."""
        counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
        for state in self._states.values():
            counts[state.state] = counts.get(state.state, 0) + 1
        return counts


@contextmanager
def _append_lock(root: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``LEDGER_DIR/.ledger.lock`` (released by the kernel on death)."""
    with (root / _LOCK_NAME).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def driver_lock(ledger_dir: Path) -> Iterator[None]:
    """One ``sfs-kit batch`` per ledger at a time; a second one is refused, not queued."""
    with (ledger_dir / ".batch.lock").open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise InputError(f"Ledger {str(ledger_dir)!r} is in use by another sfs-kit batch; "
                             f"wait for it or choose another --out.", source=str(ledger_dir),
                             field="out") from err
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

