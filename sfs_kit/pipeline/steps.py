"""The pipeline's calls into the other layers: convert, frame URL rewriting, request, submit.

Kept apart from ``run.py`` (which owns ordering, journaling and resumption) so each adapter is
small and can be replaced in tests with ``monkeypatch``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sfs_kit._atomic import write_bytes_atomic
from sfs_kit.errors import FrameFormatError, InputError, TaskRequestError
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.storage import sha256_file
from sfs_kit.submit import DryRunRequest, ScaleClient, Task, TaskRequest
from sfs_kit.submit.client import RequestThrottle

if TYPE_CHECKING:
    from sfs_kit.capture.base import Capture
    from sfs_kit.capture.convert import ConvertResult
    from sfs_kit.capture.options import ConvertOptions
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = [
    "CONVERTER_VERSION",
    "FINAL_DIR",
    "STAGE_DIR",
    "Converted",
    "ConvertedFile",
    "build_request",
    "check_task_settings",
    "convert",
    "create_task",
    "dry_run_request",
    "rewrite_frame_urls",
    "safe_name",
]

log = logging.getLogger(__name__)

CONVERTER_VERSION = "1"  # bump when the encoded output of the same capture changes
STAGE_DIR = "staged"  # split_base64: frames with relative image URLs, and the images
FINAL_DIR = "upload"  # split_base64: the frames with presigned image URLs
SFS_NAME = "scene.sfs"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PLACEHOLDER_URL = "https://example.invalid/attachment-{index}"
_PLACEHOLDER_PROJECT = "placeholder-project"
_TOLERATED_IN_DRY_RUN = ("http_url", "project_or_batch", "url_scheme")


@dataclass(frozen=True)
class ConvertedFile:
    """One file written by ``convert``: its path relative to the output directory."""

    name: str
    role: Literal["attachment", "image"]
    size: int
    sha256: str


@dataclass(frozen=True)
class Converted:
    """What ``convert`` produced: files in attachment order, then images; validation warnings."""

    files: list[ConvertedFile]
    warnings: list[str]


def safe_name(capture: Path) -> str:
    """The capture's name as a key segment (letters, digits, ``._-``)."""
    name = capture.stem if capture.is_file() else capture.name
    return _SAFE.sub("_", name).strip("._") or "capture"


def _entry(out_dir: Path, path: Path, role: Literal["attachment", "image"]) -> ConvertedFile:
    return ConvertedFile(path.relative_to(out_dir).as_posix(), role, path.stat().st_size,
                         sha256_file(path))


def convert(
    capture: Path,
    out_dir: Path,
    fmt: Literal["sfs", "split_base64"],
    *,
    options: ConvertOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    recording: RecordingOptions | None = None,
) -> Converted:
    """Read, validate (errors raise ``SceneValidationError``) and encode the capture with
    ``options`` (recentring, thinning, ...).

    sfs: ``<out>/scene.sfs``. split_base64: ``<out>/staged/`` holds ``frame-*.json`` (image URLs
    relative to it) and ``images/``; a stale staging folder from an interrupted run is replaced.
    """
    from sfs_kit.capture.convert import convert_capture
    from sfs_kit.capture.layout import open_capture

    source: Capture | Path = capture
    if recording is not None:  # the mapping of a ROS recording (the other layouts ignore it)
        rate = None if options is None else options.frame_rate_hz
        source = open_capture(capture, recording=recording, frame_rate_hz=rate)
    if fmt == "sfs":
        target = out_dir / SFS_NAME
        result = convert_capture(source, target, format="sfs", options=options,
                                 on_progress=on_progress)
        _drop_other_format(out_dir, fmt)
        return Converted([_entry(out_dir, target, "attachment")], _notes(result))
    stage = out_dir / STAGE_DIR
    if stage.exists():
        shutil.rmtree(stage)
    result = convert_capture(source, stage, format="split_base64", options=options,
                             on_progress=on_progress)
    _drop_other_format(out_dir, fmt)
    frames = [Path(p) for p in result.paths if Path(p).name.startswith("frame-")]
    images = [Path(p) for p in result.paths if not Path(p).name.startswith("frame-")]
    files = [_entry(out_dir, p, "attachment") for p in frames]
    files += [_entry(out_dir, p, "image") for p in images]
    return Converted(files, _notes(result))


def _drop_other_format(out_dir: Path, fmt: str) -> None:
    """After a successful conversion, remove what the other format left in the run folder (a
    run switched from sfs to split_base64 or back): ``scene.sfs``, or the staged and upload
    frame folders. Store objects stay: an earlier task may point at them."""
    if fmt == "sfs":
        for name in (STAGE_DIR, FINAL_DIR):
            shutil.rmtree(out_dir / name, ignore_errors=True)
    else:
        (out_dir / SFS_NAME).unlink(missing_ok=True)


def _notes(result: ConvertResult) -> list[str]:
    """Validation warnings and converter notes, as text."""
    return [*(str(issue) for issue in result.issues), *result.notes]


def _upload_relative(stage_root: Path, frame: Path, image_url: str) -> str:
    """The staged image's path below ``stage_root`` that a relative ``image_url`` points at."""
    rel_frame_dir = frame.parent.relative_to(stage_root).as_posix()
    joined = posixpath.normpath(posixpath.join(rel_frame_dir, image_url))
    if joined.startswith("../") or joined == "..":
        joined = posixpath.normpath(image_url)
    return joined


def rewrite_frame_urls(src: Path, dest: Path, url_by_name: Mapping[str, str], *,
                       root: Path | None = None) -> tuple[int, str]:
    """Copy frame ``src`` to ``dest`` with each relative ``images[].image_url`` presigned.

    ``url_by_name`` maps an image's path below the frames folder ``root`` (default: the
    ``staged`` folder above ``src``, as ``run`` writes it) to its URL. The JSON keeps its key
    order and compact separators; floats survive (shortest repr). Returns (size, sha256).
    ``run`` and ``upload`` of a frames folder both write their frames with it.
    """
    source = str(src)
    try:
        frame = json.loads(src.read_bytes())
    except (OSError, ValueError) as err:
        raise FrameFormatError(f"Frame {source!r} cannot be read as JSON ({err}).",
                               source=source) from err
    images = frame.get("images", []) if isinstance(frame, dict) else None
    if not isinstance(images, list):
        raise FrameFormatError(f"Frame {source!r} key 'images' must be a list.", source=source,
                               key="images")
    stage_root = src.parent if root is None else root
    while root is None and stage_root.name != STAGE_DIR and stage_root != stage_root.parent:
        stage_root = stage_root.parent
    for index, image in enumerate(images):
        url = image.get("image_url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            raise FrameFormatError(f"Frame {source!r} images[{index}].image_url must be a string.",
                                   source=source, key=f"images[{index}].image_url")
        name = _upload_relative(stage_root, src, url)
        signed = url_by_name.get(name)
        if signed is None:
            raise FrameFormatError(
                f"Frame {source!r} images[{index}].image_url {url!r} names no converted image.",
                source=source, key=f"images[{index}].image_url",
            )
        image["image_url"] = signed
    data = json.dumps(frame, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(dest, data, mode=0o600)  # the frame holds presigned image URLs
    return len(data), hashlib.sha256(data).hexdigest()


def _request_fields(config: RunConfig, attachments: Sequence[str],
                    unique_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": config.project,
        "batch": config.batch,
        "instruction": config.instruction,
        "callback_url": config.callback_url,
        "attachments": list(attachments),
        "scene_format": "sensor_fusion" if config.format == "sfs" else "split_base64",
        "blueprint_id": config.blueprint_id,
        "metadata": dict(config.metadata) or None,
        "unique_id": unique_id,
        "priority": config.priority,
        "tags": list(config.tags) or None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def build_request(config: RunConfig, attachments: Sequence[str], unique_id: str,
                  warnings: list[str] | None = None) -> TaskRequest:
    """The validated ``TaskRequest``; in a dry run, ``file://`` URLs and a missing project are
    tolerated (the embedded default has neither a bucket nor a project) and noted in ``warnings``.
    """
    fields = _request_fields(config, attachments, unique_id)
    try:
        return TaskRequest(**fields)
    except TaskRequestError as err:
        if not config.is_dry_run or err.rule not in _TOLERATED_IN_DRY_RUN:
            raise
        probe = dict(fields)
        probe["attachments"] = [_PLACEHOLDER_URL.format(index=i) for i in range(len(attachments))]
        if "project" not in probe and "batch" not in probe:
            probe["project"] = _PLACEHOLDER_PROJECT
        TaskRequest(**probe)  # any other violation raises here
        note = (f"dry run: the request would be refused by Scale ({str(err).rstrip('.')}); "
                f"it is written for inspection only.")
        log.info("%s", note)
        if warnings is not None:
            warnings.append(note)
        return TaskRequest.model_construct(**fields)


def check_task_settings(config: RunConfig) -> None:
    """Validate the task fields of ``config`` (project/batch, priority, tags, callback_url,
    metadata, instruction, blueprint_id, unique_id) before any work, so a bad setting fails in
    a second instead of after the upload; raises ``TaskRequestError``.

    A probe request carries placeholder https attachments (the real URLs do not exist yet), and in
    a dry run a placeholder project when none is set (tolerated there, see ``build_request``).
    """
    count = 1 if config.format == "sfs" else 2
    placeholders = [_PLACEHOLDER_URL.format(index=i) for i in range(count)]
    fields = _request_fields(config, placeholders, config.unique_id or "placeholder-unique-id")
    if config.is_dry_run and "project" not in fields and "batch" not in fields:
        fields["project"] = _PLACEHOLDER_PROJECT
    TaskRequest(**fields)


def _client(config: RunConfig, throttle: RequestThrottle | None = None) -> ScaleClient:
    key = config.api_key.get_secret_value() if config.api_key is not None else None
    return ScaleClient(key, base_url=config.api_base_url, throttle=throttle)


def dry_run_request(config: RunConfig, request: TaskRequest) -> dict[str, Any]:
    """The exact request (method, URL, headers with Authorization redacted, body) as JSON data."""
    client = _client(config)
    try:
        dry = client.create_multistage_task(request, dry_run=True)
    finally:
        client.close()
    if not isinstance(dry, DryRunRequest):  # pragma: no cover - the client's contract
        raise InputError("The dry run returned a task instead of a request.")
    return dry.model_dump(mode="json")


def create_task(config: RunConfig, request: TaskRequest, *,
                throttle: RequestThrottle | None = None) -> Task:
    """POST the task; a 409 for our unique_id returns the existing task (spec §5.5, D26) when it
    is ours (same scene_format and attachments), else raises ``DuplicateTaskError``. ``throttle``
    (a fleet's limiter) is consulted before every request and hears every Retry-After."""
    client = _client(config, throttle)
    try:
        task = client.create_multistage_task(request, on_duplicate="return_existing")
    finally:
        client.close()
    if not isinstance(task, Task):  # pragma: no cover - the client's contract
        raise InputError("The submission returned a dry-run request instead of a task.")
    return task
