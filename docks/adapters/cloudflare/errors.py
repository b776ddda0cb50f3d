"""Map the SDK's exceptions onto ProviderError: transient or permanent, never a token."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import TypeVar

import cloudflare

from docks.adapters.base import CENSOR, CredentialsRejected, ProviderError

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

    if isinstance(exc, cloudflare.APITimeoutError):
        error = ProviderError(
            "Cloudflare did not answer in time; will retry", permanent=False, code="timeout"
        )
    elif isinstance(exc, cloudflare.APIConnectionError):
        error = ProviderError(
            "Could not connect to the Cloudflare API; will retry",
            permanent=False,
            code="connection",
        )
    elif isinstance(exc, cloudflare.RateLimitError):
        error = ProviderError(
            f"Cloudflare rate limit reached{suffix}",
            permanent=False,
            code="rate_limited",
            retry_after=retry_after_seconds(exc),
        )
    elif isinstance(exc, cloudflare.InternalServerError):
        error = ProviderError(
            f"Cloudflare had a server error (HTTP {exc.status_code}){suffix}",
            permanent=False,
            code="provider_unavailable",
            retry_after=retry_after_seconds(exc),
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
    error.message = _scrub(error.message, secret)
    error.args = (error.message,)
    return error


def call_translated(fn: Callable[[], T], *, secret: str | None) -> T:
    """Run ``fn``; turn SDK errors into ProviderError with no link to the SDK
    exception (its request carries the Authorization header)."""
    try:
        return fn()
    except cloudflare.APIError as exc:
        error = translate(exc, secret=secret)
    raise error
