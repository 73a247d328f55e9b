"""Check that URLs really serve the expected bytes before anyone else fetches them (spec section 6).

Each ``http(s)`` URL gets one ``GET`` with ``Range: bytes=0-15`` (the method is part of the
signature, so HEAD would be refused): 206 or 200 is expected, the total size (``Content-Range``
or ``Content-Length``) must equal the local size, and the first bytes must start with the magic.
``file://`` URLs are checked on disk; ``s3://`` URIs are skipped with a warning.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit
from urllib.request import url2pathname

import urllib3

from sfs_kit.errors import UrlVerificationError
from sfs_kit.storage.base import UrlCheck
from sfs_kit.storage.presign import redact_url

__all__ = ["verify_urls"]

logger = logging.getLogger(__name__)

_PROBE_BYTES = 16
_CONTENT_RANGE = re.compile(r"^bytes\s+(?:\d+-\d+|\*)/(\d+)$")
_MAX_LISTED = 5


def _check_magic(head: bytes, check: UrlCheck) -> str | None:
    if check.expected_magic is not None and not head.startswith(check.expected_magic):
        found = head[: len(check.expected_magic)]
        return f"starts with {found!r}, expected {check.expected_magic!r}"
    return None


def _check_file(check: UrlCheck) -> str | None:
    path = url2pathname(urlsplit(check.url).path)
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as stream:
            head = stream.read(_PROBE_BYTES)
    except OSError as err:
        return f"cannot be read ({err.strerror or type(err).__name__})"
    if size != check.expected_size:
        return f"has {size} bytes, expected {check.expected_size}"
    return _check_magic(head, check)


def _check_http(check: UrlCheck, pool: urllib3.PoolManager, timeout_s: float) -> str | None:
    try:
        response = pool.request(
            "GET", check.url, headers={"Range": f"bytes=0-{_PROBE_BYTES - 1}"},
            preload_content=False, redirect=False, retries=False,
            timeout=urllib3.Timeout(total=timeout_s),
        )
    except urllib3.exceptions.HTTPError as err:
        return f"could not be fetched ({type(err).__name__})"
    try:
        status = response.status
        if status == 416 and check.expected_size == 0:
            return None  # a range of an empty object is unsatisfiable: the object is empty
        if status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
            if match is None:
                return "answered 206 without a usable Content-Range header"
            total = int(match.group(1))
        elif status == 200:
            length = response.headers.get("Content-Length")
            if length is None or not length.strip().isdigit():
                return "answered 200 without a Content-Length header"
            total = int(length)
        else:
            return f"answered HTTP {status}, expected 206 or 200"
        if total != check.expected_size:
            return f"has {total} bytes, expected {check.expected_size}"
        try:
            head = response.read(_PROBE_BYTES)
        except urllib3.exceptions.HTTPError as err:
            return f"broke while reading ({type(err).__name__})"
        return _check_magic(head, check)
    finally:
        response.release_conn()
        response.close()


def verify_urls(
    checks: Sequence[UrlCheck], *, timeout_s: float = 30.0, max_workers: int = 16
) -> None:
    """Check every URL in parallel; ``UrlVerificationError`` names the failed (redacted) URLs."""
    to_fetch: list[UrlCheck] = []
    local: list[UrlCheck] = []
    for check in checks:
        scheme = urlsplit(check.url).scheme.lower()
        if scheme == "s3":
            logger.warning("Not verifying %s: s3:// URIs cannot be fetched anonymously.", check.url)
        elif scheme == "file":
            local.append(check)
        elif scheme in ("http", "https"):
            to_fetch.append(check)
        else:
            raise UrlVerificationError(
                f"URL {redact_url(check.url)!r} has unsupported scheme {scheme!r}.",
                url=redact_url(check.url), operation="verify",
            )
    failures: list[tuple[UrlCheck, str]] = []
    for check in local:
        problem = _check_file(check)
        if problem is not None:
            failures.append((check, problem))
    if to_fetch:
        workers = max(1, min(max_workers, len(to_fetch)))
        with urllib3.PoolManager(maxsize=workers, block=True) as pool, \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sfs-verify") as ex:
            results = list(ex.map(lambda c: _check_http(c, pool, timeout_s), to_fetch))
        failures += [(c, p) for c, p in zip(to_fetch, results, strict=True) if p is not None]
    if failures:
        first_url = redact_url(failures[0][0].url)
        listed = "; ".join(f"{redact_url(c.url)} {p}" for c, p in failures[:_MAX_LISTED])
        more = f" (and {len(failures) - _MAX_LISTED} more)" if len(failures) > _MAX_LISTED else ""
        raise UrlVerificationError(
            f"{len(failures)} of {len(checks)} URL(s) failed verification: {listed}{more}.",
            url=first_url, operation="verify",
        )
