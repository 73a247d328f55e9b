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
        defaults = _DEFAULTS.get(type(self))
        if defaults is None:
            defaults = _DEFAULTS[type(self)] = _defaults_of(type(self))
        for name, default in defaults:
            value = getattr(self, name)
            if name in fields_set or name in self._always_dump or not _is_default(value, default):
                out[name] = to_tree(value)
        return out


#: Each model class's ``(field name, default)`` pairs, in field order: ``model_fields`` is a
#: pydantic property that costs about 2 us a call, and a scene's dump made a few hundred.
_DEFAULTS: dict[type[SfsModel], tuple[tuple[str, object], ...]] = {}


def _defaults_of(cls: type[SfsModel]) -> tuple[tuple[str, object], ...]:
    return tuple((name, field.default) for name, field in cls.model_fields.items())


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
    kind = type(value)
    if kind in _LEAVES:
        return value
    if isinstance(value, SfsModel):
        return value.to_tree()
    if isinstance(value, dict):
        return {k: to_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if _LEAVES.issuperset(map(type, value)):
            return list(value)  # a row of numbers (pose values, timestamps): the common case
        return [to_tree(v) for v in value]
    return value


#: Exact types ``to_tree`` passes through without looking further (the common leaves).
_LEAVES: frozenset[type] = frozenset({np.ndarray, int, float, str, bool, type(None)})


def replace(model: SfsModelT, **changes: Any) -> SfsModelT:
    """A validated copy of ``model`` with ``changes`` applied; given fields stay marked as set."""
    data = {name: getattr(model, name) for name in model.model_fields_set}
    data.update(changes)
    return type(model).model_validate(data)
