"""Annotation, attribute and metadata rules (V-X1, V-M1)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sfs_kit.models.validate._base import (
    _ANNOTATION_3D_ROWS,
    ANNOTATION_TYPES,
    _field,
    _index,
    _is_int,
    _is_number,
    _kind,
    _list_or_empty,
    _Rules,
)


class _AnnotationRules(_Rules):
    """Annotations, attribute paths and metadata."""

    def annotations(self, annotations: object, attributes: object) -> None:
        if attributes is not None:
            if not isinstance(attributes, list):
                self.error(
                    "V-N2", "attributes", f"'attributes' must be a list, found {_kind(attributes)}"
                )
            else:
                for i, attr in enumerate(attributes):
                    self.attribute_path(attr, _index("attributes", i))
        if annotations is None:
            return
        if not isinstance(annotations, list):
            self.error(
                "V-N2", "annotations", f"'annotations' must be a list, found {_kind(annotations)}"
            )
            return
        sensor_keys = {str(s) for s in self.sensor_ids}
        ann_ids: dict[str, int] = {}
        for i, ann in enumerate(annotations):
            if isinstance(ann, Mapping):
                aid = ann.get("id")
                if isinstance(aid, bool) or not (_is_int(aid) or isinstance(aid, str)):
                    self.error(
                        "V-X1",
                        _field(_index("annotations", i), "id"),
                        f"an annotation id must be a str or int, found {_kind(aid)}",
                    )
                elif str(aid) in ann_ids:
                    self.error(
                        "V-X1",
                        _field(_index("annotations", i), "id"),
                        f"annotation id {aid!r} is used more than once",
                    )
                else:
                    ann_ids[str(aid)] = i
        for i, ann in enumerate(annotations):
            self.annotation(ann, _index("annotations", i), sensor_keys, set(ann_ids))

    def annotation(self, ann: object, path: str, sensors: set[str], ann_ids: set[str]) -> None:
        if not isinstance(ann, Mapping):
            self.error("V-X1", path, f"an annotation must be an object, found {_kind(ann)}")
            return
        kind = ann.get("type")
        if not isinstance(kind, str) or kind not in ANNOTATION_TYPES:
            self.error("V-X1", _field(path, "type"), f"unknown annotation type {kind!r}")
        for key, pool, what in (
            ("sensor_id", sensors, "sensor"),
            ("from_id", ann_ids, "annotation"),
            ("to_id", ann_ids, "annotation"),
            ("parent_id", ann_ids, "annotation"),
        ):
            ref = ann.get(key)
            if ref is not None and str(ref) not in pool:
                self.error("V-X1", _field(path, key), f"{key} {ref!r} names no {what} in the scene")
        for j, lp in enumerate(_list_or_empty(ann.get("labeled_points"))):
            ref = lp.get("sensor_id") if isinstance(lp, Mapping) else None
            if ref is not None and str(ref) not in sensors:
                self.error(
                    "V-X1",
                    _field(_index(_field(path, "labeled_points"), j), "sensor_id"),
                    f"sensor_id {ref!r} names no sensor in the scene",
                )
        for key in ("path", "poses"):
            if key in ann:
                rows = self.value_path(ann[key], _field(path, key))
                if rows is not None:
                    self.annotation_coords(kind, key, rows, _field(path, key))
        for j, attr in enumerate(_list_or_empty(ann.get("attributes"))):
            self.attribute_path(attr, _index(_field(path, "attributes"), j))

    def value_path(self, p: object, path: str) -> list[Any] | None:
        """A ``{timestamps, values}`` path: increasing int timestamps, one row per timestamp."""
        if not isinstance(p, Mapping):
            self.error(
                "V-X1", path, f"a path must be an object {{timestamps, values}}, found {_kind(p)}"
            )
            return None
        stamps, values = p.get("timestamps"), p.get("values")
        if not isinstance(stamps, list) or not all(_is_int(t) for t in stamps):
            self.error("V-X1", _field(path, "timestamps"), "path timestamps must be a list of ints")
            return None
        if any(b <= a for a, b in itertools.pairwise(stamps)):
            self.error(
                "V-X1", _field(path, "timestamps"), "path timestamps must be strictly increasing"
            )
        if not isinstance(values, list) or len(values) != len(stamps):
            n = len(values) if isinstance(values, list) else _kind(values)
            self.error(
                "V-X1",
                _field(path, "values"),
                f"a path needs one value row per timestamp: {len(stamps)} timestamps, values {n}",
            )
            return None
        return values

    def annotation_coords(self, kind: object, key: str, rows: list[Any], path: str) -> None:
        """Feed 3D world coordinates of annotations into V-O1."""
        top = 0.0
        for row in rows:
            if not isinstance(row, list) or not all(_is_number(v) for v in row):
                continue
            if kind == "cuboid" and len(row) >= 6:
                top = max(top, *(abs(v) for v in row[3:6]))
            elif key == "poses" and len(row) >= 3:
                top = max(top, *(abs(v) for v in row[:3]))
            elif isinstance(kind, str) and kind in _ANNOTATION_3D_ROWS and row:
                top = max(top, *(abs(v) for v in row))
        if math.isfinite(top):
            self._coord(top, path)

    def attribute_path(self, attr: object, path: str) -> None:
        if not isinstance(attr, Mapping):
            self.error("V-X1", path, f"an attribute path must be an object, found {_kind(attr)}")
            return
        if not isinstance(attr.get("name"), str):
            self.error(
                "V-X1",
                _field(path, "name"),
                f"an attribute needs a str 'name', found {_kind(attr.get('name'))}",
            )
        self.value_path(attr, path)

    def metadata(self, meta: object) -> None:
        if meta is None:
            return
        if not isinstance(meta, Mapping):
            self.error("V-M1", "metadata", f"'metadata' must be a JSON object, found {_kind(meta)}")
            return
        self._json_only(meta, "metadata")
        own = meta.get("sfs_kit")
        if own is not None:
            if not isinstance(own, Mapping):
                self.error(
                    "V-M1",
                    "metadata.sfs_kit",
                    f"metadata.sfs_kit must be an object, found {_kind(own)}",
                )
                return
            origin = own.get("origin_offset")
            if origin is not None and not (
                isinstance(origin, list) and len(origin) == 3 and all(_is_number(v) for v in origin)
            ):
                self.error(
                    "V-M1",
                    "metadata.sfs_kit.origin_offset",
                    f"origin_offset must be [x, y, z] in metres, found {origin!r}"[:300],
                )

    def _json_only(self, node: object, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not isinstance(key, str):
                    self.error("V-M1", path, f"metadata keys must be str, found {_kind(key)}")
                elif key == "$items":  # the generic walk skips metadata, so V-S6 is checked here
                    self.error(
                        "V-S6",
                        _field(path, key),
                        "the key '$items' is reserved by the .sfs container",
                    )
                self._json_only(value, _field(path, str(key)))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self._json_only(value, _index(path, i))
        elif isinstance(node, float) and not math.isfinite(node):
            self.error("V-M1", path, f"metadata numbers must be finite, found {node!r}")
        elif isinstance(node, np.ndarray):
            self.error("V-M1", path, "metadata may not hold arrays")
        elif not (node is None or isinstance(node, str | int | float)):
            self.error(
                "V-M1", path, f"metadata holds a non-JSON value of type {type(node).__name__}"
            )
