"""``sfs-kit validate FILE.sfs``: every validation issue; exit 0 valid, 1 invalid, 2 unreadable."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sfs_kit.cli._common import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, print_json

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check a .sfs scene against the SFS 1.0 rules",
        description="List every problem in a .sfs scene (errors and warnings). Exit 0 when valid "
        "(warnings allowed), 1 when invalid, 2 when the file cannot be read.",
    )
    parser.add_argument("file", help="a .sfs file")
    parser.add_argument(
        "--mode",
        choices=("compat", "spec"),
        default="compat",
        help="compat (default): Scale's rules too; spec: the SFS spec only",
    )
    parser.add_argument("--json", action="store_true", help="print the issues as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the file's tree (no model), validate it, print the issues."""
    from sfs_kit.codecs.sfs import read_sfs_dict
    from sfs_kit.models.validate import validate_tree

    path: str = args.file
    try:
        tree = read_sfs_dict(path)
    except OSError as err:
        print(f"sfs-kit: error: cannot read {path!r}: {err.strerror or err}.", file=sys.stderr)
        return EXIT_UNREADABLE
    issues = validate_tree(tree, mode=args.mode)
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
