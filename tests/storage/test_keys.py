"""key_for: normalisation and refusal of keys that could escape a prefix."""

from __future__ import annotations

import pytest

from sfs_kit.errors import InvalidKeyError
from sfs_kit.storage import key_for


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("prefix", "scene-1", "scene.sfs"), "prefix/scene-1/scene.sfs"),
        (("", "scene-1", "frames/0001.json"), "scene-1/frames/0001.json"),
        (("a//b/", "./c", "d/./e.jpg"), "a/b/c/d/e.jpg"),
        (("win\\path", "x.png"), "win/path/x.png"),
        (("scene 1", "ü ñ.json"), "scene 1/ü ñ.json"),
        (("cafe\u0301",), "caf\u00e9"),  # NFC
        (("a..b", "...", "c."), "a..b/.../c."),
    ],
)
def test_key_for_normalises(parts: tuple[str, ...], expected: str) -> None:
    assert key_for(*parts) == expected


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("a", "../b"), r"Key part '\.\./b' contains a '\.\.' segment, which is not allowed\."),
        (("a/..",), r"contains a '\.\.' segment"),
        (("a\\..\\b",), r"contains a '\.\.' segment"),
        (("/etc/passwd",), r"Key part '/etc/passwd' is an absolute path; keys must be relative\."),
        (("C:/x",), r"is an absolute path"),
        (("a", "b\nc"), r"Key part 'b\\nc' contains a control character\."),
        (("a\x00",), r"contains a control character"),
        (("a\x7f",), r"contains a control character"),
        (("", "./", "."), r"Key from parts \('', '\./', '\.'\) is empty\."),
        ((), r"Key from parts \(\) is empty\."),
        (("é" * 600,), r"is 1200 bytes long; at most 1024 are allowed\."),
    ],
)
def test_key_for_refuses(parts: tuple[str, ...], message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        key_for(*parts)


def test_key_for_refuses_non_strings() -> None:
    with pytest.raises(InvalidKeyError, match=r"Key part 1 must be a string, not int\."):
        key_for("a", 3)  # type: ignore[arg-type]
