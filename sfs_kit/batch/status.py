"""``refresh_status``: each submitted task's status from Scale (by task id), into the ledger."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sfs_kit.batch.ledger import Ledger
from sfs_kit.errors import InputError, SubmitError
from sfs_kit.pipeline import RunConfig

__all__ = ["StatusReport", "refresh_status"]


@dataclass
class StatusReport:
    """Counts of ledger states and of Scale task statuses, and the tasks that could not be read."""

    ledger_dir: str
    captures: int
    states: dict[str, int]
    task_statuses: dict[str, int]
    checked: int
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON view (``sfs-kit batch status --json``)."""
        return {"ledger_dir": self.ledger_dir, "captures": self.captures, "states": self.states,
                "task_statuses": self.task_statuses, "checked": self.checked,
                "errors": self.errors}


def refresh_status(ledger_dir: str | os.PathLike[str], config: RunConfig) -> StatusReport:
    """GET every done capture's task (``/v1/task/<id>``), record its status, count them all.

    A task that cannot be read keeps its last known status and is listed in ``errors``.
    """
    from sfs_kit.submit import ScaleClient

    ledger = Ledger.open(ledger_dir)
    states = ledger.states()
    if not states:
        raise InputError(f"Ledger folder {os.fspath(ledger_dir)!r} has no captures.",
                         source=os.fspath(ledger_dir))
    with_tasks = [s for s in states.values() if s.state == "done" and s.task_id]
    updates: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, str]] = []
    if with_tasks:
        key = config.api_key.get_secret_value() if config.api_key is not None else None
        with ScaleClient(key, base_url=config.api_base_url) as client:
            for state in with_tasks:
                try:
                    task = client.get_task(state.task_id or "")
                except SubmitError as err:
                    errors.append({"capture": state.path, "task_id": state.task_id or "",
                                   "error_class": type(err).__name__, "error_message": str(err)})
                    continue
                updates.append((state.key, {"task_status": task.status}))
    if updates:
        ledger.record_many(updates)
    folded = ledger.states().values()
    statuses = Counter(s.task_status or "unknown" for s in folded if s.state == "done"
                       and s.task_id)
    return StatusReport(str(ledger.dir), len(states), ledger.counts(),
                        dict(sorted(statuses.items())), len(updates), errors)
