"""Translate boto3/botocore failures into the engine's ``ProviderError``.

Classification relies on botocore's own exception classes and the error codes
AWS returns; nothing here parses HTTP by hand. Messages are built from the
error code and a short, user-actionable text; AWS's own message is used only
for codes we don't know, and every credential value is scrubbed from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
    WaiterError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from docks.adapters.base import CENSOR, CredentialsRejected, ProviderError
from docks.adapters.endpoint import Refused, endpoint_refused

#: Throttling, server-side trouble and "busy, try again" states.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "OperationAborted",
        "InsufficientInstanceCapacity",
        "IncorrectInstanceState",
        "InvalidDBInstanceState",
    }
)

#: The credentials themselves are wrong, expired or unknown.
CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidToken",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "TokenRefreshRequired",
    }
)

#: The credentials work but may not do this.
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "Forbidden",
    }
)

#: Codes meaning "no such thing" (handlers treat these as absent).
NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NotFound",
        "InvalidInstanceID.NotFound",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "NoSuchHostedZone",
    }
)

#: What a user can act on, per error code.
FRIENDLY = {
    "BucketAlreadyExists": "bucket name already taken by another account; choose another name",
    "BucketNotEmpty": "bucket is not empty; delete its objects (and all object versions) first",
    "InvalidBucketName": "AWS refused the bucket name",
    "TooManyBuckets": "the account has reached its S3 bucket quota",
    "IllegalLocationConstraintException": "the bucket region does not match the endpoint region",
    "InvalidAMIID.NotFound": "image (AMI) not found in this region",
    "InvalidAMIID.Malformed": "malformed image (AMI) id",
    "InvalidInstanceType": "instance type not offered here",
    "InstanceLimitExceeded": "the account's EC2 instance quota is reached",
    "VcpuLimitExceeded": "the account's vCPU quota is reached; request a quota increase",
    "IdempotentParameterMismatch": (
        "the same client token was already used with different parameters"
    ),
    "DBInstanceAlreadyExists": "a DB instance with this identifier already exists",
    "InstanceQuotaExceeded": "the account's RDS instance quota is reached",
    "StorageQuotaExceeded": "the account's RDS storage quota is reached",
    "InsufficientDBInstanceCapacity": "AWS has no capacity for this DB instance class here",
    "HostedZoneAlreadyExists": "a hosted zone with this caller reference already exists",
    "HostedZoneNotEmpty": "the hosted zone still has records other than SOA and NS; delete them first",
    "TooManyHostedZones": "the account's Route 53 hosted zone quota is reached",
    "OptInRequired": "the account is not subscribed to this service or region (opt-in required)",
    "RequestExpired": "the request expired; check the clock of the StackDock server",
    "RequestTimeTooSkewed": "the StackDock server's clock is too far off; fix its time",
}

#: Longest AWS message we pass on.
MAX_DETAIL = 400


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (``""`` if none)."""
    return str(exc.response.get("Error", {}).get("Code") or "")


def http_status(exc: ClientError) -> int | None:
    """The HTTP status AWS answered with, if known."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def is_not_found(exc: ClientError) -> bool:
    """True when the error only says the thing does not exist."""
    return error_code(exc) in NOT_FOUND_CODES or (not error_code(exc) and http_status(exc) == 404)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every credential value replaced by the censor token."""
    for value in secrets:
        if value:
            text = text.replace(value, CENSOR)
    return text


def _retry_after(exc: ClientError) -> float | None:
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    try:
        return float(headers["retry-after"])
    except (KeyError, TypeError, ValueError):
        return None


def _from_client_error(exc: ClientError, action: str, secrets: Sequence[str]) -> ProviderError:
    code = error_code(exc)
    status = http_status(exc)
    label = code or f"HTTP {status}"
    if code in CREDENTIAL_CODES or (not code and status == 401):
        return CredentialsRejected(
            f"{action} failed: AWS rejected the credentials ({label})", code=code or "401"
        )
    if code in ACCESS_CODES or (not code and status == 403):
        return ProviderError(
            f"{action} failed: the credentials are not allowed to do this ({label}); "
            "see the IAM policy in the AWS provider docs",
            permanent=True,
            code=code or "403",
            kind="denied",
        )
    transient = code in TRANSIENT_CODES or (status is not None and (status >= 500 or status == 429))
    detail = FRIENDLY.get(code) or _aws_message(exc, secrets) or f"HTTP {status}"
    # botocore names an error by its HTTP status when the body was no AWS error document
    not_api = not code or code.isdigit()
    return ProviderError(
        f"{action} failed: {detail} ({label})",
        permanent=not transient,
        code=code or (str(status) if status else None),
        retry_after=_retry_after(exc) if transient else None,
        kind="unavailable" if transient else ("not_api" if not_api else None),
    )


def _aws_message(exc: ClientError, secrets: Sequence[str]) -> str:
    message = str(exc.response.get("Error", {}).get("Message") or "").strip()
    return scrub(message, secrets)[:MAX_DETAIL]


def _from_waiter_error(exc: WaiterError, action: str, secrets: Sequence[str]) -> ProviderError:
    last = exc.last_response or {}
    if "Error" in last:
        fake = ClientError(last, exc.name)
        return _from_client_error(fake, action, secrets)
    if "Max attempts exceeded" in str(exc.kwargs.get("reason", "")):
        return ProviderError(
            f"{action}: still not ready after waiting; will check again",
            permanent=False,
            code="WaiterTimeout",
        )
    return ProviderError(
        f"{action} failed: the resource reached a failed state", permanent=True, code="WaiterFailed"
    )


def to_provider_error(
    exc: BaseException, *, action: str, secrets: Sequence[str] = ()
) -> ProviderError | None:
    """The ProviderError for a boto3/botocore failure, or None for anything else."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, Refused):  # the outbound policy, before a request was sent
        return endpoint_refused(exc)
    if isinstance(exc, ClientError):
        return _from_client_error(exc, action, secrets)
    if isinstance(exc, WaiterError):
        return _from_waiter_error(exc, action, secrets)
    if isinstance(exc, SSLError):
        return ProviderError(
            f"{action} failed: TLS error talking to AWS; check the endpoint and its certificate",
            permanent=True,
            code="SSLError",
            kind="tls",
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError | IncompleteReadError):
        # refused, DNS, proxy, connect/read timeouts, dropped or truncated responses
        return ProviderError(
            f"{action} failed: could not reach AWS ({type(exc).__name__})",
            permanent=False,
            code=type(exc).__name__,
            kind=_connection_kind(exc),
        )
    if isinstance(exc, ResponseParserError):
        return ProviderError(
            f"{action} failed: AWS sent a response that could not be read",
            permanent=False,
            code="ResponseParserError",
            kind="not_api",
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialsRejected(f"{action} failed: the AWS credentials are incomplete")
    if isinstance(exc, ParamValidationError):
        return ProviderError(
            f"{action} failed: invalid request: {scrub(str(exc), secrets)[:MAX_DETAIL]}",
            permanent=True,
            code="ParamValidationError",
        )
    if isinstance(exc, BotoCoreError):
        return ProviderError(
            f"{action} failed: {scrub(str(exc), secrets)[:MAX_DETAIL]}",
            permanent=True,
            code=type(exc).__name__,
        )
    return None


def _connection_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionClosedError | IncompleteReadError):
        return "closed"
    return "unreachable"


@contextmanager
def translated(action: str, secrets: Sequence[str] = ()) -> Iterator[None]:
    """Run a block, turning AWS failures into ProviderError (without the original chain).

    The chain is dropped on purpose: botocore errors carry the raw error
    document, which for S3 can include the access key id.
    """
    try:
        yield
    except (ClientError, BotoCoreError, ResponseParserError, Refused) as exc:
        error = to_provider_error(exc, action=action, secrets=secrets)
        assert error is not None  # every caught type is handled above
        raise error from None
