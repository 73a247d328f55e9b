"""S3Store against a real SeaweedFS on 127.0.0.1 (one server per session, one bucket per test)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _servers.seaweed import SeaweedServer
from botocore.exceptions import ConnectionClosedError

from sfs_kit.errors import (
    ChecksumMismatchError,
    StorageAccessDeniedError,
    StorageNetworkError,
    StorageNotFoundError,
    UrlVerificationError,
)
from sfs_kit.storage import ProgressEvent, S3Store, UrlCheck

from .conftest import SMALL_PARTS, MiB, count_requests

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest
    from types_boto3_s3 import S3Client

MakeFile = Callable[[str, bytes], Path]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # plain GET, no credentials
        data: bytes = response.read()
    return data


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_small_file_round_trip_with_metadata(
    store: S3Store, s3_client: S3Client, make_file: MakeFile
) -> None:
    data = b'{"frame": 1}'
    stored = store.put_file(make_file("f.json", data), "scene/f.json")
    assert stored.uploaded
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.get_bytes("scene/f.json") == data
    head = s3_client.head_object(Bucket=store.bucket, Key="scene/f.json")
    assert head["ContentType"] == "application/json"
    assert head["Metadata"] == {"sha256": stored.sha256}
    assert store.head("scene/f.json") == stored.__class__(
        "scene/f.json", len(data), stored.sha256, "application/json", uploaded=False
    )
    assert store.head("scene/missing.json") is None


def test_multipart_round_trip(store: S3Store, s3_client: S3Client, make_file: MakeFile) -> None:
    data = os.urandom(11 * MiB + 123)
    counts = count_requests(store.client)
    stored = store.put_file(make_file("big.sfs", data), "scene/big.sfs")
    assert counts.get("UploadPart") == 3
    assert counts.get("PutObject") is None
    assert stored.size == len(data)
    assert store.get_bytes("scene/big.sfs") == data
    assert s3_client.head_object(Bucket=store.bucket, Key="scene/big.sfs")["Metadata"] == {
        "sha256": hashlib.sha256(data).hexdigest()
    }


def test_presigned_url_serves_exact_bytes(store: S3Store, make_file: MakeFile) -> None:
    data = b"\xff\xd8\xff" + os.urandom(4000)
    store.put_file(make_file("cam.jpg", data), "scene/cam.jpg")
    signed = store.url_for("scene/cam.jpg")
    assert signed.requested_expires_s == signed.effective_expires_s == 604_800
    assert fetch(signed.url) == data


@pytest.mark.parametrize(
    "key", ["scene 1/cam front/ü ñ 0001.jpg", "a/+&=%~ x.json", "日本/画像.png"]
)
def test_keys_with_spaces_and_unicode_round_trip(store: S3Store, key: str) -> None:
    data = f"payload for {key}".encode()
    stored = store.put_bytes(data, key)
    assert stored.key == key
    assert store.get_bytes(key) == data
    assert fetch(store.url_for(key).url) == data


def test_expired_url_is_refused(store: S3Store) -> None:
    store.put_bytes(b"{}", "x.json")
    signed = store.url_for("x.json", expires_s=1, min_lifetime_s=0)
    time.sleep(2.1)
    assert fetch_status(signed.url) == 403
    with pytest.raises(UrlVerificationError, match=r"answered HTTP 403, expected 206 or 200"):
        store.verify_urls([UrlCheck(signed.url, 2, b"{")])


def test_tampered_url_is_refused(store: S3Store) -> None:
    store.put_bytes(b"{}", "x.json")
    store.put_bytes(b"{1}", "y.json")
    url = store.url_for("x.json").url
    assert fetch_status(url) == 200
    last = url[-1]
    tampered = url[:-1] + ("0" if last != "0" else "1")
    assert fetch_status(tampered) == 403
    other_key = url.replace("/x.json?", "/y.json?")
    assert fetch_status(other_key) == 403


def test_unchanged_reupload_sends_no_put(store: S3Store, make_file: MakeFile) -> None:
    small = make_file("a.json", b"{}")
    big = make_file("b.sfs", b"{" + os.urandom(6 * MiB))
    assert store.put_file(small, "a.json").uploaded
    assert store.put_file(big, "b.sfs").uploaded
    counts = count_requests(store.client)
    again = [store.put_file(small, "a.json"), store.put_file(big, "b.sfs")]
    assert [s.uploaded for s in again] == [False, False]
    assert counts == {"HeadObject": 2}


def test_changed_file_is_uploaded_again(store: S3Store, make_file: MakeFile) -> None:
    path = make_file("a.json", b"{1}")
    store.put_file(path, "a.json")
    path.write_bytes(b"{2}")
    assert store.put_file(path, "a.json").uploaded
    assert store.get_bytes("a.json") == b"{2}"


def test_upload_many_reports_progress_and_is_idempotent(
    store: S3Store, make_file: MakeFile
) -> None:
    items = [(make_file(f"f{i}.json", b"{" + bytes(100 * i)), f"s/f{i}.json") for i in range(6)]
    events: list[ProgressEvent] = []
    fresh = count_requests(store.client)
    results = store.upload_many(items, max_workers=3, on_progress=events.append)
    assert fresh == {"ListObjectsV2": 1, "PutObject": 6}  # nothing listed: no HEAD needed
    assert [r.key for r in results] == [key for _, key in items]
    assert all(r.uploaded for r in results)
    total = sum(p.stat().st_size for p, _ in items)
    assert events[-1].bytes_done == events[-1].bytes_total == total
    assert max(e.files_done for e in events) == 6
    assert all(e.files_total == 6 for e in events)
    fresh.clear()
    again = store.upload_many(items, max_workers=3)
    assert not any(r.uploaded for r in again)
    assert fresh == {"ListObjectsV2": 1, "HeadObject": 6}


def test_upload_many_heads_only_listed_keys_of_the_same_size(
    store: S3Store, make_file: MakeFile
) -> None:
    items = [(make_file(f"f{i}.json", b"{" + bytes(i)), f"s/f{i}.json") for i in range(3)]
    store.upload_many(items[:2])
    items[1][0].write_bytes(b"{grown}")
    counts = count_requests(store.client)
    results = store.upload_many(items)
    assert [r.uploaded for r in results] == [False, True, True]
    assert counts == {"ListObjectsV2": 1, "HeadObject": 1, "PutObject": 2}
    assert store.get_bytes("s/f1.json") == b"{grown}"


def test_wrong_secret_is_access_denied_without_the_secret(
    s3_server: SeaweedServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "wrongsecretvalue0123456789"
    bad = S3Store(s3_bucket, client=s3_server.client(secret_key=secret))
    with pytest.raises(StorageAccessDeniedError, match=r"S3 head of s3://t.*/k\.json failed: "
                       r"access denied, check the credentials and permissions \(HTTP 403") as info:
        bad.put_bytes(b"{}", "k.json")
    assert secret not in str(info.value)
    assert info.value.bucket == s3_bucket
    assert info.value.key == "k.json"
    assert info.value.operation == "head"
    monkeypatch.setattr(bad, "head", lambda key: None)  # reach the PUT itself
    with pytest.raises(StorageAccessDeniedError, match=r"S3 upload of .* \(SignatureDoesNotMatch"):
        bad.put_bytes(b"{}", "k.json")


def test_url_signed_with_wrong_secret_is_refused(s3_server: SeaweedServer, store: S3Store) -> None:
    store.put_bytes(b"{}", "k.json")
    bad = S3Store(store.bucket, client=s3_server.client(secret_key="not-the-secret-000000"))
    assert fetch_status(bad.url_for("k.json").url) == 403


def test_missing_bucket_is_not_found(s3_server: SeaweedServer) -> None:
    missing = S3Store("no-such-bucket-here", client=s3_server.client())
    with pytest.raises(StorageNotFoundError, match=r"bucket 'no-such-bucket-here' does not exist"):
        missing.put_bytes(b"{}", "k.json")
    with pytest.raises(StorageNotFoundError, match=r"S3 download of s3://no-such-bucket-here/k"):
        missing.get_bytes("k.json")


def test_missing_object_is_not_found(store: S3Store) -> None:
    with pytest.raises(StorageNotFoundError, match=r"S3 download of s3://.*/nope\.json failed"):
        store.get_bytes("nope.json")


def test_unreachable_endpoint_is_a_network_error(s3_server: SeaweedServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = S3Store("bucket", client=SeaweedServer(
        f"http://127.0.0.1:{port}", s3_server.access_key, s3_server.secret_key, s3_server.region,
        s3_server.work_dir,
    ).client())
    with pytest.raises(StorageNetworkError, match=r"the endpoint could not be reached"):
        dead.head("k.json")


def test_wrong_sha256_is_refused_by_the_server(store: S3Store) -> None:
    with pytest.raises(ChecksumMismatchError, match=r"server received different bytes"):
        store.put_stream(io.BytesIO(b"abc"), "bad.bin", size=3, sha256="00" * 32)
    assert store.head("bad.bin") is None


def test_wrong_sha256_of_a_multipart_stream_leaves_nothing(store: S3Store) -> None:
    data = os.urandom(6 * MiB)
    with pytest.raises(ChecksumMismatchError, match=r"expected 6291456 bytes with sha256 0000.*"
                       r"the object was removed"):
        store.put_stream(io.BytesIO(data), "bad.bin", size=len(data), sha256="00" * 32)
    assert store.head("bad.bin") is None


def test_put_stream_with_the_right_digest(store: S3Store) -> None:
    data = os.urandom(6 * MiB)
    digest = hashlib.sha256(data).hexdigest()
    stored = store.put_stream(io.BytesIO(data), "ok.bin", size=len(data), sha256=digest)
    assert stored.uploaded
    assert store.get_bytes("ok.bin") == data
    assert not store.put_stream(io.BytesIO(data), "ok.bin", size=len(data), sha256=digest).uploaded


def test_interrupted_multipart_upload_leaves_nothing_and_retry_works(
    store: S3Store, s3_client: S3Client, make_file: MakeFile
) -> None:
    path = make_file("big.sfs", b"{" + os.urandom(16 * MiB))
    parts_seen: list[int] = []

    def fail_on_second_part(**kwargs: object) -> None:
        parts_seen.append(1)
        if len(parts_seen) == 2:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1/injected")

    store.client.meta.events.register("before-call.s3.UploadPart", fail_on_second_part)
    with pytest.raises(StorageNetworkError, match=r"S3 upload of s3://.*/big\.sfs failed: "
                       r"the connection was closed"):
        store.put_file(path, "big.sfs")
    store.client.meta.events.unregister("before-call.s3.UploadPart", fail_on_second_part)
    assert store.head("big.sfs") is None
    assert s3_client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert store.put_file(path, "big.sfs").uploaded
    assert store.get_bytes("big.sfs") == path.read_bytes()


def test_verify_urls_catches_size_magic_and_403(store: S3Store) -> None:
    store.put_bytes(b'{"a": 1}', "a.json")
    good = store.url_for("a.json").url
    store.verify_urls([UrlCheck(good, 8, b"{")])
    with pytest.raises(UrlVerificationError, match=r"X-Amz-Signature=REDACTED has 8 bytes, "
                       r"expected 9\.$") as info:
        store.verify_urls([UrlCheck(good, 9, b"{")])
    assert "X-Amz-Signature=REDACTED" in info.value.url
    with pytest.raises(
        UrlVerificationError, match=r"starts with b'\{\"a', expected b'\\xff\\xd8\\xff'"
    ):
        store.verify_urls([UrlCheck(good, 8, b"\xff\xd8\xff")])
    forbidden = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(UrlVerificationError, match=r"^2 of 3 URL\(s\) failed verification: .*"
                       r"answered HTTP 403.*has 8 bytes, expected 7"):
        store.verify_urls([UrlCheck(forbidden, 8), UrlCheck(good, 8), UrlCheck(good, 7)])


def test_empty_object_verifies(store: S3Store) -> None:
    store.put_bytes(b"", "empty.bin")
    store.verify_urls([UrlCheck(store.url_for("empty.bin").url, 0, None)])
    with pytest.raises(UrlVerificationError, match=r"answered HTTP 416"):
        store.verify_urls([UrlCheck(store.url_for("empty.bin").url, 5, None)])


def test_s3_uri_is_not_signed_and_verification_is_skipped(
    store: S3Store, caplog: pytest.LogCaptureFixture
) -> None:
    signed = store.url_for("scene/a.sfs", as_s3_uri=True)
    assert signed.url == f"s3://{store.bucket}/scene/a.sfs"
    with caplog.at_level(logging.WARNING, logger="sfs_kit.storage.verify"):
        store.verify_urls([UrlCheck(signed.url, 10, b"{")])
    assert "Not verifying s3://" in caplog.text


def test_sse_aes256_round_trip(s3_server: SeaweedServer, s3_bucket: str) -> None:
    sse_store = S3Store(s3_bucket, client=s3_server.client(), sse="AES256",
                        transfer_config=SMALL_PARTS)
    sse_store.put_bytes(b"{}", "enc.json")
    assert sse_store.get_bytes("enc.json") == b"{}"


def _record_signing(client: S3Client) -> list[tuple[str, str, bool]]:
    """(operation, x-amz-content-sha256, has x-amz-checksum-sha256) of each request sent."""
    seen: list[tuple[str, str, bool]] = []

    def on_send(event_name: str, request: AWSPreparedRequest, **kwargs: object) -> None:
        signed = request.headers["X-Amz-Content-SHA256"]  # bytes once prepared
        seen.append((event_name.rsplit(".", 1)[-1],
                     signed.decode() if isinstance(signed, bytes) else signed,
                     "x-amz-checksum-sha256" in request.headers))

    client.meta.events.register("before-send.s3", on_send)
    return seen


def test_checksummed_bodies_are_sent_unsigned_and_still_verified(
    store: S3Store, make_file: MakeFile
) -> None:
    small = make_file("a.json", b"{}")
    big = make_file("b.sfs", b"{" + os.urandom(11 * MiB))
    seen = _record_signing(store.client)
    store.upload_many([(small, "a.json"), (big, "b.sfs")], max_workers=2)
    bodies = [s for s in seen if s[0] in ("PutObject", "UploadPart")]
    assert sorted(op for op, _, _ in bodies) == ["PutObject", "UploadPart", "UploadPart",
                                                 "UploadPart"]
    assert all(signed == "UNSIGNED-PAYLOAD" and checksum for _, signed, checksum in bodies)
    assert store.get_bytes("a.json") == b"{}"
    assert store.get_bytes("b.sfs") == big.read_bytes()
    # the server still checks the (signed) SHA-256 header of an unsigned body
    seen.clear()
    with pytest.raises(ChecksumMismatchError, match=r"server received different bytes"):
        store.put_stream(io.BytesIO(b"abc"), "bad.bin", size=3, sha256="00" * 32)
    assert [s for s in seen if s[0] == "PutObject"] == [("PutObject", "UNSIGNED-PAYLOAD", True)]


def test_sign_payload_true_keeps_botocore_payload_signing(
    s3_server: SeaweedServer, s3_bucket: str, make_file: MakeFile
) -> None:
    store = S3Store(s3_bucket, client=s3_server.client(), transfer_config=SMALL_PARTS,
                    sign_payload=True)
    seen = _record_signing(store.client)
    store.put_file(make_file("a.json", b"{}"), "a.json")
    assert [s for s in seen if s[0] == "PutObject"] == [
        ("PutObject", hashlib.sha256(b"{}").hexdigest(), True)
    ]


def test_upload_many_mixes_single_and_multipart_uploads(
    store: S3Store, s3_client: S3Client, make_file: MakeFile
) -> None:
    items = [(make_file(f"big{i}.sfs", b"{" + os.urandom(11 * MiB)), f"s/big{i}.sfs")
             for i in range(2)]
    items += [(make_file(f"f{i}.json", b"{" + bytes(i)), f"s/f{i}.json") for i in range(3)]
    counts = count_requests(store.client)
    events: list[ProgressEvent] = []
    results = store.upload_many(items, max_workers=2, on_progress=events.append)
    assert [r.key for r in results] == [key for _, key in items]
    assert counts["CreateMultipartUpload"] == counts["CompleteMultipartUpload"] == 2
    assert counts["UploadPart"] == 6
    assert counts["PutObject"] == 3
    total = sum(p.stat().st_size for p, _ in items)
    assert events[-1].bytes_done == events[-1].bytes_total == total
    for (path, key), result in zip(items, results, strict=True):
        assert store.get_bytes(key) == path.read_bytes()
        assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert store.head(key) == dataclasses.replace(result, uploaded=False)


def test_upload_many_failure_aborts_the_shared_multipart_upload(
    store: S3Store, s3_client: S3Client, make_file: MakeFile
) -> None:
    items = [(make_file("big.sfs", b"{" + os.urandom(16 * MiB)), "big.sfs"),
             (make_file("a.json", b"{}"), "a.json")]
    parts_seen: list[int] = []

    def fail_on_second_part(**kwargs: object) -> None:
        parts_seen.append(1)
        if len(parts_seen) == 2:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1/injected")

    store.client.meta.events.register("before-call.s3.UploadPart", fail_on_second_part)
    with pytest.raises(StorageNetworkError, match=r"S3 upload of s3://.*/big\.sfs failed: "
                       r"the connection was closed"):
        store.upload_many(items, max_workers=2)
    store.client.meta.events.unregister("before-call.s3.UploadPart", fail_on_second_part)
    assert store.head("big.sfs") is None
    assert s3_client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    assert all(r.uploaded for r in store.upload_many(items, max_workers=2)[:1])
    assert store.get_bytes("big.sfs") == items[0][0].read_bytes()
