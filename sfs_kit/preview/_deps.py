"""Optional dependencies of preview, imported on first use with an error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from sfs_kit.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """``import module``, or ``MissingDependencyError`` saying ``what`` needs the ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - the extras are installed in CI
        raise MissingDependencyError(
            f"{what} needs {module.split('.', maxsplit=1)[0]}; install the extra: pip install "
            f"'sfs_kit[{extra}]'."
        ) from err
