"""The conversion flags, defined once from ``ConvertOptions`` and added to every command that
converts (``convert``, ``run``, and ``batch``): ``add_convert_options(parser)`` adds them and
``convert_settings(args)`` reads back the ones the user gave, keyed by field name (the form
``load_config`` and ``load_convert_options`` take)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from sfs_kit.capture.options import ConvertOptions, option_specs

__all__ = ["add_convert_options", "add_format_option", "convert_settings"]

_DEST_PREFIX = "convert_opt_"


def add_format_option(parser: argparse.ArgumentParser | Any) -> None:
    """``--format {sfs,split_base64}``; absent means the config's format (default sfs)."""
    parser.add_argument("--format", choices=("sfs", "split_base64"), default=None,
                        help="attachment format: one .sfs file, or a folder of split_base64 "
                             "frames plus their images (default: sfs)")


def add_convert_options(parser: argparse.ArgumentParser | Any) -> None:
    """One flag (or ``--x``/``--no-x`` pair) per ``ConvertOptions`` field, in a group of its own.
    Every flag defaults to None, so an absent flag leaves the config file / environment value."""
    group = parser.add_argument_group(
        "conversion (also settings in sfs-kit.toml and SFS_KIT_* variables)")
    for name, spec in option_specs().items():
        dest = _DEST_PREFIX + name
        if spec.negative is not None:
            pair = group.add_mutually_exclusive_group()
            pair.add_argument(spec.flag, dest=dest, action="store_const", const=True,
                              default=None, help=spec.help)
            pair.add_argument(spec.negative, dest=dest, action="store_const", const=False,
                              default=None, help=spec.negative_help)
        elif _is_switch(name):
            group.add_argument(spec.flag, dest=dest, action="store_const", const=True,
                               default=None, help=spec.help)
        else:
            group.add_argument(spec.flag, dest=dest, type=spec.parse, metavar=spec.metavar,
                               default=None, help=spec.help)


def _is_switch(name: str) -> bool:
    default = next(f.default for f in fields(ConvertOptions) if f.name == name)
    return isinstance(default, bool)


def convert_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The conversion options given on the command line, by field name (absent ones left out)."""
    given: dict[str, Any] = {}
    for name in option_specs():
        value = getattr(args, _DEST_PREFIX + name, None)
        if value is not None:
            given[name] = value
    return given
