"""The whole job, capture to Scale task: ``sfs_kit.run(capture, config) -> RunResult``, resumable.

The function lives in ``sfs_kit.pipeline.run`` (``from sfs_kit.pipeline.run import run``); it is
not re-exported here so that the name ``sfs_kit.pipeline.run`` stays the module.

``RunConfig``/``load_config`` hold the settings (CLI > env > ``sfs-kit.toml`` > defaults); the
msgpack journal (``journal.py``) makes re-runs continue where they stopped.
"""

from __future__ import annotations

from sfs_kit.pipeline.config import RunConfig, load_config, parse_duration_s
from sfs_kit.pipeline.ids import content_sha256, derive_unique_id
from sfs_kit.pipeline.journal import Journal, JournalRecord, read_journal
from sfs_kit.pipeline.result import PipelineProgress, RunObject, RunResult, StepTiming

__all__ = [
    "Journal",
    "JournalRecord",
    "PipelineProgress",
    "RunConfig",
    "RunObject",
    "RunResult",
    "StepTiming",
    "content_sha256",
    "derive_unique_id",
    "load_config",
    "parse_duration_s",
    "read_journal",
]
