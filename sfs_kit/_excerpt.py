"""Quoting input in messages: at most a short, printable, truncated excerpt (imports nothing).

Errors that quote a file's content or a token go through ``excerpt`` so a 1 MB token never
becomes a 1 MB message, and bytes from ``/proc/self/environ`` or a binary file never reach a
terminal raw: control characters are escaped, the length is capped.
"""

from __future__ import annotations

__all__ = ["EXCERPT_CHARS", "excerpt"]

EXCERPT_CHARS = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr``-style quote of ``value`` (str, bytes or anything), at most ~``limit`` characters.

    Strings and bytes are quoted with non-printable characters escaped; longer values are cut
    and end with ``...`` plus the full length, e.g. ``'aaaa...' (1048576 chars)``.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value[: limit * 4])
        text, total, unit = raw.decode("utf-8", "backslashreplace"), len(value), "bytes"
    elif isinstance(value, str):
        text, total, unit = value[: limit * 4], len(value), "chars"
    else:
        text = repr(value)
        if len(text) <= limit:
            return text
        return text[: limit - 3] + "..."
    shown = "".join(c if c.isprintable() else _escape(c) for c in text)
    cut = total > limit or len(shown) > limit
    shown = shown[:limit]
    quoted = "'" + shown.replace("'", "\\'") + ("...'" if cut else "'")
    return f"{quoted} ({total} {unit})" if cut else quoted


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
