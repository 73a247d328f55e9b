"""Suite-wide fixtures: no AWS or proxy settings leak in, and botocore never probes metadata."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Shared server fixtures (one SeaweedFS and one Scale stand-in per session, for every folder).
pytest_plugins = ("_servers.s3_fixtures", "_servers.scale_standin")

# Property tests draw the same examples on every run, so the suite passes or fails the same way in
# CI as here; `HYPOTHESIS_PROFILE=explore` draws fresh ones (a fuzz session, not the gate).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

_SCRUBBED_PREFIXES = ("AWS_", "SCALE_", "SFS_KIT_")
_SCRUBBED = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
             "http_proxy", "https_proxy", "all_proxy", "no_proxy"}


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Remove AWS_*, SCALE_*, SFS_KIT_* and proxy variables; point AWS config files at nothing."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES) or name in _SCRUBBED:
            monkeypatch.delenv(name, raising=False)
    nowhere: Path = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
