"""upload_many(sha256s=...): a digest the caller already has is trusted for speed, never blindly."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from sfs_kit.errors import ChecksumMismatchError, InputError
from sfs_kit.storage import LocalStore, S3Store


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_s3_known_digest_is_not_recomputed(
    store: S3Store, make_file: Callable[[str, bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"frame bytes " * 100
    path = make_file("a.json", data)

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr("sfs_kit.storage.s3.hashlib.file_digest", no_hashing)
    (stored,) = store.upload_many([(path, "run/a.json")], sha256s={"run/a.json": _digest(data)})
    assert stored.uploaded
    assert stored.sha256 == _digest(data)
    assert store.get_bytes("run/a.json") == data


def test_s3_server_refuses_a_wrong_known_digest(
    store: S3Store, make_file: Callable[[str, bytes], Path]
) -> None:
    path = make_file("b.json", b"what is really in the file")
    wrong = _digest(b"what the caller thought was there")
    with pytest.raises(ChecksumMismatchError):
        store.upload_many([(path, "run/b.json")], sha256s={"run/b.json": wrong})
    assert store.head("run/b.json") is None


def test_local_store_checks_the_known_digest_while_copying(
    local_store: LocalStore, make_file: Callable[[str, bytes], Path]
) -> None:
    path = make_file("c.json", b"real")
    with pytest.raises(ChecksumMismatchError, match=r"changed while it was stored"):
        local_store.upload_many([(path, "run/c.json")], sha256s={"run/c.json": _digest(b"x")})
    (stored,) = local_store.upload_many([(path, "run/c.json")],
                                        sha256s={"run/c.json": _digest(b"real")})
    assert stored.uploaded
    assert local_store.get_bytes("run/c.json") == b"real"


@pytest.mark.parametrize("digest", ["abc", "A" * 64, "g" * 64])
def test_malformed_digest_is_refused_before_anything_is_sent(
    local_store: LocalStore, make_file: Callable[[str, bytes], Path], digest: str
) -> None:
    path = make_file("d.json", b"{}")
    with pytest.raises(InputError, match=r"sha256 of 'run/d.json' must be 64 lowercase hex"):
        local_store.upload_many([(path, "run/d.json")], sha256s={"run/d.json": digest})
    assert local_store.head("run/d.json") is None
