"""``sfs-kit run``: capture to Scale task in one command, resumable (see ``sfs_kit.pipeline``).

Settings: command line > environment (``SFS_KIT_*``, ``SCALE_API_KEY``, ``SCALE_API_BASE_URL``) >
``sfs-kit.toml`` (or ``--config``) > defaults. With no bucket the objects go to a local store under
``--out`` (``file://`` URLs); with no ``SCALE_API_KEY`` the request is written, not sent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfs_kit._redact import redact_url
from sfs_kit.cli._common import EXIT_OK, print_json
from sfs_kit.cli._options import add_convert_options, add_format_option, convert_settings
from sfs_kit.cli._outputs import check_output_folder
from sfs_kit.cli._progress import Bar, ProgressDisplay
from sfs_kit.cli._recording import add_recording_arguments, recording_options
from sfs_kit.errors import InputError

if TYPE_CHECKING:
    from sfs_kit.pipeline import PipelineProgress, RunResult

__all__ = ["add_run_options", "register", "run", "run_settings"]

_BYTE_STEPS = ("upload", "upload_images")
_LISTED = 5


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run", help="convert, upload and submit a capture (resumable)",
        description="Convert a capture, validate it, upload it, presign and verify every URL, "
                    "and create one Scale multi-stage task. Re-running continues where a "
                    "previous run stopped and never creates a second task.")
    parser.add_argument("capture", metavar="CAPTURE", help="capture folder or file")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder, new or of an earlier run of this capture (its "
                             "parent must exist; default: ./sfs-kit-out/<capture name>-<hash "
                             "of its path>)")
    add_run_options(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the whole result as JSON; unlike the summary, which redacts "
                             "URL signatures, it (like task_request.json) holds the exact URLs")
    parser.set_defaults(func=run)


def add_run_options(parser: Any) -> None:
    """The settings of one capture's run (format, conversion, store, task, config, dry run):
    shared by ``run``, ``batch`` and ``run-one``; read them back with ``run_settings``."""
    add_format_option(parser)
    add_convert_options(parser)
    add_recording_arguments(parser)
    store = parser.add_argument_group("store (default: a local store under --out, file:// URLs)")
    store.add_argument("--bucket", metavar="B", help="S3 bucket")
    store.add_argument("--prefix", metavar="P", help="key prefix in the bucket")
    store.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint")
    store.add_argument("--region", metavar="R", help="AWS region")
    store.add_argument("--store", type=Path, metavar="DIR", dest="store_dir",
                       help="local store folder instead of a bucket")
    store.add_argument("--s3-uri", action="store_true", default=None,
                       help="attachments as s3://bucket/key instead of presigned URLs (Scale "
                            "needs access to the bucket); URL verification is skipped")
    store.add_argument("--sse", choices=("AES256", "aws:kms"),
                       help="server-side encryption of the uploaded objects")
    store.add_argument("--sse-kms-key-id", metavar="KEY", help="KMS key id (with --sse aws:kms)")
    store.add_argument("--addressing-style", choices=("auto", "path", "virtual"),
                       help="S3 addressing style (path for most S3-compatible servers)")
    store.add_argument("--expires", metavar="7d", help="URL lifetime (s, m, h, d, w; max 7d)")
    store.add_argument("--min-lifetime", metavar="24h",
                       help="re-sign (or refuse) URLs living less than this")
    store.add_argument("--no-verify", action="store_false", dest="verify", default=None,
                       help="skip the ranged GET of every URL before submission")
    task = parser.add_argument_group("task")
    task.add_argument("--project", metavar="P")
    task.add_argument("--batch", metavar="B")
    task.add_argument("--blueprint-id", metavar="ID")
    task.add_argument("--priority", type=int, metavar="10|20|30")
    task.add_argument("--tag", action="append", dest="tags", metavar="T", help="repeatable")
    task.add_argument("--callback-url", metavar="URL")
    task.add_argument("--instruction", metavar="TEXT|@FILE", help="markdown text, or @file.md")
    task.add_argument("--metadata", metavar="JSON|@FILE", help="a JSON object, or @file.json")
    task.add_argument("--unique-id", metavar="ID",
                      help="override the id derived from project + content hash")
    geometry = parser.add_argument_group("geometric pre-flight (G-* rules, before upload)")
    geometry.add_argument("--strict-geometry", action="store_true", default=None,
                          help="stop before uploading when the geometric checks find an error "
                               "(default: print them and keep them in the result)")
    geometry.add_argument("--no-geometry", action="store_false", dest="geometry_checks",
                          default=None, help="skip the geometric checks")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="settings file (default: ./sfs-kit.toml if present)")
    parser.add_argument("--dry-run", action="store_true", default=None,
                        help="convert, upload and presign as usual, but send nothing to Scale: "
                             "write the exact request to <out>/task_request.json (with a bucket "
                             "it holds live presigned URLs)")


def _text_or_file(value: str | None, option: str) -> str | None:
    if value is None or not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{option} file {value[1:]!r} cannot be read ({err.strerror}).",
                         source=value[1:], field=option) from err


def _metadata(value: str | None) -> dict[str, Any] | None:
    text = _text_or_file(value, "--metadata")
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise InputError(f"--metadata is not valid JSON ({err}).", field="--metadata") from err
    if not isinstance(data, dict):
        raise InputError(f"--metadata must be a JSON object, got a {type(data).__name__}.",
                         field="--metadata")
    return data


class _Bars:
    """One bar per step in one live display on stderr (files for most steps, bytes for
    uploads); each finished step's bar stays with its totals and rate."""

    def __init__(self, display: ProgressDisplay) -> None:
        self._display = display
        self._step: str | None = None
        self._bar: Bar | None = None
        self._by_bytes = False

    def __call__(self, event: PipelineProgress) -> None:
        if not self._display.enabled:
            return
        if event.step != self._step:
            self.close()
            self._step = event.step
            self._by_bytes = event.step in _BYTE_STEPS and event.bytes_total > 0
            total = event.bytes_total if self._by_bytes else event.files_total
            self._bar = self._display.bar(event.step, total, unit="B" if self._by_bytes else "")
        if self._bar is None:
            return
        label = f"{event.step} {event.files_done}/{event.files_total}" if self._by_bytes \
            else event.step
        done = event.bytes_done if self._by_bytes else event.files_done
        total = event.bytes_total if self._by_bytes else event.files_total
        self._bar.set(done, total=total, label=label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line layer of ``load_config`` from the options of ``add_run_options``."""
    return {
        "format": args.format,
        **convert_settings(args),
        "bucket": args.bucket,
        "prefix": args.prefix,
        "endpoint_url": args.endpoint_url,
        "region": args.region,
        "store_dir": args.store_dir,
        "s3_uri": args.s3_uri,
        "sse": args.sse,
        "sse_kms_key_id": args.sse_kms_key_id,
        "addressing_style": args.addressing_style,
        "expires_s": args.expires,
        "min_lifetime_s": args.min_lifetime,
        "verify": args.verify,
        "project": args.project,
        "batch": args.batch,
        "blueprint_id": args.blueprint_id,
        "priority": args.priority,
        "tags": tuple(args.tags) if args.tags else None,
        "callback_url": args.callback_url,
        "instruction": _text_or_file(args.instruction, "--instruction"),
        "metadata": _metadata(args.metadata),
        "unique_id": args.unique_id,
        "dry_run": args.dry_run,
        "recording": recording_options(args),
        "strict_geometry": args.strict_geometry,
        "geometry_checks": args.geometry_checks,
    }


def run(args: argparse.Namespace) -> int:
    """Load the settings, run the pipeline, print the summary (or JSON)."""
    cli = {**run_settings(args), "out_dir": args.out}
    if args.out is not None:
        check_output_folder(args.out)  # may be new, but its parent must exist
    from sfs_kit.pipeline import load_config
    from sfs_kit.pipeline.run import run as run_pipeline

    config = load_config(cli, config_path=args.config)
    with ProgressDisplay() as display:
        bars = _Bars(display)
        try:
            result = run_pipeline(args.capture, config, on_progress=bars)
        finally:
            bars.close()
    if args.json:
        print_json(result.model_dump(mode="json"))
    else:
        print_summary(result)
    return EXIT_OK


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def print_summary(result: RunResult) -> None:
    """The human summary: task, id, URLs (signatures redacted), sizes, timings."""
    print(f"sfs-kit run: {result.capture} -> {result.out_dir}")  # URLs below are redacted
    if result.dry_run:
        print(f"  task        DRY RUN, nothing sent to Scale (no SCALE_API_KEY or --dry-run); "
              f"request written to {result.request_path}"
              f"{' (live presigned URLs)' if not result.store.startswith('local:') else ''}")
    else:
        note = (" (recovered by unique_id after an ambiguous attempt)" if result.task_recovered
                else " (existing task returned: it already had this unique_id and these "
                     "attachments)" if result.task_existing else "")
        print(f"  task        {result.task_id} [{result.task_status or 'unknown'}]{note}")
    how = "derived from project + content hash" if result.unique_id_source == "derived" \
        else "given"
    print(f"  unique_id   {result.unique_id} ({how})")
    print(f"  format      {result.format}")
    print(f"  store       {result.store}")
    total = sum(o.size for o in result.objects)
    print(f"  objects     {len(result.objects)}, {_size(total)} "
          f"({_size(result.bytes_uploaded)} uploaded by this run)")
    expiry = result.urls_expire_at.isoformat(timespec="seconds") if result.urls_expire_at \
        else "never (local store)"
    print(f"  URLs expire {expiry}")
    print(f"  attachments ({len(result.attachments)}):")
    sizes = {o.url: o.size for o in result.objects}
    for url in result.attachments[:_LISTED]:
        print(f"    {redact_url(url)}  {_size(sizes.get(url, 0))}")
    if len(result.attachments) > _LISTED:
        print(f"    ... and {len(result.attachments) - _LISTED} more")
    images = [o for o in result.objects if o.role == "image"]
    if images:
        print(f"  images      {len(images)}, {_size(sum(o.size for o in images))}")
    timings = ", ".join(f"{t.step} {t.seconds:.2f}s{' (resumed)' if t.resumed else ''}"
                        for t in result.steps)
    print(f"  steps       {timings}")
    if result.geometry:
        errors = sum(1 for g in result.geometry if g.get("severity") == "error")
        print(f"  geometry    {errors} error(s), {len(result.geometry) - errors} warning(s) "
              "(--strict-geometry stops on errors before upload)")
        for issue in result.geometry[:_LISTED]:
            where = issue.get("path") or "<scene>"
            print(f"    {issue.get('severity')} {issue.get('code')} at {where}: "
                  f"{issue.get('message')}")
        if len(result.geometry) > _LISTED:
            print(f"    ... and {len(result.geometry) - _LISTED} more in run_result.json")
    for warning in result.warnings[:_LISTED]:
        print(f"  warning     {redact_url(warning)}")
    if len(result.warnings) > _LISTED:
        print(f"  warning     ... and {len(result.warnings) - _LISTED} more")
    print(f"  full result {Path(result.out_dir) / 'run_result.json'} (URLs unredacted)")
