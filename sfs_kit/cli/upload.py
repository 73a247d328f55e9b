"""``sfs-kit upload PATH...``: upload files (directories recursively) and print presigned URLs.

Credentials come from the standard AWS chain only (environment, profile, instance role). URLs
are printed in full because the user needs them; they are never logged.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfs_kit._paths import is_inside
from sfs_kit.cli._common import EXIT_OK, Progress, print_json
from sfs_kit.cli._outputs import check_output_folder
from sfs_kit.cli._upload_frames import frames_folder, upload_frames_folder
from sfs_kit.errors import InputError, PresignError

if TYPE_CHECKING:
    from sfs_kit.storage import LocalStore as LocalStoreT
    from sfs_kit.storage import ObjectStore, ProgressEvent, SignedUrl, StoredObject
    from sfs_kit.storage import S3Store as S3StoreT

__all__ = ["collect_files", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``upload`` subcommand."""
    parser = subparsers.add_parser(
        "upload",
        help="upload files to S3 (or a local store) and print presigned URLs",
        description="Upload files (directories recursively, keyed by relative path) and print "
        "each key, size, sha256 and URL. Unchanged objects are not sent again.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or directory")
    parser.add_argument("--bucket", help="S3 bucket (credentials from the standard AWS chain)")
    parser.add_argument("--prefix", default="", help="key prefix, e.g. runs/2024-05-01")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint URL")
    parser.add_argument("--region", help="AWS region")
    parser.add_argument("--expires", default="7d", metavar="DURATION",
                        help="URL lifetime: 7d (default, the SigV4 maximum), 36h, 1.5h, 90m or "
                        "seconds (units s, m, h, d, w); checked before anything is uploaded")
    parser.add_argument("--min-lifetime", default="24h", metavar="DURATION",
                        help="refuse URLs that would live less than this, as run does "
                             "(temporary credentials cut a URL's life short; default 24h)")
    parser.add_argument("--follow-symlinks", action="store_true",
                        help="upload what symlinks inside DIR point to even outside DIR")
    parser.add_argument("--s3-uri", action="store_true",
                        help="print s3://bucket/key URIs instead of presigned URLs (no "
                             "verification: only readers with bucket access can fetch them)")
    parser.add_argument("--sse", choices=("AES256", "aws:kms"),
                        help="server-side encryption of the uploaded objects")
    parser.add_argument("--sse-kms-key-id", metavar="KEY", help="KMS key id (with --sse aws:kms)")
    parser.add_argument("--addressing-style", choices=("auto", "path", "virtual"),
                        help="S3 addressing style (path for most S3-compatible servers)")
    parser.add_argument("--store", type=Path, metavar="DIR",
                        help="use a local directory store (file:// URLs) instead of S3")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the ranged GET of every URL after upload")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.set_defaults(func=run)


def collect_files(paths: list[Path], *, follow_symlinks: bool = False) -> list[tuple[Path, str]]:
    """``(file, relative key)`` pairs: a file keeps its name, a directory its relative paths.

    Inside a directory only regular files are taken, and a symlink that resolves outside the
    directory is refused (``InputError``) unless ``follow_symlinks``: ``upload DIR`` uploads
    what is in DIR, never ``/etc/passwd`` through a link.
    """
    items: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if not f.is_file():
                    continue
                if not follow_symlinks and not is_inside(f, path):
                    raise InputError(
                        f"Refusing to upload {str(f)!r}: it is a symlink to "
                        f"{os.path.realpath(f)!r}, outside {str(path)!r}; pass --follow-symlinks "
                        "to upload it.", source=str(f),
                    )
                items.append((f, f.relative_to(path).as_posix()))
        elif path.is_file():
            items.append((path, path.name))
        else:
            raise InputError(f"Cannot upload {str(path)!r}: no such file or directory.",
                             source=str(path))
    return items


def __getattr__(name: str) -> Any:
    """``LocalStore``/``S3Store`` as attributes of this module, imported on first use (boto3 is
    slow to import) and looked up here at call time, so they can be replaced in tests."""
    if name in ("LocalStore", "S3Store"):
        import sfs_kit.storage

        return getattr(sfs_kit.storage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _open_store(args: argparse.Namespace) -> ObjectStore:
    this = sys.modules[__name__]
    LocalStore: type[LocalStoreT] = this.LocalStore  # noqa: N806 (classes)
    S3Store: type[S3StoreT] = this.S3Store  # noqa: N806
    if args.store is not None and args.bucket is not None:
        raise InputError("Give either --bucket (S3) or --store DIR (local), not both.")
    if args.store is not None:
        s3_only = [name for name, value in (("--s3-uri", args.s3_uri), ("--sse", args.sse),
                                            ("--sse-kms-key-id", args.sse_kms_key_id),
                                            ("--addressing-style", args.addressing_style))
                   if value]
        if s3_only:
            raise InputError(f"{', '.join(s3_only)} need(s) --bucket; a local --store has no S3 "
                             f"options.", field=s3_only[0])
        return LocalStore(args.store, prefix=args.prefix)
    if args.bucket is None:
        raise InputError("Give --bucket BUCKET for S3 or --store DIR for a local store.")
    if args.sse_kms_key_id is not None and args.sse != "aws:kms":
        raise InputError(f"--sse-kms-key-id needs --sse aws:kms, got --sse {args.sse}.",
                         field="--sse-kms-key-id")
    return S3Store(args.bucket, prefix=args.prefix, endpoint_url=args.endpoint_url,
                   region_name=args.region, addressing_style=args.addressing_style,
                   sse=args.sse, sse_kms_key_id=args.sse_kms_key_id)


def run(args: argparse.Namespace) -> int:
    """Check the lifetime, upload, sign, verify, print."""
    from sfs_kit.pipeline.config import parse_duration_s
    from sfs_kit.storage import UrlCheck, expected_magic_for
    from sfs_kit.storage.presign import check_expires

    expires_s = parse_duration_s(args.expires, name="--expires")
    min_lifetime_s = parse_duration_s(args.min_lifetime, name="--min-lifetime")
    try:
        check_expires(expires_s, min_lifetime_s, key="", setting="--expires")
    except PresignError as err:  # a bad setting is usage (exit 2), as for run --expires
        raise InputError(str(err), field="--expires") from err
    if expires_s < min_lifetime_s:
        raise InputError(
            f"Setting '--expires' of {expires_s} s is shorter than the minimum URL lifetime of "
            f"{min_lifetime_s} s ('--min-lifetime'); the URLs would expire before anyone uses "
            "them. Raise --expires or lower --min-lifetime.",
            field="--expires",
        )
    # before the store exists: a bad path creates nothing
    files = collect_files(args.paths, follow_symlinks=args.follow_symlinks)
    if not files:
        raise InputError("No files to upload in " + ", ".join(repr(str(p)) for p in args.paths)
                         + ".")
    if args.store is not None:
        check_output_folder(args.store)  # may be new, but its parent must exist
    folder = frames_folder(args.paths)
    store = _open_store(args)
    # Signing is local (no request): a URL that would live too short (temporary credentials)
    # is refused here, before any byte is sent.
    store.url_for(store.key_for(files[0][1]), expires_s=expires_s,
                  min_lifetime_s=min_lifetime_s, as_s3_uri=args.s3_uri)

    def send(pairs: list[tuple[Path, str]], label: str) -> list[tuple[StoredObject, SignedUrl]]:
        """Upload ``(file, relative key)`` pairs with a bar, then sign each object."""
        items = [(path, store.key_for(rel)) for path, rel in pairs]
        total = sum(path.stat().st_size for path, _ in items)
        seen = 0
        with Progress(label, total, unit="B") as bar:

            def on_progress(event: ProgressEvent) -> None:
                nonlocal seen
                bar.update(event.bytes_done - seen)
                seen = event.bytes_done

            stored = store.upload_many(items, on_progress=on_progress)
        return [(obj, store.url_for(obj.key, expires_s=expires_s, min_lifetime_s=min_lifetime_s,
                                    as_s3_uri=args.s3_uri)) for obj in stored]

    # a frames folder: images first, then the frames pointing at their URLs (as run does)
    signed = send(files, "upload") if folder is None else upload_frames_folder(folder, files, send)
    stored = [obj for obj, _ in signed]
    urls = [url for _, url in signed]
    verify = not args.no_verify and not args.s3_uri
    if args.s3_uri and not args.no_verify:
        print("sfs-kit: warning: s3:// URIs are not verified (only readers with access to the "
              "bucket can fetch them).", file=sys.stderr)
    if verify:
        store.verify_urls([UrlCheck(u.url, obj.size, expected_magic_for(obj.key))
                           for u, obj in zip(urls, stored, strict=True)])
    if args.json:
        print_json([
            {"key": obj.key, "size": obj.size, "sha256": obj.sha256,
             "content_type": obj.content_type, "uploaded": obj.uploaded, "url": u.url,
             "expires_at": u.expires_at.isoformat(), "verified": verify}
            for obj, u in zip(stored, urls, strict=True)
        ])
    else:
        for obj, u in zip(stored, urls, strict=True):
            state = "uploaded" if obj.uploaded else "unchanged"
            print(f"{obj.key}\t{obj.size}\t{obj.sha256}\t{state}\t{u.url}")
    return EXIT_OK
