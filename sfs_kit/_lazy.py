"""Lazy package attributes (PEP 562): a package names its public objects without importing them,
so importing one submodule (``sfs_kit.models.geometry``) does not load its siblings (the pydantic
scene models) and a command pays only for the modules it uses."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``names[name]`` (a module) on first
    access of ``name`` and caches it in the package; other names raise ``AttributeError``, so
    ``from package import submodule`` still finds the submodule."""

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return getattr_
