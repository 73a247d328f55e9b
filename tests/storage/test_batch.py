"""``run_upload_many`` scheduling, with a recording ``put_file`` (no store, no server)."""

from __future__ import annotations

import threading
from pathlib import Path

from sfs_kit.storage._batch import BytesCallback, run_upload_many
from sfs_kit.storage.base import StoredObject


def test_largest_files_start_first_and_results_keep_input_order(tmp_path: Path) -> None:
    sizes = [3, 50, 0, 700, 20]
    items: list[tuple[str | Path, str]] = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(bytes(size))
        items.append((path, f"k/f{i}.bin"))
    started: list[str] = []
    lock = threading.Lock()

    def put_file(path: Path, key: str, on_bytes: BytesCallback) -> StoredObject:
        with lock:
            started.append(key)
        size = path.stat().st_size
        on_bytes(size)
        return StoredObject(key, size, "", "application/octet-stream", uploaded=True)

    results = run_upload_many(put_file, items, max_workers=1, on_progress=None)
    assert started == ["k/f3.bin", "k/f1.bin", "k/f4.bin", "k/f0.bin", "k/f2.bin"]
    assert [r.key for r in results] == [key for _, key in items]
    assert [r.size for r in results] == sizes
