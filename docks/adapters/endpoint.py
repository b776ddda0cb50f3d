"""The outbound policy (``stackdock.outbound``) as adapters apply it to an endpoint override.

An adapter calls ``check_endpoint`` each time it builds SDK clients for an
override, and ``guard_request`` before each request those clients send (the
host is resolved again every time, so a DNS answer changed since the dock was
saved is caught). Without an override an adapter talks to its provider's own
endpoints, fixed in code, and nothing here runs.
"""

from __future__ import annotations

from docks.adapters.base import ProviderError
from stackdock import outbound

Refused = outbound.Refused


def endpoint_refused(exc: outbound.Refused) -> ProviderError:
    """The permanent error of an endpoint the outbound policy refuses."""
    return ProviderError(
        f"the endpoint override is refused: {exc.reason}",
        permanent=True,
        code="endpoint_refused",
        kind="refused",
    )


def check_endpoint(url: str | None) -> None:
    """Raise the permanent ProviderError when the policy refuses ``url`` now."""
    if not url:
        return
    try:
        outbound.check(url)
    except outbound.Refused as exc:
        raise endpoint_refused(exc) from None


class NotAnApi(Exception):
    """An endpoint override answered a request with something that is not its API's
    format (an HTML page where JSON was due); what it sent is not kept."""


def guard_request(url: str) -> None:
    """Before one request: raises ``outbound.Refused`` (which the SDK passes through
    to the adapter's error translation) when the policy refuses ``url`` now."""
    outbound.check(url)
