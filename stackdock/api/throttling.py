"""Rate limits per API token (or session user) and per client IP, in the Django cache.

The rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``token`` and
``ip``, set from ``STACKDOCK_THROTTLE_TOKEN`` / ``STACKDOCK_THROTTLE_IP``) and
are read per request, so a settings change applies at once. The cache is
Django's default one: Redis in production, so every web process shares the
counts. The client IP is ``REMOTE_ADDR`` unless ``NUM_PROXIES`` says how many
reverse proxies to trust in ``X-Forwarded-For``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from stackdock.models import ApiToken


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(str(self.scope))
        return str(rate) if rate is not None else None


class TokenRateThrottle(_SettingsRateThrottle):
    """Per API token; per user for the dashboard's session. Anonymous requests: IP only."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IpRateThrottle(_SettingsRateThrottle):
    """Per client IP, checked before authentication so guessing tokens is throttled too."""

    scope = "ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
