"""``sfs-kit submit``: create one multi-stage task from URLs already uploaded (spec §5).

The API key comes only from ``SCALE_API_KEY`` (never from the command line, where ``ps`` shows it).
Prints the task id, or the task as JSON with ``--json``; ``--dry-run`` prints the request unsent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from sfs_kit._redact import redact_url
from sfs_kit.cli._common import EXIT_OK, print_json
from sfs_kit.errors import InputError, ScaleAuthError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``submit`` subcommand."""
    parser = subparsers.add_parser(
        "submit", help="create a Scale multi-stage task",
        description="Create one Scale multi-stage task. The API key is read from SCALE_API_KEY.")
    parser.add_argument("--project", help="Scale project name (required unless --batch)")
    parser.add_argument("--batch", help="Scale batch name")
    parser.add_argument("--scene-format", required=True, choices=("sensor_fusion", "split_base64"))
    parser.add_argument("--attachment", action="append", required=True, metavar="URL",
                        help="attachment URL; repeat once per frame for split_base64, in order")
    parser.add_argument("--instruction", metavar="TEXT|@FILE", help="markdown text, or @file.md")
    parser.add_argument("--callback-url", metavar="URL")
    parser.add_argument("--blueprint-id", metavar="ID")
    parser.add_argument("--metadata", metavar="JSON|@FILE", help="a JSON object, or @file.json")
    parser.add_argument("--unique-id", metavar="ID",
                        help="makes retries safe and re-runs idempotent (recommended)")
    parser.add_argument("--priority", type=int, metavar="10|20|30")
    parser.add_argument("--tag", action="append", metavar="TAG", help="repeatable, at most 5")
    parser.add_argument("--clear-unique-id-on-error", action="store_true", default=None)
    parser.add_argument("--on-duplicate", choices=("raise", "return_existing"), default="raise",
                        help="on a 409 for --unique-id: fail (default) or return the existing task")
    parser.add_argument("--base-url", metavar="URL",
                        help="API base URL (default: SCALE_API_BASE_URL or https://api.scale.com)")
    parser.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    parser.add_argument("--json", action="store_true", help="print the task as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build and check the request, then send it (or print it for ``--dry-run``)."""
    from sfs_kit.submit import DryRunRequest, ScaleClient, TaskRequest

    if args.scene_format == "split_base64":
        _check_frames_self_contained(list(args.attachment))
    request = TaskRequest(
        project=args.project,
        batch=args.batch,
        instruction=_text_or_file(args.instruction, "--instruction"),
        callback_url=args.callback_url,
        attachments=list(args.attachment),
        scene_format=args.scene_format,
        blueprint_id=args.blueprint_id,
        metadata=_json_or_file(args.metadata, "--metadata"),
        unique_id=args.unique_id,
        priority=args.priority,
        clear_unique_id_on_error=args.clear_unique_id_on_error,
        tags=args.tag,
    )
    if not args.dry_run and not os.environ.get("SCALE_API_KEY"):
        raise ScaleAuthError("No Scale API key: set SCALE_API_KEY in the environment, or use "
                             "--dry-run to see the request without sending it.", status_code=0)
    with ScaleClient(base_url=args.base_url) as client:
        result = client.create_multistage_task(request, dry_run=args.dry_run,
                                               on_duplicate=args.on_duplicate)
    if isinstance(result, DryRunRequest):
        print_json(result.model_dump(mode="json"))
        return EXIT_OK
    if result.recovered:
        print(f"sfs-kit: note: task {result.task_id} was created by an earlier attempt and "
              f"recovered by unique_id.", file=sys.stderr)
    if args.json:
        print_json(result.model_dump(mode="json"))
    else:
        print(result.task_id)
    return EXIT_OK


_TAIL_BYTES = 65536  # our frames end with their images[] list; a ranged GET reads the tail
_CHECKED_REMOTE = 3  # frames fetched (tails only) to check that they are self-contained
_IMAGE_URL = re.compile(r'"image_url"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _check_frames_self_contained(attachments: list[str]) -> None:
    """Refuse split_base64 frames whose images[].image_url is still relative (Scale could not
    fetch those images): every ``file://`` frame is read, and the tail of the first few http(s)
    frames is fetched with one ranged GET each (a frame that cannot be fetched is left to the
    request's own checks)."""
    from urllib.parse import unquote, urlsplit

    from sfs_kit.codecs.frame_refs import is_relative_url, relative_image_urls
    from sfs_kit.errors import TaskRequestError

    remote = 0
    for index, url in enumerate(attachments):
        parts = urlsplit(url)
        relative: list[str] = []
        if parts.scheme == "file" and Path(unquote(parts.path)).is_file():
            relative = relative_image_urls(Path(unquote(parts.path)))
        elif parts.scheme in ("http", "https") and remote < _CHECKED_REMOTE:
            remote += 1
            relative = [u for u in _remote_image_urls(url) if is_relative_url(u)]
        if relative:
            raise TaskRequestError(
                f"Attachment {index} ({redact_url(url)}) is a frame whose images[].image_url "
                f"{relative[0]!r} is relative, so Scale cannot fetch the image; upload the frames "
                f"folder with `sfs-kit upload FOLDER --bucket B` (it uploads the images first and "
                f"rewrites each frame's image_url), or use `sfs-kit run`.",
                field=f"attachments.{index}", rule="self_contained")


def _remote_image_urls(url: str) -> list[str]:
    """The image URLs found in the last bytes of a frame at ``url`` ([] if it cannot be read)."""
    import urllib3

    try:
        response = urllib3.request("GET", url, headers={"Range": f"bytes=-{_TAIL_BYTES}"},
                                   timeout=urllib3.Timeout(connect=5.0, read=10.0),
                                   retries=False, preload_content=False)
        try:
            tail = response.read(_TAIL_BYTES + 1) if response.status in (200, 206) else b""
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError:
        return []
    text = tail[-_TAIL_BYTES:].decode("utf-8", errors="replace")
    found: list[str] = []
    for match in _IMAGE_URL.finditer(text):
        try:
            found.append(json.loads(f'"{match.group(1)}"'))
        except ValueError:
            continue
    return found


def _read(path_text: str, option: str) -> str:
    path = Path(path_text)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{option} file {str(path)!r} cannot be read: {err}.", source=str(path),
                         field=option) from err


def _text_or_file(value: str | None, option: str) -> str | None:
    if value is None or not value.startswith("@"):
        return value
    return _read(value[1:], option)


def _json_or_file(value: str | None, option: str) -> object:
    if value is None:
        return None
    source = "<argument>"
    text = value
    if value.startswith("@"):
        source = value[1:]
        text = _read(source, option)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{option} {source!r} is not valid JSON at line {err.lineno}, column "
                         f"{err.colno}: {err.msg}.", source=source, line=err.lineno,
                         field=option) from err
