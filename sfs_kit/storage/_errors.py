"""The one place where botocore/boto3/s3transfer exceptions become ``StorageError`` subclasses.

Like httpx's ``map_httpcore_exceptions``: every store call runs inside ``map_storage_errors`` so
no ``ClientError`` or ``BotoCoreError`` reaches a user. Messages name the operation, bucket and
key, and carry the server's error code and a short message, never a credential.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from boto3.exceptions import Boto3Error, S3UploadFailedError
from botocore import exceptions as bce

from sfs_kit.errors import (
    ChecksumMismatchError,
    StorageAccessDeniedError,
    StorageError,
    StorageNetworkError,
    StorageNotFoundError,
    StorageServerError,
)
from sfs_kit.storage.presign import redact_url

__all__ = ["error_for", "map_storage_errors"]

_NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NotFound", "404", "NoSuchUpload"})
_DENIED_CODES = frozenset({
    "AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled",
    "AccountProblem", "InvalidSecurity", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed",
})
_CHECKSUM_CODES = frozenset({
    "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch",
    "InvalidChecksum",
})

# BotoCoreError subclasses by meaning; order matters (first match wins).
_BOTOCORE_MAP: tuple[tuple[type[BaseException], type[StorageError], str], ...] = (
    (bce.NoCredentialsError, StorageAccessDeniedError, "no AWS credentials were found"),
    (bce.PartialCredentialsError, StorageAccessDeniedError, "the AWS credentials are incomplete"),
    (bce.CredentialRetrievalError, StorageAccessDeniedError, "AWS credentials could not be loaded"),
    (bce.NoAuthTokenError, StorageAccessDeniedError, "no auth token was found"),
    (bce.TokenRetrievalError, StorageAccessDeniedError, "an auth token could not be loaded"),
    (bce.ProfileNotFound, StorageAccessDeniedError, "the AWS profile does not exist"),
    (bce.FlexibleChecksumError, ChecksumMismatchError, "the response checksum did not match"),
    (bce.ConnectTimeoutError, StorageNetworkError, "connecting to the endpoint timed out"),
    (bce.ReadTimeoutError, StorageNetworkError, "reading from the endpoint timed out"),
    (bce.EndpointConnectionError, StorageNetworkError, "the endpoint could not be reached"),
    (bce.ConnectionClosedError, StorageNetworkError, "the connection was closed"),
    (bce.ProxyConnectionError, StorageNetworkError, "the proxy could not be reached"),
    (bce.SSLError, StorageNetworkError, "the TLS handshake failed"),
    (bce.HTTPClientError, StorageNetworkError, "the HTTP connection failed"),
    (bce.ResponseStreamingError, StorageNetworkError, "the response stream broke"),
    (bce.IncompleteReadError, StorageNetworkError, "the response ended early"),
    (bce.NoRegionError, StorageError, "no AWS region is configured"),
    (bce.InvalidRegionError, StorageError, "the AWS region is invalid"),
    (bce.ParamValidationError, StorageError, "a request parameter is invalid"),
)


def _endpoint(err: bce.BotoCoreError) -> str:
    """`` at <endpoint>`` for the connection errors that know it (EndpointConnectionError,
    timeouts), so an unreachable server is named; query strings are redacted."""
    kwargs = getattr(err, "kwargs", None)
    url = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
    return f" at {redact_url(str(url))}" if url else ""


def _where(operation: str, bucket: str | None, key: str | None) -> str:
    target = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}" if bucket else "the store"
    return f"S3 {operation} of {target}"


def _from_client_error(
    err: bce.ClientError, operation: str, bucket: str | None, key: str | None
) -> StorageError:
    error = err.response.get("Error", {})
    code = str(error.get("Code", "") or "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    server_message = " ".join(str(error.get("Message", "") or "").split())[:200]
    detail = f"{code} (HTTP {status})" if code and code != str(status) else f"HTTP {status}"
    if server_message:
        detail += f": {server_message}"
    detail = redact_url(detail).rstrip(".")
    where = _where(operation, bucket, key)
    if code == "NoSuchBucket":
        return StorageNotFoundError(
            f"{where} failed: bucket {bucket!r} does not exist ({detail}).",
            bucket=bucket, key=key, operation=operation,
        )
    if code in _NOT_FOUND_CODES or status == 404:
        return StorageNotFoundError(
            f"{where} failed: not found ({detail}).", bucket=bucket, key=key, operation=operation
        )
    if code in _DENIED_CODES or status == 403:
        return StorageAccessDeniedError(
            f"{where} failed: access denied, check the credentials and permissions ({detail}).",
            bucket=bucket, key=key, operation=operation,
        )
    if code in _CHECKSUM_CODES:
        return ChecksumMismatchError(
            f"{where} failed: the server received different bytes than were sent ({detail}).",
            bucket=bucket, key=key, operation=operation,
        )
    if isinstance(status, int) and status >= 500:
        return StorageServerError(f"{where} failed: server error ({detail}).", bucket=bucket,
                                  key=key, operation=operation)
    return StorageError(f"{where} failed: {detail}.", bucket=bucket, key=key, operation=operation)


def error_for(
    err: BaseException, operation: str, *, bucket: str | None, key: str | None
) -> StorageError | None:
    """Our error for a botocore/boto3 exception, or None if ``err`` is not one of theirs."""
    if isinstance(err, bce.ClientError):
        return _from_client_error(err, operation, bucket, key)
    if isinstance(err, S3UploadFailedError):
        # boto3 re-raises a ClientError as a string-only error; the original is the context.
        if isinstance(err.__context__, bce.ClientError):
            return _from_client_error(err.__context__, operation, bucket, key)
        return StorageError(
            f"{_where(operation, bucket, key)} failed: the upload did not complete.",
            bucket=bucket, key=key, operation=operation,
        )
    if isinstance(err, bce.BotoCoreError):
        for cls, target, text in _BOTOCORE_MAP:
            if isinstance(err, cls):
                return target(
                    f"{_where(operation, bucket, key)} failed: {text} "
                    f"({type(err).__name__}){_endpoint(err)}.",
                    bucket=bucket, key=key, operation=operation,
                )
        return StorageError(
            f"{_where(operation, bucket, key)} failed: {type(err).__name__}.",
            bucket=bucket, key=key, operation=operation,
        )
    if isinstance(err, Boto3Error):
        return StorageError(
            f"{_where(operation, bucket, key)} failed: {type(err).__name__}.",
            bucket=bucket, key=key, operation=operation,
        )
    return None


@contextlib.contextmanager
def map_storage_errors(
    operation: str, *, bucket: str | None = None, key: str | None = None
) -> Iterator[None]:
    """Translate botocore/boto3 exceptions raised inside the block into ``StorageError``s."""
    try:
        yield
    except (bce.ClientError, bce.BotoCoreError, Boto3Error) as err:
        mapped = error_for(err, operation, bucket=bucket, key=key)
        if mapped is None:  # pragma: no cover - error_for handles all three bases
            raise
        raise mapped from err
