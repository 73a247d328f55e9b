"""Pytest fixtures for a real S3 server; import them into a conftest.py to use them.

``from _servers.s3_fixtures import s3_bucket, s3_client, s3_server  # noqa: F401``

``s3_server`` runs one SeaweedFS for the whole session; ``s3_bucket`` makes a fresh bucket per
test; ``s3_client`` is a new boto3 client with the server's test keys.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from _servers.seaweed import SeaweedServer, seaweed_server

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["s3_bucket", "s3_client", "s3_server"]

_counter = itertools.count()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedServer]:
    """One SeaweedFS server for the session (fails, never skips, when ``weed`` is missing)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    try:
        with seaweed_server(base) as server:
            yield server
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture
def s3_client(s3_server: SeaweedServer) -> S3Client:
    """A fresh boto3 client for the session server."""
    return s3_server.client()


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    """A new, empty bucket with a unique S3-valid name."""
    name = f"t{os.getpid()}-{next(_counter)}"
    s3_client.create_bucket(Bucket=name)
    return name
