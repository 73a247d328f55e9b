"""``run(capture, config)``: the whole job, capture to Scale task, resumable and idempotent.

Steps, in order (``split_base64`` adds the image steps, because the frames must carry presigned
image URLs before they are uploaded)::

    sfs:          convert -> geometry -> upload -> presign -> verify -> submit
    split_base64: convert -> geometry -> upload_images -> presign_images -> write_frames
                  -> upload -> presign -> verify -> submit

Before any step, the task settings (project/batch, priority, tags, callback_url, metadata, ...)
are validated with a probe request, so a bad setting fails before anything is written or uploaded.
``convert`` reads the capture, validates the scene (errors stop the run) and encodes it into the
output directory; the geometric pre-flight (G-* rules, ``preflight.py``) then checks what it
wrote, kept in ``RunResult.geometry`` (its errors stop the run only with ``strict_geometry``).
Every finished step appends one journal record (``journal.py``) holding the
content hashes it depended on; a re-run skips each step whose record still matches, so nothing
finished is repeated, unchanged objects are not uploaded again and the task is created once. The
task ``unique_id`` is derived from the project and the content hash (``ids.py``) and journaled
before the POST; the POST uses ``on_duplicate="return_existing"``, so even a lost journal cannot
make a second task (the client returns the existing task only when its scene_format and
attachments are ours, and the result says ``task_existing``; settings that differ are warned).
URLs that would expire (or live less than ``min_lifetime_s``) before the submission are signed
again.

Test hook: when the environment variable ``SFS_KIT_TEST_CRASH_AFTER`` names a step (or
``submit_intent``, the record written just before the POST), the process ends with
``os._exit(CRASH_EXIT_CODE)`` right after that step's record is written, to simulate a crash.
It does nothing when unset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sfs_kit._atomic import write_bytes_atomic
from sfs_kit._paths import contained
from sfs_kit.errors import InputError, JournalFormatError, OutputError
from sfs_kit.pipeline import steps as _steps
from sfs_kit.pipeline._records import checked
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.ids import content_sha256, derive_unique_id, tree_fingerprint
from sfs_kit.pipeline.journal import Journal, JournalRecord
from sfs_kit.pipeline.limits import FleetLimiter, SlotKind
from sfs_kit.pipeline.outdir import (
    CAPTURE_STEP,
    LOCK_NAME,
    check_capture,
    default_out_dir,
    locked_out_dir,
)
from sfs_kit.pipeline.preflight import check_geometry, raise_on_geometry_errors
from sfs_kit.pipeline.result import PipelineProgress, RunObject, RunResult, StepTiming
from sfs_kit.storage import (
    LocalStore,
    ObjectStore,
    ProgressEvent,
    S3Store,
    UrlCheck,
    expected_magic_for,
)
from sfs_kit.submit.client import differing_settings

__all__ = [
    "CRASH_ENV",
    "CRASH_EXIT_CODE",
    "JOURNAL_NAME",
    "LOCK_NAME",
    "REQUEST_NAME",
    "RESULT_NAME",
    "default_out_dir",
    "run",
]

log = logging.getLogger(__name__)

CRASH_ENV = "SFS_KIT_TEST_CRASH_AFTER"
CRASH_EXIT_CODE = 86
JOURNAL_NAME = "sfs-kit-journal.bin"
REQUEST_NAME = "task_request.json"
RESULT_NAME = "run_result.json"
_RESIGN_MARGIN_S = 300  # re-sign when less than min_lifetime + this is left

ProgressFn = Callable[[PipelineProgress], None]
# {"name": str, "role": "attachment" | "image", "size": int, "sha256": str, ...}
FileEntry = dict[str, Any]


def _now() -> datetime:
    """The clock used for URL lifetimes (a function, so tests can move time)."""
    return datetime.now(UTC)


def _crash_point(step: str) -> None:
    """Test hook: end the process right after ``step`` if ``SFS_KIT_TEST_CRASH_AFTER`` names it."""
    if os.environ.get(CRASH_ENV) == step:
        log.warning("%s=%s: simulating a crash", CRASH_ENV, step)
        os._exit(CRASH_EXIT_CODE)


def _hash_obj(value: object) -> str:
    """SHA-256 of a canonical JSON rendering (for journal deps)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _write_json_atomic(path: Path, value: object) -> None:
    """Pretty JSON to ``path`` atomically, fsynced, mode 0600 (it may hold live presigned URLs)."""
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"), mode=0o600, fsync=True)


@dataclass
class _State:
    """Mutable bookkeeping of one run (never leaves this module)."""

    capture: Path
    config: RunConfig
    out_dir: Path
    journal: Journal
    on_progress: ProgressFn | None
    limiter: FleetLimiter | None = None
    timings: list[StepTiming] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    finished: bool = False  # the task (or dry-run request) exists: reuse records as they are
    pending: dict[str, str] | None = None  # the capture record, journaled with the first step
    _store: ObjectStore | None = None
    _step_warnings_from: int = 0

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = _make_store(self.config, self.out_dir)
        return self._store

    def find(self, step: str, deps: Mapping[str, str]) -> JournalRecord | None:
        """The journal's record of ``step`` with these ``deps``, once its data has the step's
        fields and types (``_records.checked``: else ``JournalFormatError``)."""
        rec = self.journal.find(step, deps)
        if rec is not None:
            checked(rec, str(self.journal.path))
        return rec

    def resume(self, step: str, rec: JournalRecord) -> None:
        """A step taken from the journal: timed as resumed, its recorded warnings repeated."""
        with self.timed(step, resumed=True):
            pass
        self.warnings.extend(str(w) for w in rec.data.get("warnings", []))

    def progress(self, step: str, files_done: int, files_total: int,
                 bytes_done: int, bytes_total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(PipelineProgress(step, files_done, files_total, bytes_done,
                                              bytes_total))

    @contextmanager
    def timed(self, step: str, *, resumed: bool = False) -> Iterator[None]:
        start = time.perf_counter()
        self._step_warnings_from = len(self.warnings)
        yield
        self.timings.append(StepTiming(step=step, seconds=time.perf_counter() - start,
                                       resumed=resumed))

    def record(self, step: str, deps: Mapping[str, str], data: Mapping[str, Any]) -> JournalRecord:
        """Journal a finished step with the warnings it produced (a resumed run repeats them)."""
        if self.pending is not None:
            self.journal.append(CAPTURE_STEP, {}, self.pending)
            self.pending = None
        data = {**data, "warnings": list(data.get("warnings",
                                                  self.warnings[self._step_warnings_from:]))}
        rec = self.journal.append(step, deps, data)
        _crash_point(step)
        return rec


def _store_id(config: RunConfig, out_dir: Path) -> str:
    if config.bucket is not None:
        return f"s3://{config.bucket}/{config.prefix}@{config.endpoint_url or 'aws'}"
    return f"local://{_local_store_dir(config, out_dir)}/{config.prefix}"


def _local_store_dir(config: RunConfig, out_dir: Path) -> Path:
    return (config.store_dir or out_dir / "store").resolve()


def _make_store(config: RunConfig, out_dir: Path) -> ObjectStore:
    if config.bucket is not None:
        return S3Store(config.bucket, prefix=config.prefix, endpoint_url=config.endpoint_url,
                       region_name=config.region, addressing_style=config.addressing_style,
                       sse=config.sse, sse_kms_key_id=config.sse_kms_key_id)
    root = _local_store_dir(config, out_dir)
    root.mkdir(parents=True, exist_ok=True)
    return LocalStore(root, prefix=config.prefix, link_files=True)  # a run's own outputs


def _files_exist(out_dir: Path, files: Sequence[FileEntry]) -> bool:
    """True when every recorded output file is still there with its recorded size."""
    for entry in files:
        try:
            if contained(out_dir, entry["name"]).stat().st_size != entry["size"]:
                return False
        except (OSError, OutputError):
            return False
    return True


# --- steps --------------------------------------------------------------------------------------


def _convert(state: _State) -> tuple[list[FileEntry], str]:
    """Step ``convert``: the encoded files (and, for split_base64, their images), content hash."""
    config = state.config
    deps = {
        "capture": tree_fingerprint(state.capture, exclude=state.out_dir),
        "options": _hash_obj({"format": config.format, "converter": _steps.CONVERTER_VERSION,
                              **config.convert.changed(),
                              **({"recording": config.recording.model_dump(mode="json")}
                                 if config.recording is not None else {})}),
    }
    rec = state.find("convert", deps)
    if rec is not None and _files_exist(state.out_dir, rec.data["files"]):
        state.resume("convert", rec)
        return list(rec.data["files"]), str(rec.data["content_sha256"])
    with state.timed("convert"):
        converted = _steps.convert(
            state.capture, state.out_dir, config.format, options=config.convert,
            recording=config.recording,
            on_progress=lambda done, total: state.progress("convert", done, total, 0, 0),
        )
        files: list[FileEntry] = [
            {"name": f.name, "role": f.role, "size": f.size, "sha256": f.sha256}
            for f in converted.files
        ]
        content = content_sha256((f.name, f.sha256) for f in converted.files)
        state.warnings.extend(converted.warnings)
        state.record("convert", deps, {"files": files, "content_sha256": content,
                                       "warnings": list(converted.warnings)})
    return files, content


def _geometry(state: _State, files: Sequence[FileEntry], content: str) -> list[dict[str, Any]]:
    """Step ``geometry``: the G-* issues of what convert wrote (journaled by content and
    thresholds); with ``strict_geometry`` an error stops the run before any upload."""
    config = state.config
    if not config.geometry_checks:
        return []
    deps = {"content": content, "thresholds": _hash_obj(config.geometry.model_dump())}
    rec = state.find("geometry", deps)
    if rec is not None:
        with state.timed("geometry", resumed=True):
            issues: list[dict[str, Any]] = list(rec.data["issues"])
    else:
        with state.timed("geometry"):
            found = check_geometry(state.out_dir, files, config.geometry)
            issues = [issue.to_dict() for issue in found]
            state.record("geometry", deps, {"issues": issues})
    if config.strict_geometry:
        raise_on_geometry_errors(issues)
    return issues


def _upload(state: _State, step: str, files: Sequence[FileEntry], base: str) -> list[FileEntry]:
    """Steps ``upload_images``/``upload``: each file under ``base``; identical ones are skipped."""
    deps = {"files": _hash_obj(files), "store": _store_id(state.config, state.out_dir),
            "base": base}
    rec = state.find(step, deps)
    if rec is not None and not _live(state):
        state.resume(step, rec)
        return [{**o, "uploaded": False} for o in rec.data["objects"]]
    # A live submission re-confirms even a journaled upload: the objects are checked (size and
    # sha256) and any missing or overwritten one is uploaded again, in this run.
    with state.timed(step, resumed=rec is not None):
        store = state.store
        items = [(contained(state.out_dir, f["name"]), store.key_for(base, _upload_name(f["name"])))
                 for f in files]
        total_bytes = sum(int(f["size"]) for f in files)
        state.progress(step, 0, len(items), 0, total_bytes)

        def progress(event: ProgressEvent) -> None:
            state.progress(step, event.files_done, event.files_total, event.bytes_done,
                           event.bytes_total)

        with _slot(state.limiter, "upload"):
            stored = store.upload_many(items, max_workers=state.config.upload_workers,
                                       on_progress=progress,
                                       sha256s={key: f["sha256"]
                                                for (_, key), f in zip(items, files, strict=True)})
        objects: list[FileEntry] = []
        for entry, obj in zip(files, stored, strict=True):
            if obj.sha256 is not None and obj.sha256 != entry["sha256"]:
                raise InputError(
                    f"File {entry['name']!r} changed while it was uploaded (sha256 "
                    f"{entry['sha256']} recorded, {obj.sha256} stored).", source=entry["name"],
                )
            if obj.uploaded:
                state.bytes_uploaded += obj.size
            objects.append({**entry, "key": obj.key, "uploaded": obj.uploaded})
        if rec is None:
            state.record(step, deps, {"objects": [{k: v for k, v in o.items() if k != "uploaded"}
                                                  for o in objects]})
        elif any(o["uploaded"] for o in objects):
            note = (f"{step}: {sum(1 for o in objects if o['uploaded'])} object(s) recorded as "
                    "uploaded were missing or different in the store and were uploaded again")
            log.warning("%s", note)
            state.warnings.append(note)
    return objects


def _live(state: _State) -> bool:
    """True when this run will POST a task: every URL it sends is re-checked in this run."""
    return not state.config.is_dry_run and not state.finished


def _first_bytes(path: Path, count: int = 16) -> bytes | None:
    """The first ``count`` bytes of a local output file (the content a URL must start with)."""
    try:
        with path.open("rb") as stream:
            return stream.read(count)
    except OSError:
        return None


def _upload_name(name: str) -> str:
    """The object name below the run's base key: the file path minus the staging folder."""
    for lead in (_steps.STAGE_DIR + "/", _steps.FINAL_DIR + "/"):
        if name.startswith(lead):
            return name[len(lead):]
    return name


def _presign(state: _State, step: str, objects: Sequence[FileEntry]) -> list[FileEntry]:
    """Steps ``presign_images``/``presign``: a URL per object, re-signed when it would expire."""
    config = state.config
    deps = {"objects": _hash_obj([(o["key"], o["sha256"]) for o in objects]),
            "store": _store_id(config, state.out_dir), "expires_s": str(config.expires_s),
            "s3_uri": str(config.s3_uri)}
    rec = state.find(step, deps)
    if rec is not None:
        signed = rec.data["urls"]
        if len(signed) != len(objects):
            raise JournalFormatError(
                f"Journal {str(state.journal.path)!r} record at byte {rec.offset} (step "
                f"{step!r}) holds {len(signed)} URLs for {len(objects)} objects; deleting the "
                f"journal is safe: the run starts over.", source=str(state.journal.path),
                offset=rec.offset, key="urls")
        soonest = min((datetime.fromisoformat(u["expires_at"]) for u in signed), default=None)
        need = _now() + timedelta(seconds=config.min_lifetime_s + _RESIGN_MARGIN_S)
        if state.finished or soonest is None or soonest >= need:
            state.resume(step, rec)
            return [{**o, **u} for o, u in zip(objects, signed, strict=True)]
        log.info("%s: recorded URLs expire at %s, re-signing", step, soonest.isoformat())
    with state.timed(step):
        store = state.store
        urls: list[dict[str, str]] = []
        for index, obj in enumerate(objects):
            signed_url = store.url_for(obj["key"], expires_s=config.expires_s,
                                       min_lifetime_s=config.min_lifetime_s,
                                       as_s3_uri=config.s3_uri)
            urls.append({"url": signed_url.url, "expires_at": signed_url.expires_at.isoformat()})
            state.progress(step, index + 1, len(objects), 0, 0)
        state.record(step, deps, {"urls": urls})
    return [{**o, **u} for o, u in zip(objects, urls, strict=True)]


def _write_frames(state: _State, staged: Sequence[FileEntry],
                  images: Sequence[FileEntry]) -> list[FileEntry]:
    """Step ``write_frames``: the final frames, each image_url replaced by its presigned URL."""
    url_by_name = {_upload_name(o["name"]): o["url"] for o in images}
    deps = {"staged": _hash_obj(staged), "image_urls": _hash_obj(sorted(url_by_name.items()))}
    rec = state.find("write_frames", deps)
    if rec is not None and _files_exist(state.out_dir, rec.data["files"]):
        state.resume("write_frames", rec)
        return list(rec.data["files"])
    with state.timed("write_frames"):
        final_dir = state.out_dir / _steps.FINAL_DIR
        final_dir.mkdir(parents=True, exist_ok=True)
        files: list[FileEntry] = []
        for index, entry in enumerate(staged):
            src = contained(state.out_dir, entry["name"])
            dest = contained(final_dir, _upload_name(entry["name"]))
            size, sha = _steps.rewrite_frame_urls(src, dest, url_by_name)
            files.append({"name": dest.relative_to(state.out_dir).as_posix(),
                          "role": "attachment", "size": size, "sha256": sha})
            state.progress("write_frames", index + 1, len(staged), 0, 0)
        state.record("write_frames", deps, {"files": files})
    return files


def _verify(state: _State, objects: Sequence[FileEntry]) -> None:
    """Step ``verify``: a ranged GET of every URL (attachments and nested images)."""
    if not state.config.verify:
        return
    if state.config.s3_uri:
        note = ("verify skipped: the attachments are s3:// URIs, which only a reader with access "
                "to the bucket (Scale, once granted) can fetch")
        log.warning("%s", note)
        state.warnings.append(note)
        return
    checks = [UrlCheck(o["url"], int(o["size"]),
                       _first_bytes(contained(state.out_dir, o["name"]))
                       or expected_magic_for(o["key"])) for o in objects]
    deps = {"urls": _hash_obj([(c.url, c.expected_size) for c in checks])}
    rec = state.find("verify", deps)
    if rec is not None and not _live(state):  # a live run verifies what it sends, itself
        state.resume("verify", rec)
        return
    if state.finished:
        with state.timed("verify", resumed=True):
            pass
        return
    with state.timed("verify"):
        state.progress("verify", 0, len(checks), 0, 0)
        state.store.verify_urls(checks)
        state.progress("verify", len(checks), len(checks), 0, 0)
        if rec is None:
            state.record("verify", deps, {"count": len(checks)})


@dataclass(frozen=True)
class _Submitted:
    task_id: str | None
    status: str | None
    recovered: bool
    request_path: str | None
    existing: bool = False


def _submit_deps(config: RunConfig, unique_id: str, content: str) -> dict[str, str]:
    return {"content": content, "unique_id": unique_id,
            "mode": "dry" if config.is_dry_run else "live",
            "target": config.api_base_url or "default"}


def _submit(state: _State, attachments: Sequence[str], unique_id: str,
            content: str) -> _Submitted:
    """Step ``submit``: the dry-run request file, or one POST whose unique_id is journaled first."""
    config = state.config
    mode = "dry" if config.is_dry_run else "live"
    deps = _submit_deps(config, unique_id, content)
    rec = state.find("submit", deps)
    if rec is not None:
        state.resume("submit", rec)
        return _Submitted(rec.data.get("task_id"), rec.data.get("status"),
                          bool(rec.data.get("recovered", False)), rec.data.get("request_path"),
                          bool(rec.data.get("existing", False)))
    with state.timed("submit"):
        request = _steps.build_request(config, attachments, unique_id, state.warnings)
        if mode == "dry":
            path = state.out_dir / REQUEST_NAME
            _write_json_atomic(path, _steps.dry_run_request(config, request))
            data: dict[str, Any] = {"task_id": None, "status": None, "request_path": str(path)}
        else:
            if state.find("submit_intent", deps) is None:
                state.record("submit_intent", deps, {"unique_id": unique_id})
            with _slot(state.limiter, "submit"):
                task = _steps.create_task(config, request, throttle=state.limiter)
            notes: list[str] = []
            if task.existing or task.recovered:
                notes = [f"existing task returned, but {note}"
                         for note in differing_settings(request, task)]
                state.warnings.extend(notes)
            data = {"task_id": task.task_id, "status": task.status, "recovered": task.recovered,
                    "existing": task.existing, "request_path": None, "warnings": notes}
        state.progress("submit", 1, 1, 0, 0)
        state.record("submit", deps, data)
    return _Submitted(data.get("task_id"), data.get("status"), bool(data.get("recovered")),
                      data.get("request_path"), bool(data.get("existing")))


# --- the job ------------------------------------------------------------------------------------


def run(
    capture: str | os.PathLike[str],
    config: RunConfig,
    *,
    on_progress: ProgressFn | None = None,
    limiter: FleetLimiter | None = None,
) -> RunResult:
    """Convert, validate, upload, presign, verify and submit one capture; resumes where it stopped.

    Plain-data arguments and a module-level function, so it pickles into process pools.
    ``on_progress`` receives ``PipelineProgress`` events (files and bytes per step); ``limiter``
    (``pipeline.limits.FleetLimiter``) shares upload/submit slots and Retry-After with a fleet.
    """
    capture_path = Path(capture)
    try:
        if not capture_path.exists():
            raise InputError(f"Capture {str(capture_path)!r} does not exist.",
                             source=str(capture_path))
        _steps.check_task_settings(config)  # before anything is written or uploaded
        out_dir = (config.out_dir or default_out_dir(capture_path)).resolve()
        with locked_out_dir(out_dir):
            return _run_locked(capture_path, config, out_dir, on_progress, limiter)
    except OSError as err:  # every reader and writer maps its own; this is the safety net
        where = err.filename if isinstance(err.filename, str) else str(capture_path)
        raise OutputError(f"The run of {str(capture_path)!r} failed on {where!r}: "
                          f"{err.strerror or err}.", path=where) from err


def _slot(limiter: FleetLimiter | None, kind: SlotKind) -> AbstractContextManager[None]:
    return nullcontext() if limiter is None else limiter.slot(kind)


def _run_locked(capture_path: Path, config: RunConfig, out_dir: Path,
                on_progress: ProgressFn | None, limiter: FleetLimiter | None) -> RunResult:
    journal_path = out_dir / JOURNAL_NAME
    state = _State(capture_path, config, out_dir, Journal.open(journal_path), on_progress,
                   limiter)
    state.pending = check_capture(state.journal, capture_path, out_dir)

    files, content = _convert(state)
    geometry = _geometry(state, files, content)
    if config.unique_id is not None:
        unique_id, id_source = config.unique_id, "override"
    else:
        unique_id, id_source = derive_unique_id(config.project, config.batch, content), "derived"
    base = f"{_steps.safe_name(capture_path)}-{content[:16]}"
    submit_deps = _submit_deps(config, unique_id, content)
    state.finished = state.find("submit", submit_deps) is not None

    if config.format == "sfs":
        objects = _upload(state, "upload", files, base)
        signed = _presign(state, "presign", objects)
        everything = signed
        attachments_objs = signed
    else:
        images = [f for f in files if f["role"] == "image"]
        staged = [f for f in files if f["role"] == "attachment"]
        image_objs = _presign(state, "presign_images",
                              _upload(state, "upload_images", images, base))
        frames = _write_frames(state, staged, image_objs)
        attachments_objs = _presign(state, "presign", _upload(state, "upload", frames, base))
        everything = [*attachments_objs, *image_objs]
    attachments = [o["url"] for o in attachments_objs]
    _verify(state, everything)
    submitted = _submit(state, attachments, unique_id, content)

    expiries = [datetime.fromisoformat(o["expires_at"]) for o in everything]
    soonest = min(expiries) if expiries else None
    result = RunResult(
        capture=str(capture_path),
        out_dir=str(out_dir),
        journal_path=str(journal_path),
        format=config.format,
        store=_store_id(config, out_dir).split("@")[0],
        unique_id=unique_id,
        unique_id_source=id_source,
        content_sha256=content,
        dry_run=config.is_dry_run,
        task_id=submitted.task_id,
        task_status=submitted.status,
        task_recovered=submitted.recovered,
        task_existing=submitted.existing,
        request_path=submitted.request_path,
        attachments=attachments,
        objects=[
            RunObject(name=o["name"], role=o["role"], key=o["key"], url=o["url"],
                      size=o["size"], sha256=o["sha256"], uploaded=bool(o.get("uploaded")),
                      expires_at=None if _is_never(o["expires_at"])
                      else datetime.fromisoformat(o["expires_at"]))
            for o in everything
        ],
        urls_expire_at=None if soonest is None or soonest.year == 9999 else soonest,
        bytes_uploaded=state.bytes_uploaded,
        steps=state.timings,
        warnings=state.warnings,
        geometry=geometry,
    )
    _write_json_atomic(out_dir / RESULT_NAME, result.model_dump(mode="json"))
    return result


def _is_never(iso: str) -> bool:
    return iso.startswith("9999-")

