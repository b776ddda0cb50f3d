"""The authority matrix: nobody acts beyond their own rank (issue 15, rule 1).

Every endpoint that acts on a member, a role, a token or a dock grant - found in
the URL configuration and the OpenAPI schema, API and dashboard alike - is
requested as every actor role (viewer, developer, a custom role with only
``members: full``, one with only ``docks: full``, admin, owner) against every
target (a member of each of those roles, or the actor itself) and every new
role, permission map or grant the act would give. Each cell must be allowed
exactly when ``rule()`` below says so:

- the act's areas at ``full`` (``members``; a grant also ``docks``), except for
  your own tokens;
- accepting an invitation: only as the invited address (``Act.rule``);
- the actor ranks at or above the target (what it holds now) and at or above
  what the act gives: an owner ranks above everyone; nobody else acts on an
  owner or makes one; otherwise rank is permission inclusion.

``rule()`` is written from the permission maps below, not from the code it
checks. An endpoint of that kind without an entry in ``ACTS`` fails
``test_every_authority_endpoint_has_an_entry``, so a new one cannot slip in
unchecked. Each cell runs in a savepoint that is rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from conftest import actor_of
from stackdock.invitations import invitation_create
from stackdock.models import AREAS, ApiToken, Invitation, Membership, Role
from stackdock.permissions import Actor
from stackdock.services import token_create
from tests.factories import DockFactory, MembershipFactory, OrganizationFactory, UserFactory
from tests.security.test_isolation_matrix import schema_operations, url_routes

N, R, F = "none", "read", "full"
LEVEL = {N: 0, R: 1, F: 2}


def _perms(**levels: str) -> dict[str, str]:
    return {area: levels.get(area, N) for area in AREAS}


#: every role of the matrix and what it holds (written here, not read from the code)
PERMS: dict[str, dict[str, str]] = {
    "viewer": _perms(resources=R, docks=R, provisioning=R),
    "developer": _perms(resources=R, provisioning=R),
    "members_full": _perms(members=F),
    "docks_full": _perms(docks=F),
    "admin": dict.fromkeys(AREAS, F),
    "owner": dict.fromkeys(AREAS, F),
}
ROLES = tuple(PERMS)
#: the role names in the organization (the two custom ones are created by the world)
ROLE_NAME = {"members_full": "members-full", "docks_full": "docks-full"}
#: what a dock grant holds
GRANT_PERMS = {
    "view_dock": _perms(resources=R, docks=R, provisioning=R),
    "provision_dock": _perms(resources=R, docks=R, provisioning=F),
}
SELF = "self"


def role_name(role: str) -> str:
    return ROLE_NAME.get(role, role)


def ranks(actor: str, held: str | dict[str, str] | None) -> bool:
    """Whether ``actor`` ranks at or above ``held`` (a role of the matrix or a permission map)."""
    if held is None or actor == "owner":
        return True
    if held == "owner":
        return False
    perms = PERMS[held] if isinstance(held, str) else held
    return all(LEVEL[perms[a]] <= LEVEL[PERMS[actor][a]] for a in AREAS)


def rule(actor: str, needs: tuple[str, ...], target: str | None, new: Any) -> bool:
    if any(PERMS[actor][area] != F for area in needs):
        return False
    return ranks(actor, target) and ranks(actor, new)


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    actors: dict[str, Membership]
    targets: dict[str, Membership]
    role_copies: dict[str, Role]  # a custom role holding each non-owner role's permissions
    tokens: dict[int, ApiToken]  # a spare token of every member, by membership id
    secrets: dict[str, str]  # an API token of every actor
    sessions: dict[str, str]  # a session key of every actor
    dock: Any
    invitations: dict[str, Invitation]  # an open invitation to acme for each role
    links: dict[str, str]  # per actor, a link to join globex; "other": someone else's

    def target(self, actor: str, target: str) -> Membership:
        return self.actors[actor] if target == SELF else self.targets[target]

    def client(self, actor: str, api: bool) -> Client:
        if api:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.secrets[actor]}")
            return client
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[actor]
        return client


def build_world(org: Any) -> World:
    for role, name in ROLE_NAME.items():
        Role.objects.create(org=org, name=name, permissions=PERMS[role])

    def member(email: str, role: str) -> Membership:
        return MembershipFactory(
            org=org, role_name=role_name(role), user=UserFactory(username=email)
        )

    actors = {role: member(f"a-{role}@acme.test", role) for role in ROLES}
    targets = {role: member(f"t-{role}@acme.test", role) for role in ROLES}
    copies = {
        role: Role.objects.create(org=org, name=f"copy-{role}", permissions=PERMS[role])
        for role in ROLES
        if role != "owner"
    }
    system = Actor.system("tests", org)
    tokens = {
        m.pk: token_create(actor=system, membership=m, name="spare")[0]
        for m in (*actors.values(), *targets.values())
    }
    secrets = {
        role: token_create(actor=system, membership=m, name="matrix")[1]
        for role, m in actors.items()
    }
    sessions = {}
    for role, m in actors.items():
        client = Client()
        client.force_login(m.user)
        sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    dock = DockFactory(org=org, name="sandbox", provider="sandbox")
    owner = actor_of(actors["owner"])
    invites = {
        role: invitation_create(
            actor=owner,
            org=org,
            email=f"i-{role}@acme.test",
            role_name=role_name(role),
            link_for=str,
        )[0]
        for role in ROLES
    }
    globex = OrganizationFactory(slug="globex")
    boss = actor_of(MembershipFactory(org=globex, role_name="owner"))
    links = {
        who: invitation_create(
            actor=boss, org=globex, email=email, role_name="viewer", link_for=str
        )[1]
        for who, email in [
            *((role, m.user.username) for role, m in actors.items()),
            ("other", "stranger@acme.test"),
        ]
    }
    return World(actors, targets, copies, tokens, secrets, sessions, dock, invites, links)


# --- the acts --------------------------------------------------------------------------------

#: (world, actor, target, new) -> (url, body)
Build = Callable[[World, str, Any, Any], tuple[str, dict[str, Any] | None]]


@dataclass(frozen=True)
class Act:
    """One way an endpoint acts. ``targets``/``news`` are the values the matrix tries
    (``(None,)``: the act has no target / gives nothing); ``needs`` the areas it needs
    at full; ``own_free``: acting on yourself needs none of them (your own tokens)."""

    name: str
    build: Build
    targets: tuple[Any, ...] = (None,)
    news: tuple[Any, ...] = (None,)
    needs: tuple[str, ...] = ("members",)
    own_free: bool = False
    new_is: Callable[[Any, Any], Any] = lambda target, new: new
    #: instead of the rank rule (accepting an invitation is the invitee's own act)
    rule: Callable[[str, Any, Any], bool] | None = None

    def expected(self, actor: str, target: Any, new: Any) -> bool:
        if self.rule is not None:
            return self.rule(actor, target, new)
        if self.own_free and target == SELF:
            return rule(actor, (), None, self.new_is(actor, new))
        held = actor if target == SELF else target
        return rule(actor, self.needs, held, self.new_is(held, new))


MEMBER_TARGETS = (*ROLES, SELF)
ROLE_TARGETS = tuple(r for r in ROLES if r != "owner")  # the owner role is built in and fixed


def _form_perms(perms: dict[str, str], prefix: str = "") -> dict[str, str]:
    return {f"{prefix}perm_{area}": level for area, level in perms.items()}


def _grant(perm: str, revoke: bool = False) -> Build:
    def build(w: World, actor: str, target: Any, new: Any) -> tuple[str, dict[str, Any]]:
        body = {"membership": str(w.target(actor, target).pk), "perm": perm}
        if revoke:
            body["action"] = "revoke"
        return f"/dashboard/docks/{w.dock.pk}/grants/", body

    return build


def _member_pk(w: World, actor: str, target: Any) -> int:
    return w.target(actor, target).pk


def _token_pk(w: World, actor: str, target: Any) -> int:
    return w.tokens[w.target(actor, target).pk].pk


API = "api/v1/"
D = "dashboard/"
ACCOUNTS = "accounts/"

#: (route as the resolver spells it, method) -> the acts it performs
ACTS: dict[tuple[str, str], tuple[Act, ...]] = {
    # --- API ----------------------------------------------------------------------------
    (API + "members", "POST"): (
        Act(
            "add a member",
            lambda w, a, t, n: (
                "/api/v1/members",
                {"email": "new@acme.test", "role": role_name(n)},
            ),
            news=ROLES,
        ),
    ),
    (API + "members/<int:pk>", "PATCH"): (
        Act(
            "change a member's role",
            lambda w, a, t, n: (f"/api/v1/members/{_member_pk(w, a, t)}", {"role": role_name(n)}),
            targets=MEMBER_TARGETS,
            news=ROLES,
        ),
    ),
    (API + "members/<int:pk>", "DELETE"): (
        Act(
            "remove a member",
            lambda w, a, t, n: (f"/api/v1/members/{_member_pk(w, a, t)}", None),
            targets=MEMBER_TARGETS,
        ),
    ),
    (API + "service-accounts", "POST"): (
        Act(
            "create a service account",
            lambda w, a, t, n: ("/api/v1/service-accounts", {"name": "ci", "role": role_name(n)}),
            news=ROLES,
        ),
    ),
    (API + "invitations", "POST"): (
        Act(
            "invite",
            lambda w, a, t, n: (
                "/api/v1/invitations",
                {"email": "new@acme.test", "role": role_name(n)},
            ),
            news=ROLES,
        ),
    ),
    (API + "invitations/<int:pk>", "DELETE"): (
        Act(
            "withdraw an invitation",
            lambda w, a, t, n: (f"/api/v1/invitations/{w.invitations[t].pk}", None),
            targets=ROLES,
        ),
    ),
    (API + "invitations/accept", "POST"): (
        Act(
            "accept an invitation",
            lambda w, a, t, n: (
                "/api/v1/invitations/accept",
                {"token": w.links[a if t == SELF else t]},
            ),
            targets=(SELF, "other"),
            rule=lambda actor, target, new: target == SELF,
        ),
    ),
    (ACCOUNTS + "invitation/<str:secret>/", "POST"): (
        Act(
            "accept an invitation",
            lambda w, a, t, n: (
                f"/accounts/invitation/{w.links[a if t == SELF else t]}/",
                {"action": "accept"},
            ),
            targets=(SELF, "other"),
            rule=lambda actor, target, new: target == SELF,
        ),
        # anyone holding the link may have the address mailed a set-password link
        Act(
            "ask for a set-password mail",
            lambda w, a, t, n: (
                f"/accounts/invitation/{w.links[a if t == SELF else t]}/",
                {"action": "send_link"},
            ),
            targets=(SELF, "other"),
            rule=lambda actor, target, new: True,
        ),
    ),
    (D + "settings/invitations/<int:pk>/withdraw/", "POST"): (
        Act(
            "withdraw an invitation",
            lambda w, a, t, n: (
                f"/dashboard/settings/invitations/{w.invitations[t].pk}/withdraw/",
                {},
            ),
            targets=ROLES,
        ),
    ),
    (API + "roles", "POST"): (
        Act(
            "create a role",
            lambda w, a, t, n: ("/api/v1/roles", {"name": "new-role", "permissions": PERMS[n]}),
            news=ROLE_TARGETS,
            new_is=lambda target, new: PERMS[new],
        ),
    ),
    (API + "roles/<int:pk>", "PATCH"): (
        Act(
            "change a role",
            lambda w, a, t, n: (f"/api/v1/roles/{w.role_copies[t].pk}", {"permissions": PERMS[n]}),
            targets=ROLE_TARGETS,
            news=ROLE_TARGETS,
            new_is=lambda target, new: PERMS[new],
        ),
    ),
    (API + "roles/<int:pk>", "DELETE"): (
        Act(
            "delete a role",
            lambda w, a, t, n: (f"/api/v1/roles/{w.role_copies[t].pk}", None),
            targets=ROLE_TARGETS,
        ),
    ),
    (API + "tokens", "POST"): (
        Act(
            "create a token for a member",
            lambda w, a, t, n: ("/api/v1/tokens", {"name": "x", "member": _member_pk(w, a, t)}),
            targets=MEMBER_TARGETS,
            own_free=True,
            new_is=lambda target, new: target,  # the token holds what its member holds
        ),
    ),
    (API + "tokens/<int:pk>", "DELETE"): (
        Act(
            "revoke a member's token",
            lambda w, a, t, n: (f"/api/v1/tokens/{_token_pk(w, a, t)}", None),
            targets=MEMBER_TARGETS,
            own_free=True,
        ),
    ),
    # --- dashboard ------------------------------------------------------------------------
    (D + "settings/members/", "POST"): (
        Act(
            "add a member",
            lambda w, a, t, n: (
                "/dashboard/settings/members/",
                {"email": "new@acme.test", "role": role_name(n)},
            ),
            news=ROLES,
        ),
    ),
    (D + "settings/members/<int:pk>/role/", "POST"): (
        Act(
            "change a member's role",
            lambda w, a, t, n: (
                f"/dashboard/settings/members/{_member_pk(w, a, t)}/role/",
                {"role": role_name(n)},
            ),
            targets=MEMBER_TARGETS,
            news=ROLES,
        ),
    ),
    (D + "settings/members/<int:pk>/remove/", "POST"): (
        Act(
            "remove a member",
            lambda w, a, t, n: (f"/dashboard/settings/members/{_member_pk(w, a, t)}/remove/", {}),
            targets=MEMBER_TARGETS,
        ),
    ),
    (D + "settings/roles/", "POST"): (
        Act(
            "create a role",
            lambda w, a, t, n: (
                "/dashboard/settings/roles/",
                {"name": "new-role", **_form_perms(PERMS[n])},
            ),
            news=ROLE_TARGETS,
            new_is=lambda target, new: PERMS[new],
        ),
    ),
    (D + "settings/roles/<int:pk>/", "POST"): (
        Act(
            "change a role",
            lambda w, a, t, n: (
                f"/dashboard/settings/roles/{w.role_copies[t].pk}/",
                _form_perms(PERMS[n], prefix=f"role{w.role_copies[t].pk}-"),
            ),
            targets=ROLE_TARGETS,
            news=ROLE_TARGETS,
            new_is=lambda target, new: PERMS[new],
        ),
        Act(
            "delete a role",
            lambda w, a, t, n: (
                f"/dashboard/settings/roles/{w.role_copies[t].pk}/",
                {"action": "delete"},
            ),
            targets=ROLE_TARGETS,
        ),
    ),
    # the dashboard makes tokens for yourself only
    (D + "settings/tokens/", "POST"): (
        Act(
            "create your own token",
            lambda w, a, t, n: ("/dashboard/settings/tokens/", {"name": "x"}),
            targets=(SELF,),
            own_free=True,
            new_is=lambda target, new: target,
        ),
    ),
    (D + "settings/tokens/<int:pk>/revoke/", "POST"): (
        Act(
            "revoke a member's token",
            lambda w, a, t, n: (f"/dashboard/settings/tokens/{_token_pk(w, a, t)}/revoke/", {}),
            targets=MEMBER_TARGETS,
            own_free=True,
        ),
    ),
    (D + "docks/<uuid:dock_id>/grants/", "POST"): tuple(
        Act(
            f"{'take back' if revoke else 'give'} {perm}",
            _grant(perm, revoke),
            targets=MEMBER_TARGETS,
            news=(perm,),
            needs=("members", "docks"),
            new_is=lambda target, new: GRANT_PERMS[new],
        )
        for perm in GRANT_PERMS
        for revoke in (False, True)
    ),
}


# --- which endpoints act on authority ----------------------------------------------------

#: a route acts on a member, role, token or grant when its path names one, or when its
#: view lives where such views live
AUTHORITY_WORDS = re.compile(r"member|role|token|grant|invit|whoami")
AUTHORITY_MODULES = frozenset(
    {"stackdock.api.views", "frontend.views.org_settings", "frontend.views.invitations"}
)


def _module(callback: Any) -> str:
    return str(getattr(getattr(callback, "cls", callback), "__module__", ""))


WRITES = ("POST", "PUT", "PATCH", "DELETE")
#: no act on a member, role, token or grant despite the name: whoami reads; the password
#: reset link is Django's own flow, for whoever holds the mailbox
#: (stackdock/test_invitations.py)
NOT_ACTS = {(API + "whoami", "GET"), (ACCOUNTS + "reset/<uidb64>/<token>/", "POST")}


def authority_endpoints() -> set[tuple[str, str]]:
    """Every (route, write method) of the URLconf and the schema whose path names a
    member, role, token, grant or invitation."""
    found = set()
    for route in url_routes():
        if route.surface == "admin":
            continue  # staff only (the isolation matrix)
        if not (
            AUTHORITY_WORDS.search(route.route) or _module(route.callback) in AUTHORITY_MODULES
        ):
            continue
        methods = route.methods() if route.surface == "api" else ("POST",)
        found |= {(route.route, m) for m in methods if m in WRITES}
    by_route = {r.route: r for r in url_routes()}
    for route, method in schema_operations():
        view = by_route.get(route)
        acts = AUTHORITY_WORDS.search(route) or (
            view is not None and _module(view.callback) in AUTHORITY_MODULES
        )
        if acts and method in WRITES:
            found.add((route, method))
    return found - NOT_ACTS


def test_every_authority_endpoint_has_an_entry():
    """A new endpoint acting on a member, role, token or grant must join ACTS."""
    found = authority_endpoints()
    assert found - set(ACTS) == set(), "endpoints without an entry in ACTS"
    assert set(ACTS) - found == set(), "entries in ACTS whose endpoint is gone"


def test_the_rule_says_what_the_issue_says():
    """The oracle itself, on the examples of issue 15."""
    assert not ranks("members_full", "owner")  # no token for the owner's membership
    assert not ranks("members_full", "admin")  # no demoting an admin
    assert not ranks("admin", "owner")  # an admin cannot make itself owner
    assert ranks("admin", "admin") and ranks("owner", "owner")
    assert not ranks("members_full", "viewer") and ranks("admin", "docks_full")


# --- the walk ----------------------------------------------------------------------------


def _send(client: Client, url: str, method: str, body: Any, api: bool) -> int:
    with transaction.atomic():
        if api:
            data = json.dumps(body) if body is not None else ""
            response = client.generic(method, url, data, content_type="application/json")
        else:
            response = client.generic(
                method, url, urlencode(body or {}), content_type="application/x-www-form-urlencoded"
            )
        transaction.set_rollback(True)
    return response.status_code


@pytest.mark.django_db
def test_every_act_is_allowed_exactly_when_the_rank_rule_says(org):
    world = build_world(org)
    problems, cells = [], 0
    for (route, method), acts in ACTS.items():
        api = route.startswith(API)
        for act in acts:
            if route.startswith(ACCOUNTS):
                api = False
            for actor in ROLES:
                for target in act.targets:
                    for new in act.news:
                        url, body = act.build(world, actor, target, new)
                        status = _send(world.client(actor, api), url, method, body, api)
                        cells += 1
                        want = act.expected(actor, target, new)
                        ok = status < 400 if want else status in (403, 404)
                        if not ok:
                            problems.append(
                                f"{method} {url} ({act.name}) as {actor} on {target} "
                                f"giving {new}: {'allowed' if want else 'denied'} "
                                f"expected, got {status}"
                            )
    assert cells > 1000
    assert problems == [], "\n".join(problems[:40]) + f"\n({len(problems)} in all)"
