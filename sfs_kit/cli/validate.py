"""``sfs-kit validate PATH``: every validation issue; exit 0 valid, 1 invalid, 2 unreadable.

PATH is a .sfs scene, split_base64 frames (a frame-N.json or their folder: F-* rules) or a capture
(a dry conversion: every frame converted and checked, nothing written).

``--geometry`` adds the geometric pre-flight rules (G-*, ``sfs_kit.models.validate_geometry``)
with the thresholds of ``sfs-kit.toml`` (``[geometry]`` or ``[run.geometry]``, or ``--config``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sfs_kit.cli._common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, print_json

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check a .sfs scene, split_base64 frames or a capture",
        description="List every problem in a .sfs scene against the SFS 1.0 rules, in "
        "split_base64 frames (a frame-N.json or their folder), or in a capture (converted in "
        "memory, frame by frame, with the conversion options of sfs-kit.toml; nothing is "
        "written). Exit 0 when valid (warnings allowed), 1 when invalid, 2 when the input "
        "cannot be read.",
    )
    parser.add_argument("file", help="a .sfs file, a frames file or folder, or a capture")
    parser.add_argument(
        "--mode",
        choices=("compat", "spec"),
        default="compat",
        help="compat (default): Scale's rules too; spec: the SFS spec only",
    )
    parser.add_argument("--json", action="store_true", help="print the issues as JSON")
    parser.add_argument(
        "--geometry",
        action="store_true",
        help="also run the geometric pre-flight checks (G-*: projection share, time skew, pose "
        "plausibility, frame overlap, float32 range); their errors make the scene invalid",
    )
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="settings file for the geometry thresholds (default: ./sfs-kit.toml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the file's tree (no model), validate it, print the issues."""
    from sfs_kit.cli import _targets
    from sfs_kit.codecs.sfs import read_sfs_dict
    from sfs_kit.errors import FormatError
    from sfs_kit.models.validate import validate_tree

    path: str = args.file
    kind = _targets.target_kind(Path(path))
    if kind == "frames":
        return _targets.validate_frames(Path(path), args)
    if kind == "capture":
        return _targets.validate_capture(Path(path), args)
    try:
        tree = read_sfs_dict(path)
    except OSError as err:
        print(f"sfs-kit: error: cannot read {path!r}: {err.strerror or err}.", file=sys.stderr)
        return EXIT_UNREADABLE
    except FormatError as err:
        if kind == "sfs":
            raise
        _targets.not_sfs(path, str(err).removeprefix(f"{path!r} ").rstrip("."))
        return EXIT_UNREADABLE
    issues = validate_tree(tree, mode=args.mode)
    if getattr(args, "geometry", False):
        issues = [*issues, *_geometry_issues(tree, issues, args.config)]
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    if args.json:
        print_json(
            {
                "file": os.fspath(path),
                "mode": args.mode,
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "issues": [i.to_dict() for i in issues],
            }
        )
    else:
        for issue in issues:
            print(issue)
        verdict = "valid" if errors == 0 else "INVALID"
        print(
            f"{path}: {verdict} ({args.mode} mode): {errors} error(s), {warnings} warning(s)",
            file=sys.stdout,
        )
    return EXIT_OK if errors == 0 else EXIT_INVALID


def _geometry_issues(tree: dict[str, Any], issues: list[Any], config: Path | None) -> list[Any]:
    """G-* issues of the tree's scene; a scene the model refuses gets one note instead."""
    from pydantic import ValidationError

    from sfs_kit.models.scene import Scene
    from sfs_kit.models.validate import Issue
    from sfs_kit.models.validate_geometry import validate_geometry
    from sfs_kit.pipeline.config import load_config

    thresholds = load_config(config_path=config).geometry
    try:
        scene = Scene.model_validate(tree)  # zero-copy: the arrays stay memory-mapped views
    except ValidationError:
        if any(i.severity == "error" for i in issues):
            note = "geometry checks skipped: fix the errors above first"
        else:
            note = "geometry checks skipped: the scene does not load as an SFS 1.0 model"
        return [Issue("G-00", "warning", "", note)]
    return list(validate_geometry(scene, thresholds))
