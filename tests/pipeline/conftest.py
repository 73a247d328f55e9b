"""Pipeline test fixtures: no SFS_KIT_* settings leak in from the caller's environment."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_sfs_kit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SFS_KIT_"):
            monkeypatch.delenv(name, raising=False)
