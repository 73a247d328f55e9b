"""The shared pydantic base of every scene model: frozen, no unknown fields, a plain-tree dump."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["SfsModel", "replace", "to_tree"]


class SfsModel(BaseModel):
    """Frozen model with ``extra="forbid"``; arrays inside are read-only (see ``_arrays``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    # Fields always written by ``to_tree`` even when left at their default (discriminators).
    _always_dump: ClassVar[frozenset[str]] = frozenset({"type", "version"})

    def to_tree(self) -> dict[str, Any]:
        """The plain dict view (numpy arrays kept, no copies) that the .sfs codec writes.

        A field is written when it was given explicitly, when it differs from its default, or
        when it is a discriminator (``type``, ``version``), so a dict read from a file comes
        back key for key.
        """
        out: dict[str, Any] = {}
        fields_set = self.model_fields_set
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if (
                name in fields_set
                or name in self._always_dump
                or not _is_default(value, field.default)
            ):
                out[name] = to_tree(value)
        return out


SfsModelT = TypeVar("SfsModelT", bound=SfsModel)


def _is_default(value: object, default: object) -> bool:
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def to_tree(value: object) -> Any:
    """Recursively turn models into dicts and tuples into lists; arrays pass through as they are."""
    if isinstance(value, SfsModel):
        return value.to_tree()
    if isinstance(value, dict):
        return {k: to_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_tree(v) for v in value]
    return value


def replace(model: SfsModelT, **changes: Any) -> SfsModelT:
    """A validated copy of ``model`` with ``changes`` applied; given fields stay marked as set."""
    data = {name: getattr(model, name) for name in model.model_fields_set}
    data.update(changes)
    return type(model).model_validate(data)
