"""``upload`` of a split_base64 frames folder (``convert --format split_base64`` output): the
images go first, then the frames rewritten so each ``image_url`` is its image's uploaded URL
(``pipeline.steps.rewrite_frame_urls``, the step ``run`` uses), so every frame printed is a
self-contained attachment for ``submit``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sfs_kit.errors import InputError

if TYPE_CHECKING:
    from sfs_kit.storage import SignedUrl, StoredObject

__all__ = ["frames_folder", "upload_frames_folder"]

Send = Callable[[list[tuple[Path, str]], str], list["tuple[StoredObject, SignedUrl]"]]


def frames_folder(paths: list[Path]) -> Path | None:
    """The frames folder among ``paths`` whose frames still hold relative image URLs, if any.

    Such a folder must be uploaded on its own (its keys are relative to it)."""
    from sfs_kit.codecs.frame_refs import FRAME_GLOB, relative_image_urls

    found = [p for p in paths if p.is_dir()
             and any(relative_image_urls(f) for f in sorted(p.rglob(FRAME_GLOB)))]
    if not found:
        return None
    if len(paths) > 1:
        raise InputError(
            f"{str(found[0])!r} is a split_base64 frames folder with relative image URLs; upload "
            f"it on its own (sfs-kit upload {str(found[0])!r} ...), so its frames can be "
            f"rewritten to point at the uploaded images.", source=str(found[0]))
    return found[0]


def upload_frames_folder(
    folder: Path, files: list[tuple[Path, str]], send: Send,
) -> list[tuple[StoredObject, SignedUrl]]:
    """Upload the images of ``folder``, then its frames with presigned image URLs; returns the
    frames' (object, URL) pairs in frame order, then the images'."""
    from sfs_kit.codecs.frame_refs import FRAME_GLOB
    from sfs_kit.pipeline.steps import rewrite_frame_urls

    frame_paths = set(folder.rglob(FRAME_GLOB))
    frames = [(p, rel) for p, rel in files if p in frame_paths]
    images = [(p, rel) for p, rel in files if p not in frame_paths]
    signed_images = send(images, "upload images")
    url_by_name = {rel: url.url for (_, rel), (_, url) in zip(images, signed_images, strict=True)}
    with tempfile.TemporaryDirectory(prefix="sfs-kit-frames-") as tmp:
        rewritten: list[tuple[Path, str]] = []
        for path, rel in frames:
            dest = Path(tmp) / rel
            rewrite_frame_urls(path, dest, url_by_name, root=folder)
            rewritten.append((dest, rel))
        signed_frames = send(rewritten, "upload frames")
    return [*signed_frames, *signed_images]
