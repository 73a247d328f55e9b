"""LocalStore(link_files=True) keeps one copy on disk: the stored object is a hard link to the
run's own output, made atomically, and refused (so copied and checked) when the file changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sfs_kit.cli import main
from sfs_kit.errors import ChecksumMismatchError
from sfs_kit.storage.local import LocalStore

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


def test_a_linked_object_is_the_same_file(tmp_path: Path) -> None:
    source = tmp_path / "scene.sfs"
    source.write_bytes(b"x" * 1000)
    stored = LocalStore(tmp_path / "store", link_files=True).put_file(source, "a/scene.sfs")
    target = tmp_path / "store" / "a" / "scene.sfs"
    assert target.stat().st_ino == source.stat().st_ino
    assert stored.sha256 == hashlib.sha256(b"x" * 1000).hexdigest()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]
    copied = LocalStore(tmp_path / "copies").put_file(source, "a/scene.sfs")
    assert (tmp_path / "copies" / "a" / "scene.sfs").stat().st_ino != source.stat().st_ino
    assert copied.sha256 == stored.sha256


def test_a_file_changed_since_it_was_hashed_is_not_linked(tmp_path: Path) -> None:
    source = tmp_path / "scene.sfs"
    source.write_bytes(b"old content")
    old = hashlib.sha256(b"old content").hexdigest()
    source.write_bytes(b"new content")  # changed after the caller hashed it
    store = LocalStore(tmp_path / "store", link_files=True)
    with pytest.raises(ChecksumMismatchError):
        store.upload_many([(source, "scene.sfs")], sha256s={"scene.sfs": old})
    assert not (tmp_path / "store" / "scene.sfs").exists()


def test_a_local_run_keeps_one_copy_of_its_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(SAMPLE), "--out", str(out), "--dry-run", "--project", "p"]) == 0
    files = [p for p in out.rglob("*.sfs") if p.is_file()]
    assert len(files) == 2  # the run folder's scene and the store's object
    assert files[0].stat().st_ino == files[1].stat().st_ino
