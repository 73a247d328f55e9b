"""Fixtures of the hostile-input tests: the test S3 server's credentials in the environment."""

from __future__ import annotations

import pytest
from _servers.seaweed import SeaweedServer


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_server: SeaweedServer) -> SeaweedServer:
    """AWS credentials of the test server in the environment (as a user would set them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    return s3_server
