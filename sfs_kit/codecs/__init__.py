"""Codecs: bytes and streams <-> trees and models (.sfs container, per-frame JSON)."""

from __future__ import annotations

from sfs_kit.codecs.sfs import (
    SfsAppendWriter,
    SfsIndex,
    SfsItem,
    SfsPlan,
    encode_sfs_dict,
    index_sfs,
    plan_sfs,
    read_sfs_dict,
    write_sfs_dict,
)

__all__ = [
    "SfsAppendWriter",
    "SfsIndex",
    "SfsItem",
    "SfsPlan",
    "encode_sfs_dict",
    "index_sfs",
    "plan_sfs",
    "read_sfs_dict",
    "write_sfs_dict",
]
