"""DRF authentication by ``Authorization: Bearer <ApiToken>``, with the verified-token
cache of ``stackdock.auth_cache`` (see there for when a cached token is used)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from stackdock.auth_cache import Presented, verified_tokens
from stackdock.services import token_authenticate

#: where the view leaves what it learnt before authentication (a ``Presented``)
PRESENTED_ATTR = "_stackdock_presented"
KEYWORD = "Bearer"


def presented_secret(request: Request) -> str | None:
    """The secret of ``Authorization: Bearer <secret>``, or None."""
    header = authentication.get_authorization_header(request).decode("latin-1")
    keyword, _, secret = header.partition(" ")
    if keyword != KEYWORD:
        return None
    return secret.strip()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        secret = presented_secret(request)
        if secret is None:
            return None
        # the view read the epoch before authenticating; without it, nothing is cached
        presented: Presented | None = getattr(request, PRESENTED_ATTR, None)
        token = None
        if presented is not None and presented.entry is not None:
            token = verified_tokens.get(presented.entry, presented.epoch)
        if token is None:
            token = token_authenticate(secret)
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
            if presented is not None:
                verified_tokens.put(token, presented.epoch)
        return token.membership.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema."""

    target_class = "stackdock.authentication.ApiTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "StackDock API token"}
