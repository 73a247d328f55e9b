"""JSON and YAML documents read strictly: what a hostile manifest or calibration file cannot do.

Every configuration-like input (capture manifests, calibrations, pose JSON, frame JSON) is parsed
here so the same limits hold everywhere, each refusal an ``InputError`` naming the file and line:

- a key given twice in one object/mapping (a second ``cameras:`` block would silently win);
- integers longer than ``MAX_INT_DIGITS`` digits (they overflow every consumer, and Python's own
  4300-digit limit raises a bare ``ValueError``);
- ``NaN``/``Infinity`` (JSON) and ``.nan``/``.inf`` (YAML), and float literals that overflow
  to infinity (``1e999``), unless the caller allows non-finite values;
- nesting deeper than ``MAX_DEPTH`` (a ``RecursionError`` otherwise), and YAML aliases expanding
  past ``MAX_NODES`` nodes (the "billion laughs" document).

Errors are one line (``file:line: what is not valid YAML: problem (column C).``), never
PyYAML's multi-line marks. Imports only ``sfs_kit.errors``, ``sfs_kit._excerpt`` and PyYAML.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any, cast

import yaml

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "PureStrictYamlLoader",
    "StrictYamlLoader",
    "json_depth",
    "load_document",
    "load_json",
    "load_yaml",
    "strict_int",
]

MAX_DEPTH = 64
"""Deepest nesting of objects/arrays accepted (our own documents need fewer than 8)."""
MAX_INT_DIGITS = 20
"""Longest integer literal accepted: a uint64 has 20 digits; anything longer is hostile."""
MAX_NODES = 1_000_000
"""Most YAML nodes a document may expand to once aliases are followed."""

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


class _RefusedError(ValueError):
    """Raised from inside a parser callback; turned into an ``InputError`` with the location."""

    def __init__(self, message: str, token: str | None = None,
                 mark: yaml.Mark | None = None, occurrence: int = 1) -> None:
        super().__init__(message)
        self.token = token
        self.mark = mark
        self.occurrence = occurrence


def json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in JSON ``text`` (brackets inside strings ignored).

    Linear, mostly in the regex engine (about 35 ms per MB), so a 1,000,000-deep
    document is measured before the recursive parser sees it.
    """
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if not brackets:
        return 0
    return max(accumulate(1 if char in "[{" else -1 for char in brackets))


def _line_of(text: str, token: str | None, occurrence: int = 1) -> int | None:
    """The line of the ``occurrence``-th ``token`` (JSON hooks are not told where they are)."""
    if not token:
        return None
    at = -1
    for _ in range(occurrence):
        at = text.find(token, at + 1)
        if at < 0:
            return None
    return text.count("\n", 0, at) + 1


def _digits(token: str) -> int:
    body = token.strip().lstrip("+-").replace("_", "")
    for prefix in ("0x", "0o", "0b", "0X", "0O", "0B"):
        body = body.removeprefix(prefix)
    return len(body)


def strict_int(token: str) -> int:
    """``int(token)`` as a JSON ``parse_int`` hook: more than ``MAX_INT_DIGITS`` digits refused."""
    if _digits(token) > MAX_INT_DIGITS:
        raise _RefusedError(f"the integer {excerpt(token)} has {_digits(token)} digits (at most "
                       f"{MAX_INT_DIGITS})", token)
    return int(token)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RefusedError(f"the key {excerpt(key)} appears twice in one object",
                                json.dumps(key, ensure_ascii=False), occurrence=2)
        out[key] = value
    return out


def load_json(
    text: str,
    *,
    source: str,
    what: str,
    parse_float: Callable[[str], Any] | None = None,
    allow_nonfinite: bool = False,
    duplicate_keys: bool = False,
) -> Any:
    """Parse JSON ``text`` from ``source`` with the limits of the module docstring.

    ``what`` names the document in messages (``"Calibration file"``); ``parse_float`` is passed
    through (poses keep ``Decimal`` digits); ``duplicate_keys=True`` skips that check (bulk frame
    JSON, whose readers look keys up themselves and need the plain ``dict`` speed).
    """
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(f"{what} nests objects/arrays {depth} deep (at most {MAX_DEPTH}).",
                         source=source)

    def number(token: str) -> Any:
        value = float(token)
        if not allow_nonfinite and not math.isfinite(value):
            raise _RefusedError(f"the number {excerpt(token)} is out of range (not finite)", token)
        return parse_float(token) if parse_float is not None else value

    def constant(token: str) -> Any:
        if not allow_nonfinite:
            raise _RefusedError(f"{token} is not a JSON number", token)
        return float(token)

    try:
        return json.loads(
            text,
            parse_int=strict_int,
            parse_float=number,
            parse_constant=constant,
            object_pairs_hook=None if duplicate_keys else _no_duplicates,
        )
    except json.JSONDecodeError as err:
        raise InputError(f"{what} is not valid JSON: {err.msg} (column {err.colno}).",
                         source=source, line=err.lineno, offset=err.pos) from err
    except _RefusedError as err:
        raise InputError(f"{what}: {err}.", source=source,
                         line=_line_of(text, err.token, err.occurrence)) from err
    except RecursionError as err:  # defence in depth: json_depth measured it already
        raise InputError(f"{what} nests objects/arrays too deeply.", source=source) from err


_SAFE = yaml.constructor.SafeConstructor


class _StrictMixin:
    """What the strict loaders add to PyYAML's safe constructor: duplicate keys, over-long
    integers and (unless ``allow_nonfinite``) ``.nan``/``.inf`` are refused."""

    allow_nonfinite = False

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose explicit keys are distinct (``<<`` merges may still override)."""
        this: Any = self
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = this.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: PyYAML reports it itself
                continue
            if duplicate:
                raise _RefusedError(f"the key {excerpt(key)} appears twice in one mapping",
                                    mark=key_node.start_mark)
        result: dict[Any, Any] = _SAFE.construct_mapping(this, node, deep=deep)
        return result

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer of at most ``MAX_INT_DIGITS`` digits."""
        token = str(node.value)
        if _digits(token.replace(":", "")) > MAX_INT_DIGITS:
            raise _RefusedError(f"the integer {excerpt(token)} has {_digits(token)} digits "
                                f"(at most {MAX_INT_DIGITS})", mark=node.start_mark)
        value: int = _SAFE.construct_yaml_int(cast(Any, self), node)
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        """A float, finite unless the loader allows otherwise."""
        value: float = _SAFE.construct_yaml_float(cast(Any, self), node)
        if not self.allow_nonfinite and not math.isfinite(value):
            raise _RefusedError(f"the number {excerpt(str(node.value))} is not finite",
                                mark=node.start_mark)
        return value


class PureStrictYamlLoader(_StrictMixin, yaml.SafeLoader):
    """The strict loader on PyYAML's pure-Python parser (what libyaml's is checked against)."""


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", PureStrictYamlLoader)


class StrictYamlLoader(_StrictMixin, _BaseLoader):  # type: ignore[valid-type,misc]
    """The strict loader on libyaml's parser: the same values, 8x faster (25 ms -> 3 ms for a
    six-camera manifest); the pure one when PyYAML was built without libyaml."""


for _loader in (PureStrictYamlLoader, StrictYamlLoader):
    _loader.add_constructor("tag:yaml.org,2002:int", _loader.construct_yaml_int)  # type: ignore[type-var]
    _loader.add_constructor("tag:yaml.org,2002:float", _loader.construct_yaml_float)  # type: ignore[type-var]
    _loader.add_constructor("tag:yaml.org,2002:map", _loader.construct_yaml_map)


def _yaml_shape(text: str, loader: type[yaml.SafeLoader]) -> tuple[int, int]:
    """(deepest nesting, nodes once aliases are expanded), from the event stream alone.

    libyaml's event parser keeps its own stack (no recursion), so this pass is safe on any
    input; the composer and constructor that recurse only run on documents it passed.
    """
    depth = deepest = 0
    sizes: list[int] = [0]
    anchors: dict[str, int] = {}
    names: list[str | None] = []
    events = loader(text)
    try:
        while events.check_event():
            event = events.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > MAX_DEPTH:
                    return deepest, sizes[0]
                sizes.append(1)
                names.append(event.anchor)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                size = sizes.pop()
                anchor = names.pop()
                if anchor is not None:
                    anchors[anchor] = size
                sizes[-1] += size
            elif isinstance(event, yaml.ScalarEvent):
                sizes[-1] += 1
                if event.anchor is not None:
                    anchors[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                sizes[-1] += anchors.get(event.anchor or "", 1)
            if sizes[-1] > MAX_NODES or sum(sizes) > MAX_NODES:
                return deepest, MAX_NODES + 1
    finally:
        events.dispose()
    return deepest, sizes[0]


def _yaml_error(what: str, source: str, err: yaml.YAMLError) -> InputError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err)
    context = getattr(err, "context", None)
    if context and context != problem:
        problem = f"{problem} ({context})"
    problem = " ".join(str(problem).split())
    if mark is None:
        return InputError(f"{what} is not valid YAML: {problem}.", source=source)
    return InputError(f"{what} is not valid YAML: {problem} (column {mark.column + 1}).",
                      source=source, line=mark.line + 1)


def load_yaml(
    text: str,
    *,
    source: str,
    what: str,
    loader: type[yaml.SafeLoader] = StrictYamlLoader,
) -> Any:
    """Parse YAML ``text`` from ``source`` with ``loader`` (a ``StrictYamlLoader`` subclass).

    Nesting and alias expansion are measured from the events first; errors are one line.
    """
    try:
        depth, nodes = _yaml_shape(text, loader)
        if depth > MAX_DEPTH:
            raise InputError(f"{what} nests mappings/lists more than {MAX_DEPTH} deep.",
                             source=source)
        if nodes > MAX_NODES:
            raise InputError(f"{what} expands to more than {MAX_NODES} values (aliases "
                             f"repeating aliases).", source=source)
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader (C or Python)
    except _RefusedError as err:
        line = err.mark.line + 1 if err.mark is not None else None
        raise InputError(f"{what}: {err}.", source=source, line=line) from err
    except yaml.YAMLError as err:
        raise _yaml_error(what, source, err) from err
    except RecursionError as err:  # defence in depth: the event pass measured it already
        raise InputError(f"{what} nests mappings/lists too deeply.", source=source) from err


def load_document(text: str, *, source: str, what: str) -> Any:
    """``load_json`` for a ``.json`` source, else ``load_yaml`` (manifests come as either)."""
    if source.lower().endswith(".json"):
        return load_json(text, source=source, what=what)
    return load_yaml(text, source=source, what=what)
