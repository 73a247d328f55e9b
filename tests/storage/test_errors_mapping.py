"""Every botocore/boto3 exception becomes one of our StorageErrors (httpx-style, exhaustive)."""

from __future__ import annotations

import inspect

import pytest
from boto3 import exceptions as b3e
from boto3.exceptions import S3UploadFailedError
from botocore import exceptions as bce

from sfs_kit.errors import (
    ChecksumMismatchError,
    StorageAccessDeniedError,
    StorageError,
    StorageNetworkError,
    StorageNotFoundError,
    StorageServerError,
)
from sfs_kit.storage._errors import error_for, map_storage_errors


def _client_error(code: str, status: int, message: str = "msg") -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": message},
         "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "r", "HostId": "",
                              "HTTPHeaders": {}, "RetryAttempts": 0}},
        "PutObject",
    )


def _instantiate(cls: type[BaseException]) -> BaseException:
    """An instance of a botocore exception class, whatever keyword fields its message needs."""

    class _Anything(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return f"<{key}>"

    instance = cls.__new__(cls)
    instance.kwargs = _Anything()  # type: ignore[attr-defined]
    return instance


BOTOCORE_ERRORS = sorted(
    (obj for _, obj in inspect.getmembers(bce, inspect.isclass)
     if issubclass(obj, bce.BotoCoreError)),
    key=lambda cls: cls.__name__,
)
BOTO3_ERRORS = sorted(
    (obj for _, obj in inspect.getmembers(b3e, inspect.isclass) if issubclass(obj, b3e.Boto3Error)),
    key=lambda cls: cls.__name__,
)


LIBRARY_ERRORS: list[type[Exception]] = [*BOTOCORE_ERRORS, *BOTO3_ERRORS]


@pytest.mark.parametrize("cls", LIBRARY_ERRORS, ids=lambda c: c.__name__)
def test_every_library_exception_is_mapped(cls: type[BaseException]) -> None:
    mapped = error_for(_instantiate(cls), "upload", bucket="b", key="k")
    assert isinstance(mapped, StorageError)
    assert str(mapped).startswith("S3 upload of s3://b/k failed: ")
    assert str(mapped).endswith(".")
    assert (mapped.bucket, mapped.key, mapped.operation) == ("b", "k", "upload")


def test_foreign_exceptions_are_not_ours() -> None:
    assert error_for(ValueError("x"), "upload", bucket="b", key="k") is None


@pytest.mark.parametrize(
    ("code", "status", "cls", "message"),
    [
        ("NoSuchBucket", 404, StorageNotFoundError,
         r"^S3 upload of s3://b/k failed: bucket 'b' does not exist \(NoSuchBucket \(HTTP 404\): "
         r"msg\)\.$"),
        ("NoSuchKey", 404, StorageNotFoundError, r"failed: not found \(NoSuchKey \(HTTP 404\)"),
        ("404", 404, StorageNotFoundError, r"failed: not found \(HTTP 404: msg\)\.$"),
        ("AccessDenied", 403, StorageAccessDeniedError,
         r"failed: access denied, check the credentials and permissions \(AccessDenied"),
        ("InvalidAccessKeyId", 403, StorageAccessDeniedError, r"access denied"),
        ("SignatureDoesNotMatch", 403, StorageAccessDeniedError, r"access denied"),
        ("ExpiredToken", 400, StorageAccessDeniedError, r"access denied"),
        ("BadDigest", 400, ChecksumMismatchError,
         r"failed: the server received different bytes than were sent \(BadDigest"),
        ("XAmzContentSHA256Mismatch", 400, ChecksumMismatchError, r"different bytes"),
        ("SlowDown", 503, StorageServerError,
         r"^S3 upload of s3://b/k failed: server error \(SlowDown \(HTTP 503\): msg\)\.$"),
        ("InternalError", 500, StorageServerError, r"server error \(InternalError \(HTTP 500\)"),
        ("Weird", 400, StorageError, r"^S3 upload of s3://b/k failed: Weird \(HTTP 400\): msg\.$"),
    ],
)
def test_client_error_codes(
    code: str, status: int, cls: type[StorageError], message: str
) -> None:
    mapped = error_for(_client_error(code, status), "upload", bucket="b", key="k")
    assert type(mapped) is cls
    with pytest.raises(cls, match=message), map_storage_errors("upload", bucket="b", key="k"):
        raise _client_error(code, status)


def test_server_message_with_a_url_is_redacted() -> None:
    err = _client_error("Weird", 400, "see https://h/k?X-Amz-Signature=deadbeef now")
    with (
        pytest.raises(StorageError, match=r"X-Amz-Signature=REDACTED now\)?\.$") as info,
        map_storage_errors("download", bucket="b", key="k"),
    ):
        raise err
    assert "deadbeef" not in str(info.value)


def test_upload_failed_error_unwraps_its_client_error() -> None:
    with (  # noqa: PT012
        pytest.raises(StorageAccessDeniedError, match=r"\(AccessDenied \(HTTP 403\)"),
        map_storage_errors("upload", bucket="b", key="k"),
    ):
        try:
            raise _client_error("AccessDenied", 403)
        except bce.ClientError as inner:
            raise S3UploadFailedError(f"Failed to upload: {inner}")  # noqa: B904 (as boto3)


def test_upload_failed_error_alone() -> None:
    with (
        pytest.raises(StorageError, match=r"failed: the upload did not complete\.$"),
        map_storage_errors("upload", bucket="b", key="k"),
    ):
        raise S3UploadFailedError("boom")


@pytest.mark.parametrize(
    ("exc", "cls", "message"),
    [
        (bce.NoCredentialsError(), StorageAccessDeniedError, r"no AWS credentials were found"),
        (bce.EndpointConnectionError(endpoint_url="http://x"), StorageNetworkError,
         r"the endpoint could not be reached \(EndpointConnectionError\)"),
        (bce.ReadTimeoutError(endpoint_url="http://x"), StorageNetworkError, r"timed out"),
        (bce.FlexibleChecksumError(error_msg="x"), ChecksumMismatchError, r"checksum did not"),
        (bce.ParamValidationError(report="x"), StorageError, r"a request parameter is invalid"),
    ],
)
def test_botocore_errors(exc: Exception, cls: type[StorageError], message: str) -> None:
    with pytest.raises(cls, match=message), map_storage_errors("head", bucket="b", key="k"):
        raise exc


def test_bucket_only_message() -> None:
    with (
        pytest.raises(StorageError, match=r"^S3 list of bucket 'b' failed: "),
        map_storage_errors("list", bucket="b"),
    ):
        raise bce.NoRegionError()
