"""Every endpoint as every kind of caller, checking only the status (NetBox ViewTestCases).

Members of ``acme``: owner, admin, developer, viewer; ``outsider`` owns another
organization (``globex``): acme's objects are a 404 to them, while collection
endpoints act in their own organization. Anonymous callers and revoked or
expired tokens get a 401 everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from tests.api.conftest import STACK_DOC, client_with, expired_secret, revoked_secret

MEMBERS = ("owner", "admin", "developer", "viewer", "outsider")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable[[Any], str]
    expect: dict[str, int]
    body: Callable[[Any], Any] | None = None

    def call(self, client: Any, world: Any) -> Any:
        url = "/api/v1/" + self.path(world)
        data = self.body(world) if self.body is not None else None
        return getattr(client, self.method.lower())(url, data, format="json")


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(MEMBERS, status)


def acme(owner: int, developer: int, viewer: int, outsider: int = 404) -> dict[str, int]:
    """Owner and admin share a status; the outsider defaults to 404 (acme's objects)."""
    return {
        "owner": owner,
        "admin": owner,
        "developer": developer,
        "viewer": viewer,
        "outsider": outsider,
    }


ADMIN_WRITE = {"developer": 403, "viewer": 403}
TABLES = ("servers", "web-services", "domains", "databases", "buckets")

CASES = [
    Case("whoami", "GET", lambda w: "whoami", everyone(200)),
    Case("providers", "GET", lambda w: "providers", everyone(200)),
    # docks
    Case("docks-list", "GET", lambda w: "docks", everyone(200)),
    Case(
        "docks-create",
        "POST",
        lambda w: "docks",
        acme(201, 403, 403, outsider=201),
        lambda w: {"name": "new-dock", "provider": "sandbox"},
    ),
    Case("docks-detail", "GET", lambda w: f"docks/{w.dock.pk}", acme(200, 403, 200)),
    Case(
        "docks-update",
        "PATCH",
        lambda w: f"docks/{w.dock.pk}",
        acme(200, 403, 403),
        lambda w: {"name": "renamed"},
    ),
    Case("docks-delete", "DELETE", lambda w: f"docks/{w.spare_dock.pk}", acme(204, 403, 403)),
    Case("docks-sync", "POST", lambda w: f"docks/{w.dock.pk}/sync", acme(202, 403, 403)),
    Case(
        "docks-rotate",
        "POST",
        lambda w: f"docks/{w.dock.pk}/rotate-credentials",
        acme(200, 403, 403),
        lambda w: {"credentials": {}},
    ),
    # universal tables
    *[Case(f"{t}-list", "GET", lambda w, t=t: t, everyone(200)) for t in TABLES],
    *[
        Case(f"{t}-detail", "GET", lambda w, t=t: f"{t}/{w.rows[t].pk}", acme(200, 200, 200))
        for t in TABLES
    ],
    Case(
        "buckets-update",
        "PATCH",
        lambda w: f"buckets/{w.bucket.pk}",
        acme(202, 403, 403),
        lambda w: {"spec": {"size": "large"}},
    ),
    Case("buckets-delete", "DELETE", lambda w: f"buckets/{w.bucket.pk}", acme(202, 403, 403)),
    # allowed, but the bucket is managed already and the other tables' discovered rows are
    # gone at the (empty) sandbox: tests/api/test_imports.py imports one that is there
    Case("buckets-import", "POST", lambda w: f"buckets/{w.bucket.pk}/import", acme(409, 403, 403)),
    *[
        Case(
            f"{t}-import",
            "POST",
            lambda w, t=t: f"{t}/{w.rows[t].pk}/import",
            acme(409, 403, 403),
        )
        for t in TABLES
        if t != "buckets"
    ],
    # provisioning
    Case(
        "provision",
        "POST",
        lambda w: "provision",
        acme(202, 403, 403),
        lambda w: {"dock": str(w.dock.pk), "resource_type": "server", "spec": {"name": "w1"}},
    ),
    Case("operations-list", "GET", lambda w: "operations", everyone(200)),
    Case("operations-detail", "GET", lambda w: f"operations/{w.operation.pk}", acme(200, 200, 200)),
    Case(
        "operations-cancel",
        "POST",
        lambda w: f"operations/{w.operation.pk}/cancel",
        acme(200, 403, 403),
    ),
    # stacks
    Case("stacks-list", "GET", lambda w: "stacks", everyone(200)),
    Case(
        "stacks-create",
        "POST",
        lambda w: "stacks",
        acme(201, 403, 403, outsider=400),
        lambda w: {"spec": STACK_DOC.replace("name: web", "name: api", 1)},
    ),
    Case("stacks-detail", "GET", lambda w: "stacks/web", acme(200, 200, 200)),
    Case(
        "stacks-replace",
        "PUT",
        lambda w: "stacks/web",
        acme(200, 403, 403),
        lambda w: {"spec": STACK_DOC},
    ),
    Case("stacks-delete", "DELETE", lambda w: "stacks/web", acme(204, 403, 403)),
    Case("stacks-plan", "POST", lambda w: "stacks/web/plan", acme(200, 200, 200)),
    Case("stacks-deploy", "POST", lambda w: "stacks/web/deploy", acme(202, 403, 403)),
    Case("stacks-destroy", "POST", lambda w: "stacks/web/destroy", acme(202, 403, 403)),
    Case("stacks-refresh", "POST", lambda w: "stacks/web/refresh", acme(202, 403, 403)),
    Case("stacks-unlock", "POST", lambda w: "stacks/web/unlock", acme(200, 403, 403)),
    Case("stacks-versions", "GET", lambda w: "stacks/web/versions", acme(200, 200, 200)),
    Case(
        "stacks-import",
        "POST",
        lambda w: "stacks/web/import",
        acme(409, 403, 403),
        lambda w: {"table": "buckets", "id": w.bucket.pk, "resource": "assets"},
    ),
    # audit
    Case("audit-list", "GET", lambda w: "audit", acme(200, 403, 403, outsider=200)),
    Case(
        "audit-export",
        "GET",
        lambda w: "audit/export?format=csv",
        acme(200, 403, 403, outsider=200),
    ),
    # members, roles, tokens
    Case("members-list", "GET", lambda w: "members", acme(200, 403, 403, outsider=200)),
    Case(
        "members-create",
        "POST",
        lambda w: "members",
        acme(201, 403, 403, outsider=201),
        lambda w: {"email": "new@acme.test", "role": "viewer"},
    ),
    Case(
        "members-update",
        "PATCH",
        lambda w: f"members/{w.extra_member.pk}",
        acme(200, 403, 403),
        lambda w: {"role": "developer"},
    ),
    Case("members-delete", "DELETE", lambda w: f"members/{w.extra_member.pk}", acme(204, 403, 403)),
    Case(
        "service-accounts-create",
        "POST",
        lambda w: "service-accounts",
        acme(201, 403, 403, outsider=201),
        lambda w: {"name": "ci", "role": "viewer"},
    ),
    Case("invitations-list", "GET", lambda w: "invitations", acme(200, 403, 403, outsider=200)),
    Case(
        "invitations-create",
        "POST",
        lambda w: "invitations",
        acme(201, 403, 403, outsider=201),
        lambda w: {"email": "new@acme.test", "role": "viewer"},
    ),
    Case(
        "invitations-withdraw",
        "DELETE",
        lambda w: f"invitations/{_invitation(w).pk}",
        acme(204, 403, 403),
    ),
    # nobody here was invited: the same 404 for everyone signed in
    Case(
        "invitations-accept",
        "POST",
        lambda w: "invitations/accept",
        everyone(404),
        lambda w: {"token": "sdi_no-such-invitation"},
    ),
    Case("roles-list", "GET", lambda w: "roles", acme(200, 403, 403, outsider=200)),
    Case(
        "roles-create",
        "POST",
        lambda w: "roles",
        acme(201, 403, 403, outsider=201),
        lambda w: {"name": "auditor", "permissions": {"audit": "read"}},
    ),
    Case(
        "roles-update",
        "PATCH",
        lambda w: f"roles/{w.custom_role.pk}",
        acme(200, 403, 403),
        lambda w: {"permissions": {"resources": "read", "docks": "read"}},
    ),
    Case("roles-delete", "DELETE", lambda w: f"roles/{w.custom_role.pk}", acme(204, 403, 403)),
    Case("tokens-list", "GET", lambda w: "tokens", everyone(200)),
    Case("tokens-create", "POST", lambda w: "tokens", everyone(201), lambda w: {"name": "ci"}),
    # the owner's token: only an owner acts on an owner (tests/security/test_authority_matrix.py)
    Case(
        "tokens-revoke",
        "DELETE",
        lambda w: f"tokens/{w.owner_token.pk}",
        {**acme(204, 403, 403), "admin": 403},
    ),
]


def _invitation(w: Any) -> Any:
    """acme's open invitation (made on first use; a fake world has an id only)."""
    if isinstance(w, SimpleNamespace):
        return w.invitation
    from stackdock.invitations import invitation_create
    from stackdock.models import Invitation
    from stackdock.permissions import Actor

    owner = w.members["owner"]
    return (
        Invitation.objects.filter(org=owner.org).first()
        or (
            invitation_create(
                actor=Actor.for_membership(owner),
                org=owner.org,
                email="invited@acme.test",
                role_name="viewer",
                link_for=str,
            )[0]
        )
    )


def test_the_matrix_covers_every_route():
    """A new endpoint must be added to the matrix: compare against the URLconf."""
    from stackdock.api.urls import urlpatterns

    routes = {str(p.pattern) for p in urlpatterns if p.name}
    fake = fake_world()
    covered = set()
    for case in CASES:
        path = case.path(fake).split("?")[0]
        for route in routes:
            parts, want = route.split("/"), path.split("/")
            if len(parts) == len(want) and all(
                a == b or a.startswith("<") for a, b in zip(parts, want, strict=True)
            ):
                covered.add(route)
    assert routes - covered == set()


@pytest.mark.parametrize("who", MEMBERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_member_gets_the_expected_status(case, who, world, client_for):
    client = client_for(world.members[who])
    response = case.call(client, world)
    assert response.status_code == case.expect[who], getattr(response, "data", response)
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def fake_world() -> SimpleNamespace:
    """Ids for URLs only: an unauthenticated request never gets as far as a lookup."""
    obj = SimpleNamespace(pk=1)
    return SimpleNamespace(
        rows=dict.fromkeys(TABLES, obj),
        dock=SimpleNamespace(pk=uuid.uuid4()),
        spare_dock=SimpleNamespace(pk=uuid.uuid4()),
        bucket=obj,
        server=obj,
        operation=obj,
        extra_member=obj,
        custom_role=obj,
        owner_token=obj,
        invitation=obj,
    )


@pytest.mark.parametrize("who", ["anonymous", "revoked", "expired"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_unauthenticated_caller_gets_401(case, who, request):
    if who == "anonymous":
        client = client_with(None)
    else:
        owner = request.getfixturevalue("owner")
        client = client_with((revoked_secret if who == "revoked" else expired_secret)(owner))
    response = case.call(client, fake_world())
    assert response.status_code == 401, getattr(response, "data", response)
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")
