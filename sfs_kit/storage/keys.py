"""Object keys: build ``{prefix}/{scene_id}/...`` and refuse anything that could escape a prefix."""

from __future__ import annotations

import re
import unicodedata

from sfs_kit.errors import InvalidKeyError

__all__ = ["MAX_KEY_BYTES", "key_for"]

MAX_KEY_BYTES = 1024  # S3's limit on the UTF-8 length of a key
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def key_for(*parts: str) -> str:
    """Join ``parts`` with ``/`` into one normalised key.

    Normalisation: NFC, backslashes become ``/``, empty and ``.`` segments vanish, so
    ``key_for("", "scene 1", "./a.sfs")`` is ``"scene 1/a.sfs"``. Refused with
    ``InvalidKeyError``: a ``..`` segment, an absolute path (leading ``/`` or a drive letter),
    control characters, an empty result, or more than 1024 UTF-8 bytes.
    """
    segments: list[str] = []
    for index, part in enumerate(parts):
        if not isinstance(part, str):
            raise InvalidKeyError(f"Key part {index} must be a string, not {type(part).__name__}.")
        if _CONTROL.search(part):
            raise InvalidKeyError(f"Key part {part!r} contains a control character.", key=part)
        text = unicodedata.normalize("NFC", part).replace("\\", "/")
        if text.startswith("/") or _DRIVE.match(text):
            raise InvalidKeyError(
                f"Key part {part!r} is an absolute path; keys must be relative.", key=part
            )
        for segment in text.split("/"):
            if segment == "..":
                raise InvalidKeyError(
                    f"Key part {part!r} contains a '..' segment, which is not allowed.", key=part
                )
            if segment not in ("", "."):
                segments.append(segment)
    key = "/".join(segments)
    if not key:
        raise InvalidKeyError(f"Key from parts {parts!r} is empty.")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"Key {key[:60]!r}... is {size} bytes long; at most {MAX_KEY_BYTES} are allowed.",
            key=key,
        )
    return key
