"""sfs_kit: prepare lidar/camera captures for labeling on Scale AI.

Public names are loaded lazily, so ``import sfs_kit.codecs`` never imports boto3 and the CLI
starts fast. Modules whose name starts with an underscore are private.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sfs_kit._version import __version__
from sfs_kit.errors import *  # noqa: F403  (errors.__all__ is curated)
from sfs_kit.errors import __all__ as _error_names

logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> module that defines it; add an entry when a module grows a public function.
_LAZY: dict[str, str] = {
    "SfsAppendWriter": "sfs_kit.codecs.sfs",
    "SfsIndex": "sfs_kit.codecs.sfs",
    "SfsItem": "sfs_kit.codecs.sfs",
    "SfsPlan": "sfs_kit.codecs.sfs",
    "encode_sfs_dict": "sfs_kit.codecs.sfs",
    "index_sfs": "sfs_kit.codecs.sfs",
    "plan_sfs": "sfs_kit.codecs.sfs",
    "read_sfs_dict": "sfs_kit.codecs.sfs",
    "write_sfs_dict": "sfs_kit.codecs.sfs",
}

__all__ = sorted(["__version__", *_error_names, *_LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sfs_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
