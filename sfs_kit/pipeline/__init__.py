"""The whole job, capture to Scale task: ``sfs_kit.run(capture, config) -> RunResult``, resumable.

The function lives in ``sfs_kit.pipeline.run`` (``from sfs_kit.pipeline.run import run``); it is
not re-exported here so that the name ``sfs_kit.pipeline.run`` stays the module.

``RunConfig``/``load_config`` hold the settings (CLI > env > ``sfs-kit.toml`` > defaults); the
msgpack journal (``journal.py``) makes re-runs continue where they stopped. The names load on
first use (``sfs_kit._lazy``): ``convert`` reads its settings from ``pipeline.config`` without
loading the run's journal and results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfs_kit._lazy import lazy_getattr

if TYPE_CHECKING:
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

_MODULES: dict[str, str] = {  # public name -> the module defining it
    "RunConfig": "sfs_kit.pipeline.config",
    "load_config": "sfs_kit.pipeline.config",
    "parse_duration_s": "sfs_kit.pipeline.config",
    "content_sha256": "sfs_kit.pipeline.ids",
    "derive_unique_id": "sfs_kit.pipeline.ids",
    "Journal": "sfs_kit.pipeline.journal",
    "JournalRecord": "sfs_kit.pipeline.journal",
    "read_journal": "sfs_kit.pipeline.journal",
    "PipelineProgress": "sfs_kit.pipeline.result",
    "RunObject": "sfs_kit.pipeline.result",
    "RunResult": "sfs_kit.pipeline.result",
    "StepTiming": "sfs_kit.pipeline.result",
}

__getattr__ = lazy_getattr(__name__, _MODULES)
