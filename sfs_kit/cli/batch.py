"""``sfs-kit batch``, ``sfs-kit batch status`` and ``sfs-kit run-one`` (see ``sfs_kit.batch``).

Every ``run`` option applies to every capture (command line > environment > ``sfs-kit.toml`` >
defaults), and a JSONL/CSV list adds per-capture overrides. Exit codes: 0 every capture is done,
1 some failed (the table says which and why), 2 or more the batch could not run at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from sfs_kit._redact import redact_url
from sfs_kit.cli._common import EXIT_OK, exit_code_for, print_json
from sfs_kit.cli.run import _size, add_run_options, run_settings
from sfs_kit.errors import InputError, SfsKitError

__all__ = ["register"]

EXIT_FAILED = 1
_INDEX_ENVS = ("AWS_BATCH_JOB_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID", "SGE_TASK_ID")
_REASON_CHARS = 110


def register(subparsers: Any) -> None:
    """Add ``batch`` (with ``batch status``) and ``run-one``."""
    parser = subparsers.add_parser(
        "batch", help="run many captures (a list, JSONL/CSV or globs) with a resumable ledger",
        description="Convert, upload and submit every capture of a list, on a local process "
                    "pool or a Ray cluster, recording each in a crash-safe ledger under --out. "
                    "Running it again skips what is done, resumes what was running and, with "
                    "--retry-failed, retries what failed; no capture ever gets a second task. "
                    "'sfs-kit batch status LEDGER_DIR' fetches every task's status from Scale.")
    parser.add_argument("captures", nargs="+", metavar="CAPTURES",
                        help="a .txt list (one path a line), a .jsonl/.csv list with per-capture "
                             "overrides (unique_id, tags, metadata, priority, format), capture "
                             "paths or globs; or 'status LEDGER_DIR'")
    parser.add_argument("--out", type=Path, metavar="LEDGER_DIR",
                        help="the ledger folder (each capture's run folder is under it); "
                             "required except for 'status'")
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray")
    engine.add_argument("--workers", type=int, metavar="N",
                        help="captures at a time (local default: CPU count; ray: cluster CPUs)")
    engine.add_argument("--timeout", metavar="DURATION",
                        help="per-capture time limit (e.g. 30m); a capture past it fails")
    engine.add_argument("--retries", type=int, default=3, metavar="N",
                        help="retries of a transient failure (S3/Scale 5xx, 429, network, a "
                             "lost worker) per capture (default 3)")
    engine.add_argument("--retry-failed", action="store_true",
                        help="run the captures the ledger has as failed again")
    engine.add_argument("--max-uploads", type=int, metavar="N",
                        help="at most N captures uploading at once, across all workers")
    engine.add_argument("--max-submits", type=int, metavar="N",
                        help="at most N Scale task requests at once, across all workers")
    engine.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster to connect to (default: RAY_ADDRESS, else a local Ray)")
    engine.add_argument("--ray-num-cpus", type=float, default=1.0, metavar="N",
                        help="CPUs Ray reserves per capture (default 1)")
    engine.add_argument("--ray-memory", metavar="BYTES",
                        help="memory Ray reserves per capture (e.g. 2G)")
    scale = parser.add_argument_group("Scale batch (--batch)")
    scale.add_argument("--create-batch", action="store_true",
                       help="create the --batch in --project before the first task (an existing "
                            "batch of that name is reused)")
    scale.add_argument("--finalize", action="store_true",
                       help="finalize the --batch once every capture is done")
    add_run_options(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the whole batch result (every capture's ledger state)")
    parser.set_defaults(func=_batch)

    one = subparsers.add_parser(
        "run-one", help="run capture number --index of a list into a ledger (array jobs)",
        description="Run one capture of a batch list into the ledger under --out, for array-job "
                    "runners (AWS Batch, Slurm): each job runs its own index, all share the "
                    "ledger. A capture already done is not run again.")
    one.add_argument("captures", nargs="+", metavar="CAPTURES", help="as for 'sfs-kit batch'")
    one.add_argument("--index", type=int, metavar="I",
                     help="0-based row of the list (default: $AWS_BATCH_JOB_ARRAY_INDEX, "
                          "$SLURM_ARRAY_TASK_ID or $SGE_TASK_ID minus 1)")
    one.add_argument("--out", type=Path, metavar="LEDGER_DIR", required=True,
                     help="the shared ledger folder")
    add_run_options(one)
    one.add_argument("--json", action="store_true", help="print the capture's outcome as JSON")
    one.set_defaults(func=_run_one)


def _config(args: argparse.Namespace) -> Any:
    from sfs_kit.pipeline import load_config

    settings = run_settings(args)
    if settings.get("unique_id") is not None:
        raise InputError("--unique-id would give every capture the same task id; set it per "
                         "capture in a JSONL/CSV list instead.", field="--unique-id")
    return load_config(settings, config_path=args.config)


def _duration(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    from sfs_kit.pipeline import parse_duration_s

    seconds = parse_duration_s(value, name=option)
    if seconds <= 0:
        raise InputError(f"{option} must be longer than 0 s, got {value!r}.", field=option)
    return float(seconds)


def _bytes(value: str | None) -> int | None:
    if value is None:
        return None
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in units else ""
    number = text[: len(text) - len(unit)] if unit else text
    try:
        amount = float(number) * units[unit]
    except ValueError as err:
        raise InputError(f"--ray-memory must be a size like '2G' or '512M', got {value!r}.",
                         field="--ray-memory") from err
    return int(amount)


def _batch(args: argparse.Namespace) -> int:
    if args.captures[0] == "status" and not Path("status").exists():
        return _status(args)
    try:
        from sfs_kit.batch import BatchOptions, read_captures, run_batch

        if args.out is None:
            raise InputError("sfs-kit batch needs --out LEDGER_DIR (the ledger folder).",
                             field="--out")
        config = _config(args)
        rows = read_captures(args.captures)
        options = BatchOptions(
            engine=args.engine, workers=args.workers,
            timeout_s=_duration(args.timeout, "--timeout"), retries=max(0, args.retries),
            retry_failed=args.retry_failed, max_uploads=args.max_uploads,
            max_submits=args.max_submits, create_batch=args.create_batch,
            finalize=args.finalize, ray_address=args.ray_address,
            ray_num_cpus=args.ray_num_cpus, ray_memory_bytes=_bytes(args.ray_memory))
        for name in ("max_uploads", "max_submits"):
            value = getattr(args, name)
            if value is not None and value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {value}.",
                                 field=name)
        from sfs_kit.cli._batch_progress import BatchDisplay

        # stdout carries only our result: whatever an engine prints meanwhile (Ray's driver
        # writes a raylet's "worker died" notice to sys.stdout) goes to stderr instead
        with BatchDisplay(enabled=False if args.json else None) as display, \
                contextlib.redirect_stdout(sys.stderr):
            result = run_batch(rows, config, args.out, options, on_progress=display)
    except SfsKitError as exc:
        print(f"sfs-kit: error: {exc}", file=sys.stderr)
        return max(2, exit_code_for(exc))  # the batch could not run: never 0 or 1
    if args.json:
        print_json(result.to_dict())
    else:
        _print_summary(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def _print_summary(result: Any) -> None:
    print(f"sfs-kit batch: {result.total} captures -> {result.ledger_dir} "
          f"(engine {result.engine})")
    print(f"  done        {result.done} ({result.ran} finished by this run, "
          f"{result.skipped_done} already done)")
    print(f"  failed      {result.failed}")
    print(f"  tasks       {result.tasks_created} created by this run")
    rate = result.ran / result.elapsed_s * 60 if result.elapsed_s > 0 else 0.0
    print(f"  uploaded    {_size(result.bytes_uploaded)} in {result.elapsed_s:.1f} s "
          f"({rate:.0f} captures/min)")
    if result.scale_batch:
        batch = result.scale_batch
        print(f"  scale batch {batch['name']} [{batch.get('status')}]"
              f"{' (existing, reused)' if batch.get('existing') else ''}"
              f"{' finalized' if batch.get('finalized') else ''}")
    for note in result.notes:
        print(f"  note        {note}")
    failures = result.failures()
    if failures:
        width = min(48, max(len(_short(f.path)) for f in failures))
        cls_width = max(11, *(len(f.error_class or "") for f in failures))
        print(f"  failures ({len(failures)}):")
        print(f"    {'capture':<{width}}  {'error class':<{cls_width}}  reason")
        for state in failures:
            reason = redact_url(state.error_message or ("not run: failed earlier; "
                                                         "use --retry-failed"
                                                         if state.state == "failed"
                                                         else state.state))
            if len(reason) > _REASON_CHARS:
                reason = reason[: _REASON_CHARS - 3] + "..."
            print(f"    {_short(state.path):<{width}}  {state.error_class or '-':<{cls_width}}  "
                  f"{reason}")
        print("  retry them with --retry-failed once fixed; the ledger keeps every attempt")


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        rel = path
    shown = rel if not rel.startswith("../..") else path
    return shown if len(shown) <= 48 else "..." + shown[-45:]


def _status(args: argparse.Namespace) -> int:
    from sfs_kit.batch.status import refresh_status
    from sfs_kit.pipeline import load_config

    if len(args.captures) != 2:
        raise InputError("Usage: sfs-kit batch status LEDGER_DIR.", field="captures")
    ledger_dir = Path(args.captures[1])
    if not ledger_dir.is_dir():
        raise InputError(f"Ledger folder {str(ledger_dir)!r} does not exist.",
                         source=str(ledger_dir))
    config = load_config(run_settings(args), config_path=args.config)
    report = refresh_status(ledger_dir, config)
    if args.json:
        print_json(report.to_dict())
        return EXIT_OK if not report.errors else EXIT_FAILED
    print(f"sfs-kit batch status: {report.captures} captures in {report.ledger_dir}")
    print("  ledger      " + ", ".join(f"{k} {v}" for k, v in report.states.items()))
    print(f"  tasks       {sum(report.task_statuses.values())} "
          f"({report.checked} checked with Scale now)")
    for status, count in report.task_statuses.items():
        print(f"    {status:<12}{count}")
    for error in report.errors:
        print(f"  unreadable  {error['task_id']} ({_short(error['capture'])}): "
              f"{error['error_class']}: {error['error_message']}")
    return EXIT_OK if not report.errors else EXIT_FAILED


def _index(args: argparse.Namespace) -> int:
    if args.index is not None:
        return int(args.index)
    for name in _INDEX_ENVS:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value) - (1 if name == "SGE_TASK_ID" else 0)
    raise InputError("run-one needs --index I (or AWS_BATCH_JOB_ARRAY_INDEX / "
                     "SLURM_ARRAY_TASK_ID in the environment).", field="--index")


def _run_one(args: argparse.Namespace) -> int:
    from sfs_kit.batch import read_captures, run_capture

    config = _config(args)
    rows = read_captures(args.captures)
    index = _index(args)
    if not 0 <= index < len(rows):
        raise InputError(f"--index {index} is outside the list of {len(rows)} captures "
                         f"(0..{len(rows) - 1}).", field="--index")
    row = rows[index]
    outcome = run_capture(row, config, args.out)
    if args.json:
        print_json({"capture": row.path, "index": index, **outcome.to_record()})
    elif outcome.state == "done":
        task = outcome.task_id or f"dry run, request in {outcome.request_path}"
        print(f"sfs-kit run-one: [{index}] {row.path}: done, task {task}")
    else:
        print(f"sfs-kit run-one: [{index}] {row.path}: failed: {outcome.error_class}: "
              f"{redact_url(outcome.error_message or '')}")
    return EXIT_OK if outcome.state == "done" else EXIT_FAILED
