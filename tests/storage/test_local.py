"""LocalStore: the embedded default store behaves like S3Store (idempotency, URLs, verification)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from sfs_kit.errors import (
    ChecksumMismatchError,
    InputError,
    InvalidKeyError,
    PresignError,
    StorageError,
    StorageNotFoundError,
    UrlVerificationError,
)
from sfs_kit.storage import LocalStore, ObjectStore, ProgressEvent, S3Store, UrlCheck

MakeFile = Callable[[str, bytes], Path]


def test_both_stores_satisfy_the_protocol(local_store: LocalStore) -> None:
    assert isinstance(local_store, ObjectStore)
    assert issubclass(S3Store, ObjectStore)


def test_put_file_copies_and_records_sha256(local_store: LocalStore, make_file: MakeFile) -> None:
    data = b'{"a": 1}'
    stored = local_store.put_file(make_file("f.json", data), "scene/f.json")
    assert stored.uploaded
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "application/json"
    assert (local_store.root / "scene" / "f.json").read_bytes() == data
    assert local_store.get_bytes("scene/f.json") == data
    sidecar = local_store.root / ".sfs-kit" / "meta" / "scene" / "f.json.json"
    meta = json.loads(sidecar.read_text())
    assert meta["sha256"] == stored.sha256
    assert local_store.head("scene/f.json") == stored.__class__(
        "scene/f.json", len(data), stored.sha256, "application/json", uploaded=False
    )
    assert local_store.head("scene/none.json") is None


def test_unchanged_file_is_not_copied_again(local_store: LocalStore, make_file: MakeFile) -> None:
    path = make_file("a.sfs", b"{abc")
    local_store.put_file(path, "a.sfs")
    target = local_store.root / "a.sfs"
    before = target.stat().st_mtime_ns, target.stat().st_ino
    assert not local_store.put_file(path, "a.sfs").uploaded
    assert (target.stat().st_mtime_ns, target.stat().st_ino) == before
    path.write_bytes(b"{abd")
    assert local_store.put_file(path, "a.sfs").uploaded
    assert target.read_bytes() == b"{abd"


def test_stale_sidecar_is_ignored(local_store: LocalStore) -> None:
    local_store.put_bytes(b"one", "k.bin")
    (local_store.root / "k.bin").write_bytes(b"two!")  # changed behind the store's back
    head = local_store.head("k.bin")
    assert head is not None
    assert head.sha256 == hashlib.sha256(b"two!").hexdigest()
    assert local_store.put_bytes(b"one", "k.bin").uploaded


def test_no_temporary_files_are_left(local_store: LocalStore, make_file: MakeFile) -> None:
    local_store.put_file(make_file("a.jpg", b"\xff\xd8\xff" + bytes(3_000_000)), "d/a.jpg")
    names = sorted(p.name for p in (local_store.root / "d").iterdir())
    assert names == ["a.jpg"]


def test_put_stream_checks_the_digest(local_store: LocalStore) -> None:
    data = os.urandom(3000)
    digest = hashlib.sha256(data).hexdigest()
    assert local_store.put_stream(io.BytesIO(data), "s.bin", size=3000, sha256=digest).uploaded
    assert not local_store.put_stream(io.BytesIO(data), "s.bin", size=3000, sha256=digest).uploaded
    with pytest.raises(ChecksumMismatchError, match=r"Stream for 'bad\.bin' gave 3000 bytes with "
                       r"sha256 [0-9a-f]{64}, expected 3000 bytes with sha256 0{64}; nothing was "
                       r"stored\."):
        local_store.put_stream(io.BytesIO(data), "bad.bin", size=3000, sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match=r"gave 3001 bytes"):
        local_store.put_stream(io.BytesIO(data + b"x"), "bad.bin", size=3000, sha256=digest)
    assert local_store.head("bad.bin") is None
    assert sorted(p.name for p in local_store.root.iterdir()) == [".sfs-kit", "s.bin"]


def test_upload_many_progress_and_order(local_store: LocalStore, make_file: MakeFile) -> None:
    items = [(make_file(f"f{i}.json", b"{" + bytes(10 * i)), f"s/f{i}.json") for i in range(5)]
    events: list[ProgressEvent] = []
    results = local_store.upload_many(items, max_workers=2, on_progress=events.append)
    assert [r.key for r in results] == [k for _, k in items]
    assert events[-1].bytes_done == events[-1].bytes_total == sum(1 + 10 * i for i in range(5))
    assert events[-1].files_done == 5
    assert not any(r.uploaded for r in local_store.upload_many(items))


def test_upload_many_refuses_bad_batches_before_writing(
    local_store: LocalStore, make_file: MakeFile, tmp_path: Path
) -> None:
    a = make_file("a.json", b"{}")
    with pytest.raises(InvalidKeyError, match=r"Key 'x\.json' is given twice, for '.*a\.json'"):
        local_store.upload_many([(a, "x.json"), (a, "./x.json")])
    with pytest.raises(InputError, match=r"Cannot upload '.*missing\.json': No such file"):
        local_store.upload_many([(a, "a.json"), (tmp_path / "missing.json", "m.json")])
    with pytest.raises(InputError, match=r"Cannot upload '.*src': not a regular file\."):
        local_store.upload_many([(tmp_path / "src", "d")])
    with pytest.raises(InputError, match=r"max_workers must be at least 1, got 0\."):
        local_store.upload_many([(a, "a.json")], max_workers=0)
    assert local_store.head("a.json") is None
    assert local_store.upload_many([]) == []


def test_upload_many_stops_at_the_first_failure(
    local_store: LocalStore, make_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [(make_file(f"f{i}.json", b"{}"), f"f{i}.json") for i in range(4)]
    real = local_store._put_file

    def flaky(path: Path, key: str, on_bytes: Callable[[int], None],
              known_sha256: str | None = None) -> object:
        if key == "f1.json":
            raise StorageError("injected failure.", key=key)
        return real(path, key, on_bytes, known_sha256=known_sha256)

    monkeypatch.setattr(local_store, "_put_file", flaky)
    with pytest.raises(StorageError, match=r"^injected failure\.$"):
        local_store.upload_many(items, max_workers=1)


def test_unreadable_source_is_an_input_error(local_store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Cannot store '.*nope\.sfs' as 'n\.sfs': No such file"):
        local_store.put_file(tmp_path / "nope.sfs", "n.sfs")


def test_reserved_and_invalid_keys(local_store: LocalStore) -> None:
    with pytest.raises(InvalidKeyError, match=r"Key '\.sfs-kit/x' is inside the reserved "
                       r"'\.sfs-kit' folder\."):
        local_store.put_bytes(b"x", ".sfs-kit/x")
    with pytest.raises(InvalidKeyError, match=r"contains a '\.\.' segment"):
        local_store.put_bytes(b"x", "../escape")
    assert not (local_store.root.parent / "escape").exists()


def test_missing_object(local_store: LocalStore) -> None:
    with pytest.raises(StorageNotFoundError, match=r"Object 'gone\.sfs' does not exist in '"):
        local_store.get_bytes("gone.sfs")


def test_file_urls_and_verification(local_store: LocalStore) -> None:
    local_store.put_bytes(b"\x89PNG\r\n\x1a\nrest", "cam 1/ü.png")
    signed = local_store.url_for("cam 1/ü.png")
    assert signed.url.startswith("file://")
    assert "cam%201/%C3%BC.png" in signed.url
    with urllib.request.urlopen(signed.url) as response:
        assert response.read() == b"\x89PNG\r\n\x1a\nrest"
    local_store.verify_urls([UrlCheck(signed.url, 12, b"\x89PNG\r\n\x1a\n")])
    with pytest.raises(UrlVerificationError, match=r"has 12 bytes, expected 13\.$"):
        local_store.verify_urls([UrlCheck(signed.url, 13, None)])
    with pytest.raises(UrlVerificationError, match=r"starts with b'\\x89', expected b'\{'"):
        local_store.verify_urls([UrlCheck(signed.url, 12, b"{")])
    missing = local_store.root.joinpath("missing.sfs").as_uri()
    with pytest.raises(UrlVerificationError, match=r"missing\.sfs cannot be read \(No such file"):
        local_store.verify_urls([UrlCheck(missing, 1, None)])
    with pytest.raises(UrlVerificationError, match=r"URL 'ftp://h/x' has unsupported scheme 'ftp'"):
        local_store.verify_urls([UrlCheck("ftp://h/x", 1, None)])


def test_local_urls_follow_the_same_lifetime_rules(local_store: LocalStore) -> None:
    with pytest.raises(PresignError, match=r"exceeds the SigV4 maximum of 604800 s"):
        local_store.url_for("a.sfs", expires_s=604_801)
    with pytest.raises(StorageError, match=r"A local store has no s3:// URI for 'a\.sfs'\."):
        local_store.url_for("a.sfs", as_s3_uri=True)


def test_prefix_and_key_for(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s", prefix="/runs/")
    assert store.key_for("scene", "a.sfs") == "runs/scene/a.sfs"
    assert LocalStore(tmp_path / "t").key_for("a.sfs") == "a.sfs"


def test_root_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageError, match=r"Cannot create the store directory '.*file/sub'"):
        LocalStore(blocker / "sub")
