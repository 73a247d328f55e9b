"""Deep equality for models holding numpy arrays (``==`` on arrays is ambiguous).

Arrays compare with ``np.array_equal`` after a dtype check, NaN equal to NaN for floats. Every
"same scene?" check in sfs_kit and its tests goes through ``models_equal``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sfs_kit.models.base import SfsModel

__all__ = ["assert_models_equal", "first_difference", "models_equal"]


def models_equal(a: object, b: object) -> bool:
    """True when ``a`` and ``b`` hold the same fields, values, array dtypes, shapes and contents."""
    return first_difference(a, b) is None


def assert_models_equal(a: object, b: object) -> None:
    """Raise ``AssertionError`` naming the first differing path (e.g. ``sensors[0].frames[3]``)."""
    diff = first_difference(a, b)
    if diff is not None:
        raise AssertionError(diff)


def first_difference(a: object, b: object, path: str = "") -> str | None:
    """A sentence describing the first difference, or ``None`` when equal."""
    where = path or "<root>"
    if isinstance(a, SfsModel) or isinstance(b, SfsModel):
        if type(a) is not type(b):
            return f"{where}: type {type(a).__name__} != {type(b).__name__}"
        assert isinstance(a, SfsModel)
        assert isinstance(b, SfsModel)
        for name in type(a).model_fields:
            diff = first_difference(getattr(a, name), getattr(b, name), _join(path, name))
            if diff is not None:
                return diff
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return _array_difference(a, b, where)
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b) and set(a) != set(b):
            return f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        for key in a:
            diff = first_difference(a[key], b[key], _join(path, str(key)))
            if diff is not None:
                return diff
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff = first_difference(x, y, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    if type(a) is not type(b) and not (_is_number(a) and _is_number(b)):
        return f"{where}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return None
    if a != b:
        return f"{where}: {a!r} != {b!r}"
    return None


def _array_difference(a: Any, b: Any, where: str) -> str | None:
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        return f"{where}: {type(a).__name__} != {type(b).__name__}"
    if a.dtype != b.dtype:
        return f"{where}: dtype {a.dtype.str} != {b.dtype.str}"
    if a.shape != b.shape:
        return f"{where}: shape {a.shape} != {b.shape}"
    equal_nan = a.dtype.kind in "fc"
    if not np.array_equal(a, b, equal_nan=equal_nan):
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if equal_nan else (a == b)
        idx = np.argwhere(~same)
        first = tuple(int(i) for i in idx[0]) if idx.size else ()
        return f"{where}: arrays differ first at index {first}"
    return None


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
