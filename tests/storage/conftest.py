"""Storage fixtures: the session SeaweedFS server, a fresh bucket per test, stores on both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _servers.seaweed import SeaweedServer
from boto3.s3.transfer import TransferConfig

from sfs_kit.storage import LocalStore, S3Store

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

MiB = 1024 * 1024
# S3's smallest part is 5 MiB; a low threshold makes an 11 MiB file a 3-part multipart upload.
SMALL_PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                             max_concurrency=2)


@pytest.fixture
def store(s3_server: SeaweedServer, s3_bucket: str) -> S3Store:
    """An S3Store on a fresh bucket with 5 MiB parts."""
    return S3Store(s3_bucket, client=s3_server.client(), transfer_config=SMALL_PARTS)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    """A LocalStore in a fresh directory."""
    return LocalStore(tmp_path / "store")


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """Write ``data`` to ``tmp_path/src/name`` and return the path."""

    def make(name: str, data: bytes) -> Path:
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return make


def count_requests(client: S3Client) -> dict[str, int]:
    """Count the requests ``client`` sends, by operation name (botocore ``before-send`` hook)."""
    counts: dict[str, int] = {}

    def on_send(event_name: str, **kwargs: object) -> None:
        name = event_name.rsplit(".", 1)[-1]  # before-send.s3.PutObject -> PutObject
        counts[name] = counts.get(name, 0) + 1

    client.meta.events.register("before-send.s3", on_send)
    return counts
