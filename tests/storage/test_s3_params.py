"""Exactly which parameters S3Store sends (botocore Stubber; no server)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.stub import ANY, Stubber

from sfs_kit.errors import InputError, StorageError
from sfs_kit.storage import S3Store

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

NO_THREADS = TransferConfig(use_threads=False)


@pytest.fixture(scope="module")
def client() -> S3Client:
    """One client for the module (making one loads the service model: ~0.5 s)."""
    return boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="secret"
    )


@pytest.fixture
def stubber(client: S3Client) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _put_params(key: str, data: bytes, content_type: str, **extra: Any) -> dict[str, Any]:
    digest = hashlib.sha256(data)
    return {
        "Bucket": "bkt", "Key": key, "Body": ANY, "ContentType": content_type,
        "Metadata": {"sha256": digest.hexdigest()}, "ChecksumAlgorithm": "SHA256",
        "ChecksumSHA256": base64.b64encode(digest.digest()).decode(), **extra,
    }


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("a.sfs", "application/octet-stream"), ("f.json", "application/json"),
     ("c.jpg", "image/jpeg"), ("c.JPEG", "image/jpeg"), ("c.png", "image/png")],
)
def test_put_file_sends_type_metadata_and_checksum(
    client: S3Client, stubber: Stubber, tmp_path: Path, name: str, content_type: str
) -> None:
    data = b"{payload}"
    path = tmp_path / name
    path.write_bytes(data)
    stubber.add_client_error("head_object", "404", http_status_code=404,
                             expected_params={"Bucket": "bkt", "Key": f"p/{name}"})
    stubber.add_response("put_object", {}, _put_params(f"p/{name}", data, content_type))
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS, prefix="p")
    stored = store.put_file(path, store.key_for(name))
    assert stored.uploaded
    assert stored.content_type == content_type


@pytest.mark.parametrize(
    ("sse", "kms", "extra"),
    [
        ("AES256", None, {"ServerSideEncryption": "AES256"}),
        ("aws:kms", None, {"ServerSideEncryption": "aws:kms"}),
        ("aws:kms", "key-1", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"}),
    ],
)
def test_sse_parameters(
    client: S3Client, stubber: Stubber, sse: Any, kms: str | None, extra: dict[str, str]
) -> None:
    stubber.add_client_error("head_object", "404", http_status_code=404)
    params = _put_params("k.json", b"{}", "application/json", **extra)
    stubber.add_response("put_object", {}, params)
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS, sse=sse, sse_kms_key_id=kms)
    assert store.put_bytes(b"{}", "k.json").uploaded


def test_explicit_content_type_wins(client: S3Client, stubber: Stubber) -> None:
    stubber.add_client_error("head_object", "404", http_status_code=404)
    stubber.add_response("put_object", {}, _put_params("k.bin", b"x", "text/plain"))
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    assert store.put_bytes(b"x", "k.bin", content_type="text/plain").content_type == "text/plain"


def test_identical_object_is_skipped_by_metadata_not_etag(
    client: S3Client, stubber: Stubber
) -> None:
    digest = hashlib.sha256(b"{}").hexdigest()
    stubber.add_response("head_object", {
        "ContentLength": 2, "ContentType": "application/json", "Metadata": {"sha256": digest},
        "ETag": '"not-an-md5-of-anything"',
    }, {"Bucket": "bkt", "Key": "k.json"})
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    assert not store.put_bytes(b"{}", "k.json").uploaded


def test_same_bytes_other_type_is_uploaded(client: S3Client, stubber: Stubber) -> None:
    digest = hashlib.sha256(b"{}").hexdigest()
    stubber.add_response("head_object", {"ContentLength": 2, "ContentType": "text/plain",
                                         "Metadata": {"sha256": digest}})
    stubber.add_response("put_object", {}, _put_params("k.json", b"{}", "application/json"))
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    assert store.put_bytes(b"{}", "k.json").uploaded


def test_head_of_foreign_object_has_no_digest(client: S3Client, stubber: Stubber) -> None:
    stubber.add_response("head_object", {"ContentLength": 5, "ContentType": "image/png"})
    head = S3Store("bkt", client=client).head("x.png")
    assert head is not None
    assert (head.size, head.sha256, head.content_type) == (5, None, "image/png")


def test_head_denied_is_an_error_not_none(client: S3Client, stubber: Stubber) -> None:
    stubber.add_client_error("head_object", "403", http_status_code=403)
    with pytest.raises(StorageError, match=r"S3 head of s3://bkt/x\.png failed: access denied"):
        S3Store("bkt", client=client).head("x.png")


def test_multipart_sends_checksum_algorithm_without_whole_object_digest(
    client: S3Client, stubber: Stubber, tmp_path: Path
) -> None:
    part = 5 * 1024 * 1024
    data = b"{" + bytes(part)
    path = tmp_path / "big.sfs"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    stubber.add_client_error("head_object", "404", http_status_code=404)
    stubber.add_response("create_multipart_upload", {"UploadId": "u1"}, {
        "Bucket": "bkt", "Key": "big.sfs", "ContentType": "application/octet-stream",
        "Metadata": {"sha256": digest}, "ChecksumAlgorithm": "SHA256",
    })
    for number in (1, 2):
        stubber.add_response("upload_part", {"ETag": f'"e{number}"', "ChecksumSHA256": "x"}, {
            "Bucket": "bkt", "Key": "big.sfs", "UploadId": "u1", "PartNumber": number,
            "Body": ANY, "ChecksumAlgorithm": "SHA256",
        })
    stubber.add_response("complete_multipart_upload", {}, {
        "Bucket": "bkt", "Key": "big.sfs", "UploadId": "u1", "MultipartUpload": ANY,
    })
    config = TransferConfig(multipart_threshold=part, multipart_chunksize=part, use_threads=False)
    store = S3Store("bkt", client=client, transfer_config=config)
    assert store.put_file(path, "big.sfs").uploaded


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sse": "DES"}, r"Server-side encryption 'DES' is not supported; use None, 'AES256' or "),
        ({"sse_kms_key_id": "k"}, r"sse_kms_key_id needs sse='aws:kms', got sse=None\."),
    ],
)
def test_bad_store_settings(client: S3Client, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(StorageError, match=message):
        S3Store("bkt", client=client, **kwargs)


def test_empty_bucket_name(client: S3Client) -> None:
    with pytest.raises(StorageError, match=r"Bucket name must be a non-empty string, not ''\."):
        S3Store("", client=client)


def test_client_built_from_options_has_retry_and_addressing(tmp_path: Path) -> None:
    session = boto3.session.Session(aws_access_key_id="A", aws_secret_access_key="S")
    store = S3Store("bkt", session=session, endpoint_url="http://127.0.0.1:9",
                    region_name="eu-west-1", addressing_style="path", retry_mode="adaptive")
    config: Any = store.client.meta.config  # the stubs lack Config's dynamic attributes
    assert config.retries["mode"] == "adaptive"
    assert config.s3 == {"addressing_style": "path"}
    assert store.client.meta.region_name == "eu-west-1"
    assert store.url_for("a b.sfs").url.startswith("http://127.0.0.1:9/bkt/a%20b.sfs?")


def test_put_file_of_a_missing_file_is_an_input_error(client: S3Client, tmp_path: Path) -> None:
    store = S3Store("bkt", client=client)
    with pytest.raises(InputError, match=r"Cannot upload '.*missing\.sfs': No such file"):
        store.put_file(tmp_path / "missing.sfs", "missing.sfs")


def test_upload_many_falls_back_to_head_when_listing_is_denied(
    client: S3Client, stubber: Stubber, tmp_path: Path
) -> None:
    items: list[tuple[str | Path, str]] = []
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_bytes(b"{}")
        items.append((tmp_path / name, f"p/{name}"))
    stubber.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403,
                             expected_params={"Bucket": "bkt", "Prefix": "p/"})
    for name in ("a.json", "b.json"):
        stubber.add_client_error("head_object", "404", http_status_code=404,
                                 expected_params={"Bucket": "bkt", "Key": f"p/{name}"})
        stubber.add_response("put_object", {}, _put_params(f"p/{name}", b"{}", "application/json"))
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    assert all(r.uploaded for r in store.upload_many(items, max_workers=1))


def test_upload_many_stops_listing_a_crowded_folder(
    client: S3Client, stubber: Stubber, tmp_path: Path
) -> None:
    items: list[tuple[str | Path, str]] = []
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_bytes(b"{}")
        items.append((tmp_path / name, f"p/{name}"))
    for page in range(2):
        stubber.add_response("list_objects_v2", {
            "Contents": [{"Key": f"p/other{page}", "Size": 1}], "IsTruncated": True,
            "NextContinuationToken": f"t{page}",
        })
    for name in ("a.json", "b.json"):  # a third page would be needed: HEAD decides instead
        stubber.add_client_error("head_object", "404", http_status_code=404,
                                 expected_params={"Bucket": "bkt", "Key": f"p/{name}"})
        stubber.add_response("put_object", {}, _put_params(f"p/{name}", b"{}", "application/json"))
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    assert all(r.uploaded for r in store.upload_many(items, max_workers=1))


def test_upload_many_listing_of_a_missing_bucket_is_not_found(
    client: S3Client, stubber: Stubber, tmp_path: Path
) -> None:
    items: list[tuple[str | Path, str]] = [(tmp_path / "a.json", "p/a.json"),
                                           (tmp_path / "b.json", "p/b.json")]
    for path, _ in items:
        Path(path).write_bytes(b"{}")
    stubber.add_client_error("list_objects_v2", "NoSuchBucket", http_status_code=404)
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    with pytest.raises(StorageError, match=r"S3 list of s3://bkt/p/ failed: bucket 'bkt' does "
                       r"not exist"):
        store.upload_many(items)


def test_upload_many_checks_every_file_before_any_request(
    client: S3Client, stubber: Stubber, tmp_path: Path
) -> None:
    (tmp_path / "a.json").write_bytes(b"{}")
    items: list[tuple[str | Path, str]] = [(tmp_path / "a.json", "p/a.json"),
                                           (tmp_path / "gone.json", "p/gone.json")]
    store = S3Store("bkt", client=client, transfer_config=NO_THREADS)
    with pytest.raises(InputError, match=r"Cannot upload '.*gone\.json': No such file"):
        store.upload_many(items)  # the stubber has no response queued: any request would fail
