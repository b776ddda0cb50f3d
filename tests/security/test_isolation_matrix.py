"""The tenant isolation matrix, generated from the URL configuration and the OpenAPI schema.

Every URL pattern (``django.urls.get_resolver()``) and every schema operation
(drf-spectacular) is requested with every method it allows, as every principal:
anonymous, the victim organization's viewer / developer / admin / owner, the
owner of another organization (the outsider), and a revoked and an expired
credential (API tokens for the API, sessions for the dashboard). Path parameters
are filled with real objects of the victim organization.

The expected answer of each cell comes from ``EXPECT`` below (Django admin: the
``STAFF_ONLY`` rule, no member being staff). A URL pattern or a schema operation
without an entry fails ``test_every_endpoint_has_an_entry_and_every_entry_an_endpoint``,
so a new endpoint cannot slip in untested; an entry whose endpoint is gone fails it
too. Rules the table itself must keep (an outsider gets 404 for every object URL,
strangers get 401 or the login page) are checked on the table, so an entry cannot
quietly weaken them; and for every object URL the outsider's answer must be exactly
the answer for an object that does not exist.

Each cell runs inside a savepoint that is rolled back, so every cell sees the same
world (a DELETE in one cell does not turn the next into a 404). Write cells send the
valid body ``BODIES`` gives (where there is none, an empty one): the answer is then
the auth decision itself, and for those allowed the action's success; the table says
where it is a 400 (allowed, but the body is wrong for this caller) rather than 403/404.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib import admin as django_admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from stackdock.api.urls import not_found as api_not_found
from stackdock.models import AREAS
from stackdock.permissions import Actor
from tests.security.conftest import (
    PRINCIPALS,
    STACK_DOC,
    TABLE_TYPES,
    Victim,
    expired_secret,
    expired_session,
    revoked_secret,
    revoked_session,
    session_client,
    token_secret,
)

# --- expected answers ------------------------------------------------------------------------

LOGIN = "login"  # a redirect to the dashboard's login page (302)
ADMIN_LOGIN = "admin-login"  # a redirect to Django admin's login page (302)
Expect = int | str

#: the member columns of every row, in this order
ROLES = ("owner", "admin", "developer", "viewer", "outsider")


def _row(strangers: Expect, cells: tuple[Expect, ...]) -> dict[str, Expect]:
    assert len(cells) == len(ROLES)
    return {
        "anonymous": strangers,
        "revoked": strangers,
        "expired": strangers,
        **dict(zip(ROLES, cells, strict=True)),
    }


def api(owner: Expect, admin: Expect, developer: Expect, viewer: Expect, outsider: Expect):
    """An API row: anonymous callers and revoked or expired tokens get a 401."""
    return _row(401, (owner, admin, developer, viewer, outsider))


def page(owner: Expect, admin: Expect, developer: Expect, viewer: Expect, outsider: Expect):
    """A dashboard row: no session, a disabled account's or an expired one go to log in."""
    return _row(LOGIN, (owner, admin, developer, viewer, outsider))


def everyone(status: Expect) -> dict[str, Expect]:
    return dict.fromkeys(PRINCIPALS, status)


def site(members: Expect, strangers: Expect) -> dict[str, Expect]:
    """A page outside the dashboard: one answer for members, one for strangers."""
    return _row(strangers, (members,) * len(ROLES))


#: Django admin is for staff only; no member of an organization is staff
STAFF_ONLY = everyone(ADMIN_LOGIN)
#: admin URLs with their own entry in EXPECT (every other admin URL is STAFF_ONLY)
ADMIN_PUBLIC = ("admin/login/", "admin/logout/", "admin/(?P<url>.*)$")
#: DRF answers OPTIONS with the view's description (no object data, the same for an
#: object that does not exist: ``walk_matrix`` compares the two)
METADATA = api(200, 200, 200, 200, 200)

D = "dashboard/"
T = D + "^(?P<table>servers|web-services|domains|databases|buckets)"
V = "api/v1/"
#: the JSON 404 for anything else under /api/v1/, whatever its pattern looks like
CATCH_ALL = V + "<anything else>"

# (route as the resolver spells it, method) -> expected answer per principal.
# Columns: owner, admin, developer, viewer, outsider (who owns another organization, so
# collection URLs act in *their* organization). HEAD is answered like GET and OPTIONS
# like METADATA on every API route.
EXPECT: dict[tuple[str, str], dict[str, Expect]] = {
    # --- outside the dashboard and the API ------------------------------------------------
    ("", "GET"): site(302, 302),  # to /dashboard/
    ("", "POST"): site(302, 302),
    ("favicon.ico", "GET"): site(301, 301),  # to the static icon
    ("favicon.ico", "POST"): site(301, 301),
    ("accounts/login/", "GET"): site(302, 200),  # members are sent on to the dashboard
    ("accounts/login/", "POST"): site(302, 200),  # strangers: the form again (empty body)
    ("accounts/logout/", "GET"): site(405, 405),
    ("accounts/logout/", "POST"): site(LOGIN, LOGIN),
    ("admin/login/", "GET"): site(200, 200),
    ("admin/login/", "POST"): site(200, 200),  # the form again: nobody here is staff
    ("admin/logout/", "GET"): site(302, 302),  # to /admin/, which is STAFF_ONLY
    ("admin/logout/", "POST"): site(302, 302),
    ("admin/(?P<url>.*)$", "GET"): STAFF_ONLY,
    ("admin/(?P<url>.*)$", "POST"): STAFF_ONLY,
    # Django's password reset: a form for anyone (it says the same whatever the email)
    ("accounts/password_reset/", "GET"): site(200, 200),
    ("accounts/password_reset/", "POST"): site(200, 200),  # the form again (empty body)
    ("accounts/password_reset/done/", "GET"): site(200, 200),
    ("accounts/password_reset/done/", "POST"): site(405, 405),
    ("accounts/reset/<uidb64>/<token>/", "GET"): site(200, 200),  # "this link is not valid"
    ("accounts/reset/<uidb64>/<token>/", "POST"): site(200, 200),
    ("accounts/reset/done/", "GET"): site(200, 200),
    ("accounts/reset/done/", "POST"): site(405, 405),
    # an invitation's page: an unknown secret is a 404 to anyone (real ones:
    # security/test_authority_matrix.py, stackdock/test_invitations.py)
    ("accounts/invitation/<str:secret>/", "GET"): site(404, 404),
    ("accounts/invitation/<str:secret>/", "POST"): site(404, 404),
    ("api/schema/", "GET"): site(200, 200),  # the OpenAPI document is public
    ("api/schema/", "POST"): site(405, 405),
    ("api/docs/", "GET"): site(200, 200),
    ("api/docs/", "POST"): site(405, 405),
    # --- dashboard: overview, organization switch ------------------------------------------
    (D, "GET"): page(200, 200, 200, 200, 200),
    (D, "POST"): page(200, 200, 200, 200, 200),
    (D + "switch-org/", "GET"): page(405, 405, 405, 405, 405),
    (D + "switch-org/", "POST"): page(
        302, 302, 302, 302, 302
    ),  # see test_outsider_cannot_switch_into_another_org
    # --- dashboard: docks ---------------------------------------------------------------------
    (D + "docks/", "GET"): page(200, 200, 403, 200, 200),
    (D + "docks/", "POST"): page(200, 200, 403, 200, 200),
    (D + "docks/add/", "GET"): page(200, 200, 403, 403, 200),
    (D + "docks/add/", "POST"): page(200, 200, 403, 403, 200),
    (D + "docks/add/<slug:provider>/", "GET"): page(200, 200, 403, 403, 200),
    (D + "docks/add/<slug:provider>/", "POST"): page(303, 303, 403, 403, 303),
    # developers see no docks at all: acme's dock is a 404 to them here (the API says 403)
    (D + "docks/<uuid:dock_id>/", "GET"): page(200, 200, 404, 200, 404),
    (D + "docks/<uuid:dock_id>/", "POST"): page(303, 303, 404, 403, 404),
    (D + "docks/<uuid:dock_id>/sync/", "GET"): page(405, 405, 405, 405, 405),
    (D + "docks/<uuid:dock_id>/sync/", "POST"): page(303, 303, 404, 403, 404),
    (D + "docks/<uuid:dock_id>/rotate/", "GET"): page(200, 200, 404, 403, 404),
    (D + "docks/<uuid:dock_id>/rotate/", "POST"): page(303, 303, 404, 403, 404),
    (D + "docks/<uuid:dock_id>/delete/", "GET"): page(200, 200, 404, 403, 404),
    (D + "docks/<uuid:dock_id>/delete/", "POST"): page(303, 303, 404, 403, 404),
    (D + "docks/<uuid:dock_id>/grants/", "GET"): page(405, 405, 405, 405, 405),
    (D + "docks/<uuid:dock_id>/grants/", "POST"): page(303, 303, 404, 403, 404),
    # --- dashboard: provisioning wizard and operations --------------------------------------
    (D + "provision/", "GET"): page(200, 200, 403, 403, 200),
    (D + "provision/", "POST"): page(200, 200, 403, 403, 200),
    (D + "provision/<slug:provider>/", "GET"): page(200, 200, 403, 403, 200),
    (D + "provision/<slug:provider>/", "POST"): page(200, 200, 403, 403, 200),
    (D + "provision/<slug:provider>/<slug:resource_type>/", "GET"): page(200, 200, 403, 403, 200),
    # the outsider may provision in globex, but acme's dock is not a choice: a form error
    (D + "provision/<slug:provider>/<slug:resource_type>/", "POST"): page(303, 303, 403, 403, 400),
    (D + "provision/<slug:provider>/<slug:resource_type>/<int:provision_id>/", "GET"): page(
        200, 200, 200, 200, 404
    ),
    (D + "provision/<slug:provider>/<slug:resource_type>/<int:provision_id>/", "POST"): page(
        200, 200, 200, 200, 404
    ),
    (D + "operations/", "GET"): page(200, 200, 200, 200, 200),
    (D + "operations/", "POST"): page(200, 200, 200, 200, 200),
    (D + "operations/<int:pk>/", "GET"): page(200, 200, 200, 200, 404),
    (D + "operations/<int:pk>/", "POST"): page(200, 200, 200, 200, 404),
    (D + "operations/<int:pk>/cancel/", "GET"): page(405, 405, 405, 405, 405),
    (D + "operations/<int:pk>/cancel/", "POST"): page(303, 303, 403, 403, 404),
    # --- dashboard: stacks ------------------------------------------------------------------
    (D + "stacks/", "GET"): page(200, 200, 200, 200, 200),
    (D + "stacks/", "POST"): page(200, 200, 200, 200, 200),
    (D + "stacks/new/", "GET"): page(200, 200, 403, 403, 200),
    # the outsider's globex has no dock named "sandbox": a spec error
    (D + "stacks/new/", "POST"): page(303, 303, 403, 403, 400),
    (D + "stacks/<slug:name>/", "GET"): page(200, 200, 200, 200, 404),
    (D + "stacks/<slug:name>/", "POST"): page(200, 200, 200, 200, 404),
    (D + "stacks/<slug:name>/edit/", "GET"): page(200, 200, 403, 403, 404),
    (D + "stacks/<slug:name>/edit/", "POST"): page(303, 303, 403, 403, 404),
    (D + "stacks/<slug:name>/plan/", "GET"): page(200, 200, 200, 200, 404),
    (D + "stacks/<slug:name>/plan/", "POST"): page(200, 200, 200, 200, 404),
    (D + "stacks/<slug:name>/deploy/", "GET"): page(200, 200, 200, 200, 404),  # the plan
    (D + "stacks/<slug:name>/deploy/", "POST"): page(303, 303, 403, 403, 404),
    (D + "stacks/<slug:name>/destroy/", "GET"): page(200, 200, 403, 403, 404),
    (D + "stacks/<slug:name>/destroy/", "POST"): page(303, 303, 403, 403, 404),
    (D + "stacks/<slug:name>/refresh/", "GET"): page(302, 302, 302, 302, 404),  # to the stack
    (D + "stacks/<slug:name>/refresh/", "POST"): page(303, 303, 403, 403, 404),
    (D + "stacks/<slug:name>/unlock/", "GET"): page(200, 200, 403, 403, 404),
    (D + "stacks/<slug:name>/unlock/", "POST"): page(303, 303, 403, 403, 404),
    (D + "stacks/<slug:name>/delete/", "GET"): page(200, 200, 403, 403, 404),
    (D + "stacks/<slug:name>/delete/", "POST"): page(303, 303, 403, 403, 404),
    # --- dashboard: audit -------------------------------------------------------------------
    (D + "audit/", "GET"): page(200, 200, 403, 403, 200),
    (D + "audit/", "POST"): page(200, 200, 403, 403, 200),
    (D + "^audit/export\\.(?P<fmt>csv|jsonl)$", "GET"): page(200, 200, 403, 403, 200),
    (D + "^audit/export\\.(?P<fmt>csv|jsonl)$", "POST"): page(200, 200, 403, 403, 200),
    # --- dashboard: organization settings ---------------------------------------------------
    (D + "settings/members/", "GET"): page(200, 200, 403, 403, 200),
    # an invitation: the page again, showing its link once
    (D + "settings/members/", "POST"): page(200, 200, 403, 403, 200),
    (D + "settings/members/<int:pk>/role/", "GET"): page(405, 405, 405, 405, 405),
    (D + "settings/members/<int:pk>/role/", "POST"): page(303, 303, 403, 403, 404),
    (D + "settings/members/<int:pk>/remove/", "GET"): page(200, 200, 403, 403, 404),
    (D + "settings/members/<int:pk>/remove/", "POST"): page(303, 303, 403, 403, 404),
    (D + "settings/invitations/<int:pk>/withdraw/", "GET"): page(405, 405, 405, 405, 405),
    (D + "settings/invitations/<int:pk>/withdraw/", "POST"): page(303, 303, 403, 403, 404),
    (D + "settings/roles/", "GET"): page(200, 200, 403, 403, 200),
    (D + "settings/roles/", "POST"): page(303, 303, 403, 403, 303),
    (D + "settings/roles/<int:pk>/", "GET"): page(405, 405, 405, 405, 405),
    (D + "settings/roles/<int:pk>/", "POST"): page(303, 303, 403, 403, 404),
    (D + "settings/tokens/", "GET"): page(200, 200, 200, 200, 200),
    (D + "settings/tokens/", "POST"): page(200, 200, 200, 200, 200),  # your own token
    (D + "settings/tokens/<int:pk>/revoke/", "GET"): page(405, 405, 405, 405, 405),
    # the owner's token: others without members: full only see their own (the API says 403)
    # (and an admin is below the owner: tests/security/test_authority_matrix.py)
    (D + "settings/tokens/<int:pk>/revoke/", "POST"): page(303, 403, 404, 404, 404),
    # --- dashboard: the universal tables (each of the five) ---------------------------------
    (T + "/$", "GET"): page(200, 200, 200, 200, 200),
    (T + "/$", "POST"): page(200, 200, 200, 200, 200),
    (T + "/(?P<pk>\\d+)/$", "GET"): page(200, 200, 200, 200, 404),
    (T + "/(?P<pk>\\d+)/$", "POST"): page(200, 200, 200, 200, 404),
    (T + "/(?P<pk>\\d+)/edit/$", "GET"): page(200, 200, 403, 403, 404),
    (T + "/(?P<pk>\\d+)/edit/$", "POST"): page(303, 303, 403, 403, 404),
    # the victim's rows are managed already: the page says so, and an import is refused
    (T + "/(?P<pk>\\d+)/import/$", "GET"): page(200, 200, 403, 403, 404),
    (T + "/(?P<pk>\\d+)/import/$", "POST"): page(400, 400, 403, 403, 404),
    (T + "/(?P<pk>\\d+)/destroy/$", "GET"): page(200, 200, 403, 403, 404),
    (T + "/(?P<pk>\\d+)/destroy/$", "POST"): page(303, 303, 403, 403, 404),
    # --- API: who am I, providers, docks ----------------------------------------------------
    (V + "whoami", "GET"): api(200, 200, 200, 200, 200),
    (V + "providers", "GET"): api(200, 200, 200, 200, 200),
    (V + "docks", "GET"): api(200, 200, 200, 200, 200),
    (V + "docks", "POST"): api(201, 201, 403, 403, 201),
    (V + "docks/<uuid:pk>", "GET"): api(200, 200, 403, 200, 404),
    (V + "docks/<uuid:pk>", "PATCH"): api(200, 200, 403, 403, 404),
    # allowed, but the dock still carries resources StackDock provisioned
    (V + "docks/<uuid:pk>", "DELETE"): api(409, 409, 403, 403, 404),
    (V + "docks/<uuid:pk>/sync", "POST"): api(202, 202, 403, 403, 404),
    (V + "docks/<uuid:pk>/rotate-credentials", "POST"): api(200, 200, 403, 403, 404),
    # --- API: the universal tables ----------------------------------------------------------
    **{
        key: row
        for table in TABLE_TYPES
        for key, row in {
            (V + table, "GET"): api(200, 200, 200, 200, 200),
            (V + f"{table}/<int:pk>", "GET"): api(200, 200, 200, 200, 404),
            (V + f"{table}/<int:pk>", "PATCH"): api(202, 202, 403, 403, 404),
            (V + f"{table}/<int:pk>", "DELETE"): api(202, 202, 403, 403, 404),
            # allowed, but the victim's rows are managed already (a discovered one is
            # imported in tests/api/test_imports.py)
            (V + f"{table}/<int:pk>/import", "POST"): api(409, 409, 403, 403, 404),
        }.items()
    },
    # --- API: provisioning and operations ---------------------------------------------------
    # the body names acme's dock: to the outsider it does not exist
    (V + "provision", "POST"): api(202, 202, 403, 403, 404),
    (V + "operations", "GET"): api(200, 200, 200, 200, 200),
    (V + "operations/<int:pk>", "GET"): api(200, 200, 200, 200, 404),
    (V + "operations/<int:pk>/cancel", "POST"): api(200, 200, 403, 403, 404),
    # --- API: stacks ------------------------------------------------------------------------
    (V + "stacks", "GET"): api(200, 200, 200, 200, 200),
    (V + "stacks", "POST"): api(201, 201, 403, 403, 400),  # globex has no dock "sandbox"
    (V + "stacks/<str:name>", "GET"): api(200, 200, 200, 200, 404),
    (V + "stacks/<str:name>", "PUT"): api(200, 200, 403, 403, 404),
    (V + "stacks/<str:name>", "DELETE"): api(204, 204, 403, 403, 404),
    (V + "stacks/<str:name>/plan", "POST"): api(200, 200, 200, 200, 404),  # read-only
    (V + "stacks/<str:name>/deploy", "POST"): api(202, 202, 403, 403, 404),
    (V + "stacks/<str:name>/destroy", "POST"): api(202, 202, 403, 403, 404),
    (V + "stacks/<str:name>/refresh", "POST"): api(202, 202, 403, 403, 404),
    (V + "stacks/<str:name>/unlock", "POST"): api(200, 200, 403, 403, 404),
    # the body names acme's server row, managed already
    (V + "stacks/<str:name>/import", "POST"): api(409, 409, 403, 403, 404),
    (V + "stacks/<str:name>/versions", "GET"): api(200, 200, 200, 200, 404),
    # --- API: audit, members, roles, tokens -------------------------------------------------
    (V + "audit", "GET"): api(200, 200, 403, 403, 200),
    (V + "audit/export", "GET"): api(200, 200, 403, 403, 200),
    (V + "members", "GET"): api(200, 200, 403, 403, 200),
    (V + "members", "POST"): api(201, 201, 403, 403, 201),
    (V + "members/<int:pk>", "PATCH"): api(200, 200, 403, 403, 404),
    (V + "members/<int:pk>", "DELETE"): api(204, 204, 403, 403, 404),
    (V + "service-accounts", "POST"): api(201, 201, 403, 403, 201),
    (V + "invitations", "GET"): api(200, 200, 403, 403, 200),
    (V + "invitations", "POST"): api(201, 201, 403, 403, 201),
    (V + "invitations/<int:pk>", "DELETE"): api(204, 204, 403, 403, 404),
    # anyone signed in may try; the secret in the body is no invitation's
    (V + "invitations/accept", "POST"): api(404, 404, 404, 404, 404),
    (V + "roles", "GET"): api(200, 200, 403, 403, 200),
    (V + "roles", "POST"): api(201, 201, 403, 403, 201),
    (V + "roles/<int:pk>", "PATCH"): api(200, 200, 403, 403, 404),
    (V + "roles/<int:pk>", "DELETE"): api(204, 204, 403, 403, 404),
    (V + "tokens", "GET"): api(200, 200, 200, 200, 200),
    (V + "tokens", "POST"): api(201, 201, 201, 201, 201),  # your own token
    (V + "tokens/<int:pk>", "DELETE"): api(204, 403, 403, 403, 404),  # the owner's token
    # anything else under /api/v1/ is a JSON 404, asked by anyone
    (CATCH_ALL, "GET"): everyone(404),
    (CATCH_ALL, "POST"): everyone(404),
}


# --- the endpoints that exist --------------------------------------------------------------

#: methods requested on dashboard, admin and other non-API pages (HTML forms use only these)
PAGE_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Route:
    route: str  # the full route, as the resolver spells it (CATCH_ALL for the catch-all)
    name: str | None  # namespaced URL name
    callback: Callable[..., Any]

    @property
    def surface(self) -> str:
        if self.route.startswith("api/v1/"):
            return "api"
        if self.route.startswith("admin/"):
            return "admin"
        if self.route.startswith(D):
            return "dashboard"
        return "site"

    def methods(self) -> tuple[str, ...]:
        """What to request: an API view's own methods (plus HEAD with GET, and OPTIONS,
        which DRF answers for every view); GET and POST for everything else."""
        cls = getattr(self.callback, "cls", None)
        if self.surface != "api" or cls is None:
            return PAGE_METHODS
        actions = getattr(self.callback, "actions", None)
        if actions is not None:  # a viewset: exactly the mapped methods
            declared = [m.upper() for m in actions if m != "head"]
        else:  # a plain APIView: the handlers it defines
            declared = [m.upper() for m in WRITE_OR_READ if hasattr(cls, m)]
        return (*declared, *(["HEAD"] if "GET" in declared else []), "OPTIONS")


WRITE_OR_READ = ("get", "post", "put", "patch", "delete")


def _walk(patterns: list[Any], prefix: str = "", ns: str = "") -> Iterator[Route]:
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
            yield from _walk(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            name = f"{ns}:{p.name}" if ns and p.name else p.name
            route = prefix + str(p.pattern)
            if prefix == V and p.callback is api_not_found:
                route = CATCH_ALL
            yield Route(route, name, p.callback)


def url_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def _shape(route: str) -> str:
    """A route with every parameter replaced by ``{}``, to match schema paths."""
    route = re.sub(r"<(?:\w+:)?\w+>", "{}", route)
    return re.sub(r"\{\w+\}", "{}", route.lstrip("/"))


def schema_operations() -> set[tuple[str, str]]:
    """(route, METHOD) of every operation in the public OpenAPI schema, mapped onto the
    resolver's route; an operation with no route is reported under its schema path."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    by_shape = {_shape(r.route): r.route for r in url_routes() if r.surface == "api"}
    out = set()
    for path, item in schema["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                out.add((by_shape.get(_shape(path), f"schema:{path}"), method.upper()))
    return out


# --- concrete URLs -----------------------------------------------------------------------

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>(?P<regex>[^)]*)\)")
_WORDS = re.compile(r"^[\w-]+(\|[\w-]+)*$")

#: for ``pk``: the object named by the URL segment before it
PK_OWNERS: dict[str, Callable[[Victim], Any]] = {
    "docks": lambda v: v.dock.pk,
    "operations": lambda v: v.operation.pk,
    "members": lambda v: v.extra_member.pk,
    "roles": lambda v: v.custom_role.pk,
    "tokens": lambda v: v.token.pk,
    "invitations": lambda v: _invitation(v).pk,
}


def _invitation(v: Victim) -> Any:
    """The victim organization's open invitation (made on first use)."""
    from stackdock.invitations import invitation_create
    from stackdock.models import Invitation

    found = Invitation.objects.filter(org=v.dock.org, email="invited@acme.test").first()
    if found is not None:
        return found
    owner = Actor.for_membership(v.members["owner"])
    return invitation_create(
        actor=owner, org=v.dock.org, email="invited@acme.test", role_name="viewer", link_for=str
    )[0]


def _literal(text: str) -> str:
    text = text.replace("^", "").replace("$", "").replace("\\", "")
    return text.replace(".*", "no-such-page")


def _admin_object(route: str) -> str:
    """An existing object of the model an admin URL names (or "1": staff-only anyway)."""
    parts = route.split("/")
    for model in django_admin.site._registry:
        if parts[1:3] == [model._meta.app_label, model._meta.model_name]:
            first = model._default_manager.order_by("pk").first()
            return str(first.pk) if first is not None else "1"
    return "1"


def _value(route: str, before: str, name: str, regex: str | None, v: Victim) -> list[str]:
    if regex is not None and _WORDS.match(regex):
        return regex.split("|")
    if name == "pk" and "table" not in route:
        segment = before.rstrip("/").split("/")[-1]
        if segment in PK_OWNERS:
            return [str(PK_OWNERS[segment](v))]
        return [str(v.rows[segment].pk)]
    fixed = {
        "dock_id": str(v.dock.pk),
        "provider": "sandbox",
        "resource_type": "server",
        "provision_id": str(v.operation.pk),
        "name": v.stack.name,
        "content_type_id": str(ContentType.objects.get_for_model(v.dock).pk),
        "id": str(v.members["owner"].user.pk),
        "url": "no-such-page/",
        "secret": "sdi_no-such-invitation",
        "uidb64": "MQ",
        "token": "no-such-token",
    }
    if name == "object_id":
        return [str(v.dock.pk)] if route.startswith("admin/r/") else [_admin_object(route)]
    if name in fixed:
        return [fixed[name]]
    raise AssertionError(f"no value for parameter {name!r} of {route!r}: teach _value about it")


#: parameters that name an object of the victim organization
OBJECT_PARAMS = frozenset({"pk", "dock_id", "name", "provision_id"})
#: by converter: a value that names no object at all
GHOSTS = {"uuid": "00000000-0000-4000-8000-000000000000", "int": "987654", "\\d+": "987654"}


def _ghost(m: re.Match[str]) -> str:
    return GHOSTS.get(m["conv"] or m["regex"] or "", "no-such-thing")


def object_params(route: str) -> set[str]:
    return {m["name"] or m["rname"] for m in _PARAM.finditer(route)} & OBJECT_PARAMS


def concrete_urls(route: str, v: Victim, *, ghost: bool = False) -> list[str]:
    """Every URL the route stands for, parameters filled with the victim's objects
    (one URL per table for the universal tables, per format for exports); with
    ``ghost``, object parameters name objects that do not exist."""
    if route == CATCH_ALL:
        return ["/" + V + "no-such-endpoint"]
    pieces: list[list[str]] = []
    names: list[str | None] = []
    pos = 0
    for m in _PARAM.finditer(route):
        pieces.append([_literal(route[pos : m.start()])])
        names.append(None)
        name = m["name"] or m["rname"]
        if ghost and name in OBJECT_PARAMS:
            pieces.append([_ghost(m)])
        elif name == "pk" and "table" in route:
            pieces.append(["{pk}"])
        else:
            pieces.append(_value(route, route[: m.start()], name, m["regex"], v))
        names.append(name)
        pos = m.end()
    pieces.append([_literal(route[pos:])])
    names.append(None)
    urls = []
    for combo in itertools.product(*pieces):
        url = "/" + "".join(combo)
        if "{pk}" in url:
            table = combo[names.index("table")]
            url = url.replace("{pk}", str(v.rows[table].pk))
        urls.append(url)
    return urls


# --- bodies for write cells ------------------------------------------------------------------

Body = Callable[[Victim], dict[str, Any]]
RENAMED_STACK = STACK_DOC.replace("name: web", "name: api", 1)

#: valid bodies, so a write cell reaches the auth decision and, where allowed, succeeds;
#: a write cell not listed here sends an empty body
BODIES: dict[tuple[str, str], Body] = {
    ("api/v1/docks", "POST"): lambda v: {"name": "new-dock", "provider": "sandbox"},
    ("api/v1/docks/<uuid:pk>", "PATCH"): lambda v: {"name": "renamed"},
    ("api/v1/docks/<uuid:pk>/rotate-credentials", "POST"): lambda v: {"credentials": {}},
    **{
        (f"api/v1/{t}/<int:pk>", "PATCH"): (lambda v: {"spec": {"size": "large"}})
        for t in TABLE_TYPES
    },
    ("api/v1/provision", "POST"): lambda v: {
        "dock": str(v.dock.pk),
        "resource_type": "server",
        "spec": {"name": "w1"},
    },
    ("api/v1/stacks", "POST"): lambda v: {"spec": RENAMED_STACK},
    ("api/v1/stacks/<str:name>/import", "POST"): lambda v: {
        "table": "servers",
        "id": v.rows["servers"].pk,
        "resource": "box",
    },
    ("api/v1/stacks/<str:name>", "PUT"): lambda v: {"spec": STACK_DOC},
    ("api/v1/members", "POST"): lambda v: {"email": "new@acme.test", "role": "viewer"},
    ("api/v1/members/<int:pk>", "PATCH"): lambda v: {"role": "developer"},
    ("api/v1/invitations", "POST"): lambda v: {"email": "new@acme.test", "role": "viewer"},
    ("api/v1/service-accounts", "POST"): lambda v: {"name": "ci", "role": "viewer"},
    ("api/v1/invitations/accept", "POST"): lambda v: {"token": "sdi_no-such-invitation"},
    ("api/v1/roles", "POST"): lambda v: {"name": "auditor", "permissions": {"audit": "read"}},
    ("api/v1/roles/<int:pk>", "PATCH"): lambda v: {"permissions": {"docks": "read"}},
    ("api/v1/tokens", "POST"): lambda v: {"name": "ci"},
    # the dashboard's forms
    ("dashboard/switch-org/", "POST"): lambda v: {"org": str(v.dock.org_id)},
    ("dashboard/docks/add/<slug:provider>/", "POST"): lambda v: {"name": "new-dock"},
    ("dashboard/docks/<uuid:dock_id>/", "POST"): lambda v: {
        "name": "renamed",
        "sync_interval_seconds": "300",
    },
    ("dashboard/docks/<uuid:dock_id>/rotate/", "POST"): lambda v: {"grace_seconds": "0"},
    ("dashboard/docks/<uuid:dock_id>/delete/", "POST"): lambda v: {
        "confirm_name": "sandbox",
        "orphan": "on",
    },
    ("dashboard/docks/<uuid:dock_id>/grants/", "POST"): lambda v: {
        "membership": str(v.extra_member.pk),
        "perm": "view_dock",
    },
    ("dashboard/provision/<slug:provider>/<slug:resource_type>/", "POST"): lambda v: {
        "dock": str(v.dock.pk),
        "idempotency_key": "matrix-provision",
        "name": "w1",
    },
    ("dashboard/stacks/new/", "POST"): lambda v: {"spec": RENAMED_STACK, "on_failure": "stop"},
    ("dashboard/stacks/<slug:name>/edit/", "POST"): lambda v: {
        "spec": STACK_DOC,
        "on_failure": "stop",
    },
    ("dashboard/stacks/<slug:name>/deploy/", "POST"): lambda v: {
        "idempotency_key": "matrix-deploy"
    },
    ("dashboard/stacks/<slug:name>/destroy/", "POST"): lambda v: {"confirm_name": "web"},
    ("dashboard/stacks/<slug:name>/delete/", "POST"): lambda v: {"confirm_name": "web"},
    ("dashboard/settings/members/", "POST"): lambda v: {
        "email": "new@acme.test",
        "role": "viewer",
    },
    ("dashboard/settings/members/<int:pk>/role/", "POST"): lambda v: {"role": "developer"},
    ("dashboard/settings/roles/", "POST"): lambda v: {
        "name": "auditor",
        **{f"perm_{a}": "none" for a in AREAS},
        "perm_audit": "read",
    },
    ("dashboard/settings/roles/<int:pk>/", "POST"): lambda v: {"action": "delete"},
    ("dashboard/settings/tokens/", "POST"): lambda v: {"name": "ci"},
    (T + "/(?P<pk>\\d+)/edit/$", "POST"): lambda v: {
        "idempotency_key": "matrix-edit",
        "name": "row-1",
        "size": "large",
    },
    (T + "/(?P<pk>\\d+)/destroy/$", "POST"): lambda v: {"confirm_name": "row-1"},
    (T + "/(?P<pk>\\d+)/import/$", "POST"): lambda v: {"mode": "alone"},
}


# --- principals ----------------------------------------------------------------------------


@dataclass
class Principals:
    """An API token secret and a session key per principal (None: nothing to present)."""

    secrets: dict[str, str | None]
    sessions: dict[str, str | None]

    def client(self, who: str, surface: str) -> Client:
        """A fresh client per request, so a cell (a logout, say) cannot change the next."""
        if surface == "api":
            client = APIClient()
            secret = self.secrets[who]
            if secret is not None:
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
            return client
        client = Client()
        key = self.sessions[who]
        if key is not None:
            client.cookies[settings.SESSION_COOKIE_NAME] = key
        return client


def principals(v: Victim) -> Principals:
    owner = v.members["owner"]
    secrets: dict[str, str | None] = {
        who: token_secret(m, name=f"matrix-{who}") for who, m in v.members.items()
    }
    secrets.update(anonymous=None, revoked=revoked_secret(owner), expired=expired_secret(owner))
    org = owner.org
    clients = {
        **{who: session_client(m) for who, m in v.members.items()},
        "revoked": revoked_session(org),
        "expired": expired_session(org),
    }
    sessions: dict[str, str | None] = {
        who: c.cookies[settings.SESSION_COOKIE_NAME].value for who, c in clients.items()
    }
    sessions["anonymous"] = None
    return Principals(secrets, sessions)


# --- one cell ------------------------------------------------------------------------------


def _send(client: Client, method: str, url: str, body: dict[str, Any] | None, api: bool) -> Any:
    if method in ("POST", "PUT", "PATCH"):
        if api:
            return client.generic(
                method, url, json.dumps(body or {}), content_type="application/json"
            )
        return client.generic(
            method, url, urlencode(body or {}), content_type="application/x-www-form-urlencoded"
        )
    return client.generic(method, url)


def _observed(response: Any) -> Expect:
    status = response.status_code
    if status == 302:
        location = response["Location"]
        if location.startswith(settings.LOGIN_URL):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
    return int(status)


@dataclass
class Answer:
    got: Expect
    body: bytes = b""
    error: str = ""


def request_cell(
    client: Client, method: str, url: str, body: dict[str, Any] | None, *, api: bool
) -> Answer:
    """Send one request in a savepoint that is rolled back; return what came back."""
    with transaction.atomic():
        try:
            response = _send(client, method, url, body, api)
            content = (
                b"".join(response.streaming_content)
                if getattr(response, "streaming", False)
                else response.content
            )
        except Exception as exc:  # the test client re-raises what a view raised: a 500
            transaction.set_rollback(True)
            return Answer(500, error=f"{type(exc).__name__}: {exc}")
        transaction.set_rollback(True)
    return Answer(_observed(response), content)


_VOLATILE = re.compile(rb'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]*')


def _same_answer(a: Answer, b: Answer) -> bool:
    """Whether two answers tell the caller the same thing (CSRF tokens aside)."""
    return a.got == b.got and _VOLATILE.sub(rb"\1", a.body) == _VOLATILE.sub(rb"\1", b.body)


# --- the walk ------------------------------------------------------------------------------


def expected(route: Route, method: str) -> dict[str, Expect]:
    if route.surface == "admin" and route.route not in ADMIN_PUBLIC:
        return STAFF_ONLY
    if route.surface == "api" and method == "OPTIONS":
        return METADATA
    if route.surface == "api" and method == "HEAD":
        method = "GET"
    return EXPECT[(route.route, method)]


def walk_matrix(v: Victim, surfaces: set[str]) -> tuple[int, list[str]]:
    """Request every cell of the given surfaces; return (requests sent, mismatches)."""
    who_is = principals(v)
    sent, problems = 0, []
    for route in url_routes():
        if route.surface not in surfaces:
            continue
        api = route.surface == "api"
        for method in route.methods():
            want = expected(route, method)
            make_body = BODIES.get((route.route, method))
            body = make_body(v) if make_body is not None else None
            ghosts = concrete_urls(route.route, v, ghost=True)
            for url, ghost in zip(concrete_urls(route.route, v), ghosts, strict=True):
                for who in PRINCIPALS:
                    client = who_is.client(who, route.surface)
                    answer = request_cell(client, method, url, body, api=api)
                    sent += 1
                    if answer.got != want[who]:
                        problems.append(
                            f"{method} {url} as {who}: expected {want[who]}, got {answer.got}"
                            f"{' ' + answer.error if answer.error else ''}"
                        )
                    if who == "outsider" and object_params(route.route):
                        # another org's object must look exactly like one that does not exist
                        client = who_is.client(who, route.surface)
                        twin = request_cell(client, method, ghost, body, api=api)
                        sent += 1
                        if not _same_answer(answer, twin):
                            problems.append(
                                f"{method} {url} as outsider: answered {answer.got} but "
                                f"{twin.got} for a missing object (or a different body)"
                            )
    return sent, problems


# --- the tests -----------------------------------------------------------------------------


def test_every_endpoint_has_an_entry_and_every_entry_an_endpoint():
    """A URL pattern or schema operation missing from EXPECT fails here: add its row."""
    routes = url_routes()
    existing = {
        (r.route, m)
        for r in routes
        if r.surface != "admin" or r.route in ADMIN_PUBLIC
        for m in r.methods()
        if not (r.surface == "api" and m in ("HEAD", "OPTIONS"))
    }
    operations = schema_operations()
    assert sorted(operations - existing) == [], "schema operations the URLconf does not serve"
    assert sorted(existing - set(EXPECT)) == [], "endpoints with no entry in EXPECT"
    assert sorted(set(EXPECT) - existing) == [], "entries in EXPECT for endpoints that are gone"
    # and the schema documents every API endpoint (the JSON 404 for unknown URLs aside)
    api = {(r, m) for r, m in existing if r.startswith(V) and r != CATCH_ALL}
    assert sorted(api - operations) == [], "API endpoints missing from the OpenAPI schema"


def test_the_table_keeps_the_isolation_rules():
    """Rules no entry may bend: strangers get 401 (API) or the login page (dashboard); an
    outsider gets 404 for every object of the victim (405 only where nobody may use the
    method at all)."""
    problems = []
    for (route, method), row in EXPECT.items():
        if route.startswith(V) and route != CATCH_ALL:
            strangers = {401}
        elif route.startswith(D):
            strangers = {LOGIN}
        else:
            continue
        for who in ("anonymous", "revoked", "expired"):
            if row[who] not in strangers:
                problems.append(f"{method} {route}: {who} gets {row[who]}")
        if object_params(route):
            nobody = all(row[m] == 405 for m in ROLES)
            if row["outsider"] != 404 and not nobody:
                problems.append(f"{method} {route}: the outsider gets {row['outsider']}")
    assert problems == []


@pytest.fixture
def roomy_throttles(settings):
    """The matrix sends thousands of requests from one address: no throttling here."""
    rates = {"token": "1000000/min", "ip": "1000000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "surfaces",
    [{"api"}, {"dashboard"}, {"site", "admin"}],
    ids=["api", "dashboard", "admin-and-site"],
)
def test_every_principal_gets_the_expected_answer_everywhere(surfaces, victim, roomy_throttles):
    sent, problems = walk_matrix(victim, surfaces)
    assert sent > 200  # the walk really walked
    assert problems == [], "\n".join(problems)


@pytest.mark.django_db
def test_api_token_does_not_open_the_dashboard(victim):
    """A bearer token is for the API: on a dashboard page it is no login."""
    secret = token_secret(victim.members["owner"], name="not-for-pages")
    pages = [r for r in url_routes() if r.surface == "dashboard"]
    for route in pages:
        for url in concrete_urls(route.route, victim):
            client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
            answer = request_cell(client, "GET", url, None, api=False)
            assert answer.got == LOGIN, f"GET {url} with a token: {answer.got}"


@pytest.mark.django_db
def test_outsider_cannot_switch_into_another_org(victim):
    """Posting the victim's organization id to the switcher leaves the outsider at home."""
    client = session_client(victim.members["outsider"])
    response = client.post("/dashboard/switch-org/", {"org": str(victim.dock.org_id)})
    assert response.status_code == 302
    page = client.get("/dashboard/docks/")
    assert page.status_code == 200
    assert str(victim.dock.pk) not in page.content.decode()
    assert client.get(f"/dashboard/docks/{victim.dock.pk}/").status_code == 404


def test_security_doc_names_only_tests_that_exist():
    """docs/architecture/SECURITY.md backs each claim with tests by name (``path::test``,
    or ``::test`` for the last path named): each of them must exist, and each row of
    its threat / control / test table must name at least one."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "architecture" / "SECURITY.md").read_text()
    missing, last = [], None
    for m in re.finditer(r"`([\w/]+\.py)?(::\w+)?`", text):
        if m[1]:
            last = root / "tests" / m[1]
        if m[2]:
            assert last is not None, m[0]
            if not last.exists() or not re.search(rf"def {m[2][2:]}\b", last.read_text()):
                missing.append(m[0])
    assert missing == []
    table = text[text.index("| threat | control | test |") : text.index("## Reviewer checklist")]
    rows = [r for r in table.splitlines()[2:] if r.strip()]
    assert len(rows) >= 7
    for row in rows:
        assert re.search(r"`[\w/]+\.py::\w+`", row.split("|")[3]), row
