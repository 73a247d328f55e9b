"""A ``capture.yaml`` that points at a recording: ``recording: drive.mcap`` plus mapping keys."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from sfs_kit._documents import load_document
from sfs_kit._excerpt import excerpt
from sfs_kit._paths import read_input_text
from sfs_kit.capture.recording.options import RecordingManifest
from sfs_kit.errors import InputError

__all__ = ["load_recording_manifest", "recording_path"]


def load_recording_manifest(path: Path) -> RecordingManifest | None:
    """The manifest's recording mapping, or ``None`` when it has no top-level ``recording`` key."""
    source = str(path)
    text = read_input_text(path, what="capture manifest")
    raw = load_document(text, source=source, what="Capture manifest")
    if not isinstance(raw, dict) or "recording" not in raw:
        return None
    try:
        return RecordingManifest.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"Capture manifest {source!r}: field {field!r}: {first['msg']} "
            f"({err.error_count()} problem(s) in total).",
            source=source,
            field=field,
        ) from err


def recording_path(manifest_path: Path, manifest: RecordingManifest) -> Path:
    """The recording the manifest names, relative to its folder; it must stay inside it."""
    base = manifest_path.parent.resolve()
    try:
        target = (base / manifest.recording).resolve()
        exists = target.exists()
    except (OSError, ValueError) as err:  # a name over 255 bytes, a NUL, a symlink loop
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise InputError(
            f"Capture manifest {str(manifest_path)!r}: recording {excerpt(manifest.recording)} "
            f"cannot be opened ({reason}).",
            source=str(manifest_path),
            field="recording",
        ) from err
    if not target.is_relative_to(base):
        raise InputError(
            f"Capture manifest {str(manifest_path)!r}: recording {manifest.recording!r} lies "
            f"outside the manifest's folder.",
            source=str(manifest_path),
            field="recording",
        )
    if not exists:
        raise InputError(
            f"Capture manifest {str(manifest_path)!r}: recording {manifest.recording!r} does not "
            f"exist.",
            source=str(manifest_path),
            field="recording",
        )
    return target
