"""``sfs-kit submit``: create one multi-stage task from URLs already uploaded (spec §5).

The API key comes only from ``SCALE_API_KEY`` (never from the command line, where ``ps`` shows it).
Prints the task id, or the task as JSON with ``--json``; ``--dry-run`` prints the request unsent.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from sfs_kit._redact import redact_url
from sfs_kit.cli._common import EXIT_OK, print_json
from sfs_kit.errors import InputError, ScaleAuthError

logger = logging.getLogger(__name__)

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
_CHECK_WORKERS = 8  # frames checked at once (each a ranged GET of its tail)
_IMAGE_URL = re.compile(r'"image_url"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _check_frames_self_contained(attachments: list[str]) -> None:
    """Refuse split_base64 frames whose images[].image_url is still relative (Scale could not
    fetch those images). Every frame is checked, eight at a time: a ``file://`` frame is read,
    an http(s) frame's tail fetched with one ranged GET, an ``s3://`` frame's with one ranged
    GetObject (credentials and endpoint as boto3 finds them: AWS_* variables, profiles). A frame
    that cannot be read is left to Scale, and the count of those is logged as a warning; after
    one unreadable ``s3://`` frame the others are not tried (the bucket is Scale's to read)."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    from sfs_kit.codecs.frame_refs import is_relative_url
    from sfs_kit.errors import TaskRequestError

    s3 = [i for i, url in enumerate(attachments) if urlsplit(url).scheme == "s3"]
    results: dict[int, list[str] | None] = {}
    if s3:  # one first: an unreachable bucket should cost one failure, not one per frame
        results[s3[0]] = _frame_image_urls(attachments[s3[0]])
    todo = [i for i in range(len(attachments))
            if i not in results and (i not in s3 or results.get(s3[0]) is not None)]
    with ThreadPoolExecutor(max_workers=max(1, min(_CHECK_WORKERS, len(todo)))) as pool:
        results.update(zip(todo, pool.map(lambda i: _frame_image_urls(attachments[i]), todo),
                           strict=True))
    for index, url in enumerate(attachments):
        relative = [u for u in results.get(index) or [] if is_relative_url(u)]
        if relative:
            raise TaskRequestError(
                f"Attachment {index} ({redact_url(url)}) is a frame whose images[].image_url "
                f"{relative[0]!r} is relative, so Scale cannot fetch the image; upload the frames "
                f"folder with `sfs-kit upload FOLDER --bucket B` (it uploads the images first and "
                f"rewrites each frame's image_url), or use `sfs-kit run`.",
                field=f"attachments.{index}", rule="self_contained")
    unread = sum(1 for i in range(len(attachments)) if results.get(i) is None)
    if unread:
        logger.warning("%d of %d frame attachment(s) could not be read here to check that their "
                       "image URLs are absolute; Scale will fetch them as they are.", unread,
                       len(attachments))


def _frame_image_urls(url: str) -> list[str] | None:
    """The image URLs of the frame at ``url`` (read from its tail), None if it cannot be read."""
    from urllib.parse import unquote, urlsplit

    from sfs_kit.codecs.frame_refs import frame_image_urls
    from sfs_kit.errors import SfsKitError

    parts = urlsplit(url)
    try:
        if parts.scheme == "file":
            path = Path(unquote(parts.path))
            return frame_image_urls(path) if path.is_file() else None
        if parts.scheme in ("http", "https"):
            return _urls_in_tail(_http_tail(url))
        if parts.scheme == "s3":
            from sfs_kit.storage.s3 import S3Store

            store = S3Store(parts.netloc)
            return _urls_in_tail(store.get_tail(unquote(parts.path.lstrip("/")), _TAIL_BYTES))
    except SfsKitError:
        return None
    return None


def _http_tail(url: str) -> bytes | None:
    """The last bytes of the object at ``url``, None if it cannot be fetched."""
    import urllib3

    try:
        response = urllib3.request("GET", url, headers={"Range": f"bytes=-{_TAIL_BYTES}"},
                                   timeout=urllib3.Timeout(connect=5.0, read=10.0),
                                   retries=False, preload_content=False)
        try:
            if response.status not in (200, 206):
                return None
            return bytes(response.read(_TAIL_BYTES + 1))[-_TAIL_BYTES:]
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError:
        return None


def _urls_in_tail(tail: bytes | None) -> list[str] | None:
    """The ``image_url`` values in a frame's last bytes (its images[] list)."""
    if tail is None:
        return None
    text = tail.decode("utf-8", errors="replace")
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
