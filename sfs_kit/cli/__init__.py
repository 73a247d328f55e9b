"""The ``sfs-kit`` command line: the only code in sfs_kit that prints or exits.

Each subcommand lives in its own private module exposing ``register(subparsers)``; the module sets
``func`` (``Callable[[argparse.Namespace], int]``) on its parser. ``main`` turns every
``SfsKitError`` into one line on stderr and an exit code (see ``sfs_kit.cli._common``).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from typing import IO

from sfs_kit._version import __version__
from sfs_kit.cli._common import EXIT_USAGE, exit_code_for, print_error
from sfs_kit.cli._logging import cli_logging, redacted_streams
from sfs_kit.cli._progress import set_quiet
from sfs_kit.cli._startup import freeze_at_exit, own_process
from sfs_kit.errors import SfsKitError

__all__ = ["console_main", "main"]

# One module per subcommand, in the order `--help` lists them.
_COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "inspect",
    "validate",
    "preview",
    "convert",
    "upload",
    "submit",
    "batch",  # also registers run-one
)


def build_parser() -> argparse.ArgumentParser:
    """The whole argument parser, every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="sfs-kit",
        description="Prepare lidar/camera captures for labeling on Scale AI.",
    )
    parser.add_argument("--version", action="version", version=f"sfs-kit {__version__}")
    _add_verbosity(parser, "")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"sfs_kit.cli.{name}").register(subparsers)
    for sub in subparsers.choices.values():  # -v/-q after the subcommand too
        _add_verbosity(sub, _SUB)
    return parser


_SUB = "_after_command"  # dest suffix: argparse lets a subparser's defaults overwrite the main's


def _add_verbosity(parser: argparse.ArgumentParser, suffix: str) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0, dest="verbose" + suffix,
                        help="log more: -v info, -vv debug (sfs_kit only), -vvv also boto3/urllib3 "
                             "debug; URL signatures and credentials are always redacted")
    parser.add_argument("-q", "--quiet", action="store_true", dest="quiet" + suffix,
                        help="quiet: only errors on stderr (no progress bars, warnings or notes), "
                             "and no report on stdout (convert, run, validate, preview, batch) "
                             "unless --json; results a script reads (inspect, upload's URLs, "
                             "submit's task id) are still printed")


def _verbosity(args: argparse.Namespace) -> int:
    """-1 for -q, else the number of -v given before and after the subcommand."""
    if args.quiet or getattr(args, "quiet" + _SUB, False):
        return -1
    return int(args.verbose) + int(getattr(args, "verbose" + _SUB, 0))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help/--version (0) and on bad usage (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbosity = _verbosity(args)
    set_quiet(verbosity < 0)
    # all it prints is redacted; logs: sfs_kit only (-vvv: all)
    with redacted_streams(), cli_logging(verbosity), _quiet_output(args, verbosity < 0):
        try:
            code: int = args.func(args)
            sys.stdout.flush()  # a full or closed stdout fails here, not at interpreter exit
        except SfsKitError as exc:
            print_error(exc)
            return exit_code_for(exc)
        except KeyboardInterrupt:
            print("sfs-kit: interrupted.", file=sys.stderr)
            return 130
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ENOSPC):
                raise  # not a stdout problem (files map theirs to OutputError): keep the traceback
            _silence_stdout()
            print(f"sfs-kit: error: cannot write to standard output: {exc.strerror or exc}.",
                  file=sys.stderr)
            return 1
    return code


# Commands whose standard output is a report for people: -q drops it (unless --json). The
# others print what a script captures (inspect's summary, upload's URLs, submit's task id).
_REPORTING_COMMANDS = frozenset({"convert", "run", "validate", "preview", "batch", "run-one"})


class _ErrorsOnly(io.TextIOBase):
    """A stderr for -q: passes only the lines that report an error (``sfs-kit: error: ...``,
    an interruption), dropping the warnings and notes commands print themselves."""

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self._line = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._line += text
        *lines, self._line = self._line.split("\n")
        for line in lines:
            if line.startswith(("sfs-kit: error", "sfs-kit: interrupted")):
                self._target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()


@contextmanager
def _quiet_output(args: argparse.Namespace, quiet: bool) -> Iterator[None]:
    """Under -q: stderr carries only errors, and a reporting command's stdout is dropped unless
    it was asked for as --json."""
    if not quiet:
        yield
        return
    with ExitStack() as stack:
        stack.enter_context(redirect_stderr(_ErrorsOnly(sys.stderr)))
        if args.command in _REPORTING_COMMANDS and not getattr(args, "json", False):
            stack.enter_context(redirect_stdout(io.StringIO()))
        yield


def _silence_stdout() -> None:
    """Point a broken stdout (closed pipe, full device) at /dev/null, so the interpreter's final
    flush stays quiet. Reading input never fails with EPIPE/ENOSPC, and writes to output files
    raise ``OutputError``, so those errnos here mean stdout."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (tests, embedding): nothing flushes it at exit


def console_main() -> None:
    """Entry point of the ``sfs-kit`` console script."""
    own_process()
    code = main()
    freeze_at_exit()
    sys.exit(code)
