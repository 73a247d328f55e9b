"""The ``.sfs`` container at the dict level: JSON header plus aligned little-endian arrays.

Byte layout (spec section 1.1, decisions D1-D5; A = ``align`` in {4, 8, 16, 32, 64})::

    offset 0    header: compact ASCII JSON object (the tree, arrays replaced by "",
                plus a top-level "$items" list written last), then A - (len % A)
                spaces (1..A) so the header length H is a multiple of A; a file from
                SfsAppendWriter(reserve_header_bytes=n) pads to its reserved H = R
                instead (R a multiple of A, >= 1 space, possibly far more than A)
    offset H    sentinel: A zero bytes (H is the first 0x00 in the file)
    H + A       item 0 bytes, then A - (length % A) zero bytes (1..A)
                item 1 bytes, then padding ... up to EOF (no trailer, no magic)

    "$items" entry: {"keys": [str|int, ...], "length": int, "offset": int,
                     "dtype": "float32", "shape": [N, 3]}
    offset is relative to H, so item i starts at file byte H + offset; items appear
    depth-first in dict-insertion / list order, and every item starts at a multiple of A.

Data is always little-endian; ``dtype`` is numpy's ``dtype.name`` from the allow-list
``bool, int8..int64, uint8..uint64, float16, float32, float64``. With ``align=4`` the binary
section is byte-identical to scale-json-binary 0.0.7's and the header JSON-equal, with Scale's
1..4 header spaces for ``write_sfs_dict``/``encode_sfs_dict`` (and the append writer's copying
path). A reserved-header file differs only in the number of header spaces: JSON whitespace before
the first 0x00, accepted by our reader, scale-json-binary's ``loads`` and scale-sensor-fusion-io
(all find H as the first 0x00 byte; none assumes fewer than A spaces).

The reader checks rules R1-R8 (spec 1.3) before building any view: R1 a 0x00 byte exists; R2 the
header is UTF-8 JSON object without duplicate keys or bare NaN/Infinity (``lenient=True`` allows
those); R3 four zero sentinel bytes; R4 a ``$items`` list; R5 entries with int offset >= 4 and
length inside the file; R6 allow-listed dtype (no dtype = legacy raw bytes); R7 shape matches
length; R8 keys resolve to a ``""`` placeholder (int steps into dicts fall back to ``"1"``).

Worked example (``align=4``): ``{"version": "1.0", "a": float32[1.5, 2.5, 3.5], "c":
uint8[1..5]}`` gives a 176-byte JSON header plus 4 spaces (H = 180), then
``00000000 0000c03f 00002040 00006040 00000000 0102030405 000000``: 208 bytes in all.
"""

from __future__ import annotations

from sfs_kit.codecs._sfs_append import SfsAppendWriter
from sfs_kit.codecs._sfs_common import ALIGNMENTS, ALLOWED_DTYPES, SfsItem
from sfs_kit.codecs._sfs_plan import LargeIntegerWarning, SfsArrayRef, SfsPlan, plan_sfs
from sfs_kit.codecs._sfs_read import SfsIndex, SfsSource, index_sfs, read_sfs_dict
from sfs_kit.codecs._sfs_write import encode_sfs_dict, write_sfs_dict

__all__ = [
    "ALIGNMENTS",
    "ALLOWED_DTYPES",
    "LargeIntegerWarning",
    "SfsAppendWriter",
    "SfsArrayRef",
    "SfsIndex",
    "SfsItem",
    "SfsPlan",
    "SfsSource",
    "encode_sfs_dict",
    "index_sfs",
    "plan_sfs",
    "read_sfs_dict",
    "write_sfs_dict",
]
