"""What every API view shares: the actor, throttles, input checks, lookups, 202 receipts.

Views parse input and call a service or a selector; they never filter by
organization by hand. Object lookups go through the choke point
(``visible_to``/``get_visible``); when an object is invisible only because of
the actor's role, the answer is a 403 (audited by ``require``), while an
unknown or another organization's object stays a 404.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db.models import Model
from django.urls import reverse
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSetMixin

from stackdock.api.actor import request_actor
from stackdock.api.exceptions import PayloadTooLarge
from stackdock.api.pagination import Pagination
from stackdock.api.serializers import ValuesSerializer
from stackdock.api.throttling import COUNTED_ATTR, IpRateThrottle, TokenRateThrottle
from stackdock.auth_cache import AUTH_EPOCH_KEY, Presented, verified_tokens
from stackdock.authentication import PRESENTED_ATTR, presented_secret
from stackdock.exceptions import Conflict, NotFound, ValidationError
from stackdock.models import Level, Organization
from stackdock.permissions import Actor, require
from stackdock.utils.cache import count_hits

T = TypeVar("T")

#: the largest request body accepted (a stack document may be up to 5 M characters)
MAX_BODY_BYTES = 6 * 1024 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
PAGINATION_PARAMS = ("limit", "offset")
_INT_ID = re.compile(r"^[0-9]{1,18}$")


class IsMember(BasePermission):
    """Authenticated, active, and a member of the organization the request acts in."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if not user.is_active:
            raise drf.AuthenticationFailed("This account is disabled.")
        request_actor(request)  # raises 403/404 when there is no such membership
        return True


def _find_nul(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find_nul(str(key), path) or _find_nul(item, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def parse_int_id(value: Any, what: str = "Object") -> int:
    """A positive integer id from a URL, or NotFound (never a database error)."""
    text = str(value)
    if not _INT_ID.match(text):
        raise NotFound(f"{what} not found.")
    return int(text)


def parse_uuid(value: Any, what: str = "Object") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} not found.") from None


def org_scope(actor: Actor) -> Actor:
    """The actor's organization as a whole (a system actor bound to it), for deciding
    whether an object the actor cannot see exists in its own organization."""
    return Actor.system("api-lookup", actor.org)


class ApiView(APIView):
    """Base for every ``/api/v1/`` view (``ApiViewSet`` for the ones with several actions)."""

    permission_classes = [IsMember]
    throttle_classes = [TokenRateThrottle]
    filter_backends: list[Any] = []
    pagination_class = Pagination

    # --- request checks -------------------------------------------------------------
    def perform_authentication(self, request: Request) -> None:
        """Before authenticating, one cache round trip: count the client IP's rate window
        (so guessing tokens is throttled too) and, when the presented token is one this
        process verified before, the token's window; read the authentication epoch."""
        ip, per_token = IpRateThrottle(), TokenRateThrottle()
        secret = presented_secret(request)
        entry = verified_tokens.candidate(secret) if secret else None
        scopes, hits = [], []
        if ip.rate is not None:
            scopes.append(ip.scope)
            hits.append(ip.hit(str(ip.ident_for(request))))
        if entry is not None and per_token.rate is not None:
            scopes.append(per_token.scope)
            hits.append(per_token.hit(per_token.token_ident(entry.token_pk)))
        counts, (epoch,) = count_hits(ip.cache, hits, read=[AUTH_EPOCH_KEY])
        setattr(request, COUNTED_ATTR, dict(zip(scopes, counts, strict=True)))
        setattr(request, PRESENTED_ATTR, Presented(epoch=epoch, entry=entry))
        if not ip.allow_request(request, self):
            self.throttled(request, ip.wait() or 1.0)
        super().perform_authentication(request)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)
        if _find_nul({k: str(v) for k, v in kwargs.items()}):
            raise NotFound()  # no name or id holds a NUL (and PostgreSQL refuses one)
        bad = _find_nul(dict(request.query_params.items()))
        if bad is None and request.method in ("POST", "PUT", "PATCH"):
            bad = _find_nul(request.data)
        if bad is not None:
            raise ValidationError(
                "NUL characters are not allowed.", fields={bad: ["contains a NUL character"]}
            )

    @property
    def actor(self) -> Actor:
        return request_actor(self.request)

    @property
    def org(self) -> Organization:
        """The organization the request acts in (``IsMember`` made sure there is one)."""
        org = self.actor.org
        assert org is not None
        return org

    # --- input -----------------------------------------------------------------------
    def validated(self, serializer_class: type[serializers.Serializer], data: Any = None) -> dict:
        """Validate ``data`` (default: the body) with an input serializer; 400 otherwise."""
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def query(self, serializer_class: type[serializers.Serializer]) -> dict:
        """Validated query parameters (filters); only the ones given."""
        raw = {
            k: v
            for k, v in self.request.query_params.items()
            if v != "" and k not in PAGINATION_PARAMS
        }
        if not raw and not _has_defaults(serializer_class):
            return {}  # nothing given, nothing to fill in
        data = self.validated(serializer_class, raw)
        return {k: v for k, v in data.items() if v not in (None, "")}

    # --- lookups ---------------------------------------------------------------------
    def visible_or_denied(
        self, get: Callable[[], T], model: type[Model], area: str, **lookup: Any
    ) -> T:
        """``get()`` through the choke point; when it finds nothing, 403 if the object is
        the actor's organization's (its role does not reach it), else the 404."""
        try:
            return get()
        except NotFound:
            actor = self.actor
            obj = model.objects.get_visible(org_scope(actor), area, **lookup)  # type: ignore[attr-defined]
            require(actor, actor.org, area, Level.READ, obj=obj)
            raise

    # --- lists -----------------------------------------------------------------------
    def paginated(
        self, queryset: Any, serializer_class: type[serializers.BaseSerializer], **context: Any
    ) -> Response:
        paginator = self.paginator
        page: Any = paginator.paginate_queryset(queryset, self.request, view=self)
        ctx = {"request": self.request, **context}
        data = serializer_class(page, many=True, context=ctx).data
        return paginator.get_paginated_response(data)

    def paginated_values(self, queryset: Any, rows: ValuesSerializer) -> Response:
        """``paginated`` for the large lists: the page is read as ``.values()`` rows."""
        paginator = self.paginator
        page = paginator.paginate_values(queryset, rows.columns, self.request, view=self)
        return paginator.get_paginated_response(rows.many(page or []))

    @property
    def paginator(self) -> Pagination:
        if not hasattr(self, "_paginator"):
            self._paginator = self.pagination_class()
        return self._paginator

    # --- queued work -----------------------------------------------------------------
    def idempotency(self) -> tuple[str, str]:
        """``(Idempotency-Key, request fingerprint)`` for a service that queues work."""
        from provisioning.services import request_fingerprint

        key = self.request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if key and not _IDEMPOTENCY_KEY.match(key):
            raise ValidationError(
                "Idempotency-Key must be 1-200 printable ASCII characters without spaces.",
                fields={IDEMPOTENCY_HEADER: ["1-200 printable ASCII characters"]},
            )
        body = {
            "method": self.request.method,
            "path": self.request.path,
            "query": sorted(self.request.query_params.items()),
            "body": self.request.data,
        }
        return key, request_fingerprint(body)

    def replay(self) -> Response | None:
        """The first response, when this Idempotency-Key was used before (409 when it was
        used with another request). Checked before any lookup: a replayed DELETE answers
        the same even after the resource is gone."""
        from provisioning.api.idempotency import operation_for_key

        key, fingerprint = self.idempotency()
        if not key:
            return None
        op = operation_for_key(actor=self.actor, key=key)
        if op is None:
            return None
        same_actor = op.actor_user_id == getattr(self.actor.user, "pk", None)
        if op.request_hash != fingerprint or not same_actor:
            raise Conflict(
                "This Idempotency-Key was already used with a different request.",
                fields={IDEMPOTENCY_HEADER: ["reused with a different request"]},
            )
        return self.accepted(op, replayed=True)

    def accepted(self, op: Any, *, replayed: bool = False) -> Response:
        """202 with the operation's receipt (the same body for every replay)."""
        body = receipt(op, self.request)
        headers = {"Location": body["status_url"]}
        if replayed or getattr(op, "_replayed", False):
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=202, headers=headers)


@functools.cache
def _has_defaults(serializer_class: type[serializers.Serializer]) -> bool:
    """Whether validating an empty query with ``serializer_class`` could give anything."""
    return any(
        field.default is not empty or field.required for field in serializer_class().fields.values()
    )


def status_url(request: Request, op_id: int) -> str:
    return request.build_absolute_uri(reverse("api:operation-detail", kwargs={"pk": op_id}))


def receipt(op: Any, request: Request) -> dict[str, Any]:
    """What a 202 says: the operation's id, where to poll it, and what it is about.

    Built only from what never changes on the operation, with ``status: queued``
    (true when the work was accepted), so a replay returns the very same body.
    """
    return {
        "provision_id": op.pk,
        "kind": op.kind,
        "status": "queued",
        "status_url": status_url(request, op.pk),
        "resource_id": op.resource_id,
        "resource_table": op.resource_table or None,
        "stack": op.stack_name or None,
        "dock": str(op.dock_id) if op.dock_id else None,
    }


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class ApiViewSet(ViewSetMixin, ApiView):
    """A viewset (actions mapped to methods in ``urls.py``) with everything ``ApiView`` does."""
