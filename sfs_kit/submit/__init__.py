"""The thin submitter for Scale's multi-stage task endpoint (spec §5); knows nothing of scenes.

``TaskRequest`` checks the body before anything is sent, ``ScaleClient`` sends it without ever
creating a duplicate task, ``Task`` is the answer. Imports only ``sfs_kit.errors`` from sfs_kit.
"""

from __future__ import annotations

from sfs_kit.submit.client import ScaleClient
from sfs_kit.submit.request import TaskRequest
from sfs_kit.submit.task import DryRunRequest, Task

__all__ = ["DryRunRequest", "ScaleClient", "Task", "TaskRequest"]
