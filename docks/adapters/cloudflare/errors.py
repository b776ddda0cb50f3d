"""Map the SDK's exceptions onto ProviderError: transient or permanent, never a token."""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Callable
from typing import TypeVar

import cloudflare
import httpx

from docks.adapters.base import CENSOR, CredentialsRejected, ProviderError
from docks.adapters.endpoint import NotAnApi, Refused, endpoint_refused

T = TypeVar("T")


def cloudflare_messages(exc: cloudflare.APIError) -> str:
    """Cloudflare's own error messages from the envelope, e.g. "Invalid API Token (code 1000)"."""
    parts = []
    for error in getattr(exc, "errors", None) or []:
        message = (getattr(error, "message", None) or "").strip()
        code = getattr(error, "code", None)
        if message and code is not None:
            parts.append(f"{message} (code {code})")
        elif message:
            parts.append(message)
    return "; ".join(parts)


def error_codes(exc: cloudflare.APIError) -> set[int]:
    return {
        e.code for e in (getattr(exc, "errors", None) or []) if getattr(e, "code", None) is not None
    }


def retry_after_seconds(exc: cloudflare.APIStatusError) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    headers = exc.response.headers
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def _scrub(message: str, secret: str | None) -> str:
    if secret:
        message = message.replace(secret, CENSOR)
    return message


def translate(exc: cloudflare.APIError, *, secret: str | None = None) -> ProviderError:
    """The ProviderError for an SDK exception. Reads only Cloudflare's error list,
    never ``str(exc)`` or the request (whose headers carry the token)."""
    details = cloudflare_messages(exc)
    suffix = f": {details}" if details else ""

    if isinstance(exc, cloudflare.APIConnectionError) and isinstance(exc.__cause__, Refused):
        error = endpoint_refused(exc.__cause__)  # the outbound policy stopped the request
    elif isinstance(exc, cloudflare.APIConnectionError) and isinstance(exc.__cause__, NotAnApi):
        error = ProviderError(
            "the endpoint answered, but not like Cloudflare's API",
            permanent=True,
            code="unexpected_response",
            kind="not_api",
        )
    elif isinstance(exc, cloudflare.APITimeoutError):
        error = ProviderError(
            "Cloudflare did not answer in time; will retry",
            permanent=False,
            code="timeout",
            kind="timeout",
        )
    elif isinstance(exc, cloudflare.APIConnectionError):
        error = ProviderError(
            "Could not connect to the Cloudflare API; will retry",
            permanent=False,
            code="connection",
            kind=_connection_kind(exc),
        )
    elif isinstance(exc, cloudflare.RateLimitError):
        error = ProviderError(
            f"Cloudflare rate limit reached{suffix}",
            permanent=False,
            code="rate_limited",
            retry_after=retry_after_seconds(exc),
            kind="unavailable",
        )
    elif isinstance(exc, cloudflare.InternalServerError):
        error = ProviderError(
            f"Cloudflare had a server error (HTTP {exc.status_code}){suffix}",
            permanent=False,
            code="provider_unavailable",
            retry_after=retry_after_seconds(exc),
            kind="unavailable",
        )
    elif isinstance(exc, cloudflare.AuthenticationError):
        error = CredentialsRejected(
            f"Cloudflare rejected the API token{suffix or ': authentication failed'}",
            code="credentials_rejected",
        )
    elif isinstance(exc, cloudflare.PermissionDeniedError):
        error = ProviderError(
            "Cloudflare refused the request: the API token lacks a permission it needs "
            f"or the resource is in another account{suffix}",
            permanent=True,
            code="permission_denied",
            kind="denied",
        )
    elif isinstance(exc, cloudflare.NotFoundError):
        error = ProviderError(
            f"Cloudflare could not find it{suffix}", permanent=True, code="not_found"
        )
    elif isinstance(exc, cloudflare.ConflictError):
        error = ProviderError(
            f"Cloudflare reported a conflict{suffix}", permanent=True, code="conflict"
        )
    elif isinstance(exc, cloudflare.BadRequestError | cloudflare.UnprocessableEntityError):
        error = ProviderError(
            f"Cloudflare refused the request{suffix}", permanent=True, code="invalid_request"
        )
    elif isinstance(exc, cloudflare.APIStatusError):
        error = ProviderError(
            f"Cloudflare answered HTTP {exc.status_code}{suffix}",
            permanent=True,
            code="provider_error",
        )
    elif isinstance(exc, cloudflare.APIResponseValidationError):
        error = ProviderError(
            "Cloudflare returned a response this version of StackDock does not understand",
            permanent=True,
            code="unexpected_response",
        )
    else:
        error = ProviderError(
            f"Cloudflare API error: {type(exc).__name__}", permanent=True, code="provider_error"
        )
    if error.kind is None and _not_api(exc):
        error.kind = "not_api"
    error.message = _scrub(error.message, secret)
    error.args = (error.message,)
    return error


def _connection_kind(exc: cloudflare.APIConnectionError) -> str:
    """``tls``, ``closed`` or ``unreachable``, from the httpx error behind the SDK's."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc.__cause__
    while cause is not None and len(chain) < 8:  # httpx -> httpcore -> the socket's error
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return "tls"
    if any(isinstance(c, httpx.RemoteProtocolError) for c in chain):
        return "closed"
    return "unreachable"


def _not_api(exc: cloudflare.APIError) -> bool:
    """An answer that is not Cloudflare's JSON envelope (an HTML page, another server)."""
    if isinstance(exc, cloudflare.APIResponseValidationError):
        return True
    return isinstance(exc, cloudflare.APIStatusError) and not (getattr(exc, "errors", None) or [])


def call_translated(fn: Callable[[], T], *, secret: str | None) -> T:
    """Run ``fn``; turn SDK errors into ProviderError with no link to the SDK
    exception (its request carries the Authorization header)."""
    try:
        return fn()
    except cloudflare.APIError as exc:
        error = translate(exc, secret=secret)
    raise error
