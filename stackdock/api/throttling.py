"""Rate limits per API token (or session user) and per client IP, in the Django cache.

The rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``token`` and
``ip``, set from ``STACKDOCK_THROTTLE_TOKEN`` / ``STACKDOCK_THROTTLE_IP``) and
are read per request, so a settings change applies at once. The cache is
Django's default one: Redis in production, so every web process shares the
counts. The client IP is ``REMOTE_ADDR`` unless ``NUM_PROXIES`` says how many
reverse proxies to trust in ``X-Forwarded-For``.

Each limit is a fixed window (``1200/min``: at most 1,200 requests in each
clock minute), counted with one atomic increment, as GitHub's and most APIs'
limits are; ``Retry-After`` says when the window ends. DRF's own throttles keep
a list of every request's time and read and rewrite it on each request. The
view counts the IP's window (and, when the token is already known, the
token's) in the same cache round trip that reads the authentication epoch
(``ApiView.perform_authentication``); ``allow_request`` then uses that count
instead of counting again.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from stackdock.models import ApiToken
from stackdock.utils.cache import Hit, count_hits

#: counts already made for this request, by scope (set by the view before authenticating)
COUNTED_ATTR = "_stackdock_throttle_counts"


class WindowRateThrottle(SimpleRateThrottle):
    """A fixed-window counter per ``ident`` in the cache."""

    num_requests: int
    duration: int
    now: float

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return str(rate) if rate is not None else None

    def ident_for(self, request: Request) -> str | None:
        raise NotImplementedError

    def hit(self, ident: str) -> Hit:
        """The counter of ``ident`` for the current window."""
        self.now = self.timer()
        window = int(self.now // self.duration)
        key = self.cache_format % {"scope": self.scope, "ident": f"{ident}_{window}"}
        return key, self.duration + 1

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        counted = getattr(request, COUNTED_ATTR, {}).get(self.scope)
        if counted is None:
            ident = self.ident_for(request)
            if ident is None:
                return True
            (counted,), _ = count_hits(self.cache, [self.hit(ident)])
        else:
            self.now = self.timer()
        return self.allowed(counted)

    def allowed(self, count: int) -> bool:
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the current window ends."""
        return self.duration - (self.now % self.duration)

    def get_cache_key(self, request: Request, view: Any) -> str | None:  # pragma: no cover
        raise NotImplementedError("fixed windows use hit()")


class TokenRateThrottle(WindowRateThrottle):
    """Per API token; per user for the dashboard's session. Anonymous requests: IP only."""

    scope = "token"

    def ident_for(self, request: Request) -> str | None:
        if isinstance(request.auth, ApiToken):
            return self.token_ident(request.auth.pk)
        if request.user is not None and request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return None

    @staticmethod
    def token_ident(token_pk: Any) -> str:
        return f"token-{token_pk}"


class IpRateThrottle(WindowRateThrottle):
    """Per client IP, checked before authentication so guessing tokens is throttled too."""

    scope = "ip"

    def ident_for(self, request: Request) -> str | None:
        return str(self.get_ident(request))
