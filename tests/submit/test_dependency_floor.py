"""The declared urllib3 floor admits only versions with the classes ``submit._errors`` maps.

``urllib3.exceptions.NameResolutionError`` (and ``urllib3.Timeout``'s 2.x behaviour) exist from
urllib3 2.0 on; a floor of 1.26 would install a version where importing the submitter fails.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import urllib3

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _urllib3_floor() -> tuple[int, ...]:
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    spec = next(d for d in deps if re.match(r"urllib3\b", d))
    match = re.search(r">=\s*([\d.]+)", spec)
    assert match is not None, spec
    return tuple(int(part) for part in match.group(1).split("."))


def test_urllib3_floor_is_2() -> None:
    assert _urllib3_floor() >= (2,)
    assert hasattr(urllib3.exceptions, "NameResolutionError")  # what submit._errors maps
