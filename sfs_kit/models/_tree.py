"""Pass-through JSON-ish trees (annotations, attributes, metadata) held inside the frozen models.

Annotations and attributes are kept as plain data: dicts with str keys, lists, str, int, float,
bool, None and numpy arrays (frozen like every other array). Metadata allows no arrays (D18).
Deep rules (V-X1, V-M1) are checked by ``validate()``, not here.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import PlainSerializer, PlainValidator

from sfs_kit.models._arrays import frozen_array

__all__ = ["JsonObject", "JsonTree", "freeze_tree"]


def freeze_tree(value: object, *, arrays: bool = True, where: str = "") -> Any:
    """A deep copy of ``value`` with arrays made read-only; refuses non-JSON values."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where or 'the tree'} has a non-str key {key!r}")
            if key == "$items":
                raise ValueError(f"{where or 'the tree'} uses the reserved key '$items'")
            out[key] = freeze_tree(item, arrays=arrays, where=f"{where}.{key}" if where else key)
        return out
    if isinstance(value, list | tuple):
        return [
            freeze_tree(item, arrays=arrays, where=f"{where}[{i}]") for i, item in enumerate(value)
        ]
    if isinstance(value, np.ndarray):
        if not arrays:
            raise ValueError(f"{where or 'the value'} is an array; only JSON values are allowed")
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{where or 'the value'} has unsupported dtype {value.dtype.name}")
        return frozen_array(
            value, dtypes=(value.dtype.newbyteorder("<").str,), shape=(None,) * value.ndim
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'the value'} is {value!r}; only finite numbers are allowed")
    if value is None or isinstance(value, str | int | float):
        return value
    raise ValueError(f"{where or 'the value'} has unsupported type {type(value).__name__}")


def _tree(value: object) -> Any:
    return freeze_tree(value)


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {type(value).__name__}")
    out: dict[str, Any] = freeze_tree(value, arrays=False)
    return out


def _json_view(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _json_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_view(v) for v in value]
    return value


JsonTree = Annotated[Any, PlainValidator(_tree), PlainSerializer(_json_view, when_used="json")]
"""Any JSON value, numpy arrays allowed (annotations, attributes)."""

JsonObject = Annotated[dict[str, Any], PlainValidator(_object)]
"""A JSON object without arrays (metadata)."""
