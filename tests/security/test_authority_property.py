"""Property: no sequence of calls by a non-owner yields a token, a session or a membership
with a permission the caller did not hold (issue 15, rule 1).

The caller holds a random non-owner role. Hypothesis draws a sequence of acts - create
or change a role, add a member, change a member's role, create a token (for anyone,
narrowed or not), give a dock grant, invite (an address with an account or not), use an invitation link it got, and
switch to acting with any token secret it was given so far - sent through the API and
the dashboard. Afterwards:

- every secret the caller was given acts with permissions the caller held, never as an
  owner; every invitation link it was given, used for all a link's holder may do, joins
  nobody and sets no password (no session for anyone);
- every membership that was created or changed (its role or its dock grants), and every
  role that was created or changed, holds only what the caller held, never owner;
- the caller itself holds no more than it did.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from stackdock.models import AREAS, ApiToken, Level, Membership, Role
from stackdock.permissions import Actor, Standing, covers, standing_of
from stackdock.services import token_authenticate, token_create
from tests.factories import DockFactory, MembershipFactory, UserFactory

LEVELS = st.sampled_from([Level.NONE, Level.READ, Level.FULL])
PERMS = st.fixed_dictionaries({area: LEVELS for area in AREAS})
ROLE_NAMES = ("owner", "admin", "developer", "viewer")

#: a non-owner role for the caller: a built-in one or any custom permission map
CALLER = st.one_of(st.sampled_from(["admin", "developer", "viewer"]), PERMS)

ACT = st.one_of(
    st.tuples(st.just("role_create"), PERMS),
    st.tuples(st.just("role_change"), st.integers(0, 9), PERMS),
    st.tuples(st.just("member_add"), st.integers(0, 9)),
    st.tuples(st.just("member_change"), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("token"), st.integers(0, 9), st.integers(0, 9), st.booleans()),
    st.tuples(
        st.just("grant"), st.integers(0, 9), st.sampled_from(["view_dock", "provision_dock"])
    ),
    st.tuples(st.just("use_secret"), st.integers(0, 9)),
    st.tuples(st.just("use_link"), st.integers(0, 9)),
)


def _pick(items: list[Any], i: int) -> Any:
    return items[i % len(items)] if items else None


class Caller:
    """The non-owner and everything it has been given so far."""

    def __init__(self, membership: Membership) -> None:
        self.membership = membership
        self.org = membership.org
        _, secret = token_create(actor=Actor.system("tests", self.org), membership=membership)
        self.secrets = [secret]
        self.current = secret
        self.session = Client()
        self.session.force_login(membership.user)
        self.links: list[str] = []

    def membership_email(self, i: int) -> str:
        """An address that has an account (someone of another organization)."""
        return "boss@globex.test"

    def api(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.current}")
        response = getattr(client, method)(f"/api/v1/{url}", body, format="json")
        assert response.status_code < 500, response.content
        return response

    def roles(self) -> list[Role]:
        return list(Role.objects.filter(org=self.org).order_by("pk"))

    def members(self) -> list[Membership]:
        return list(Membership.objects.filter(org=self.org).order_by("pk"))

    def act(self, act: tuple[Any, ...]) -> None:
        kind, *args = act
        roles, members = self.roles(), self.members()
        if kind == "role_create":
            self.api("post", "roles", {"name": f"r{len(roles)}", "permissions": args[0]})
        elif kind == "role_change":
            custom = [r for r in roles if not r.builtin]
            if custom:
                role = _pick(custom, args[0])
                self.api("patch", f"roles/{role.pk}", {"permissions": args[1]})
        elif kind == "member_add":  # an invitation; the caller gets its link
            role = _pick(roles, args[0])
            email = f"new{len(members)}@acme.test" if args[0] % 3 else self.membership_email(0)
            response = self.api("post", "invitations", {"email": email, "role": role.name})
            if response.status_code == 201:
                self.links.append(response.json()["link"])
        elif kind == "use_link":  # whatever a link's holder may do with it
            link = _pick(self.links, args[0])
            if link is not None:
                path = link.removeprefix("http://testserver")
                anonymous = Client()
                anonymous.post(path, {"action": "send_link"})
                response = self.session.post(path, {"action": "accept"})
                assert response.status_code < 500
        elif kind == "member_change":
            member, role = _pick(members, args[0]), _pick(roles, args[1])
            self.api("patch", f"members/{member.pk}", {"role": role.name})
        elif kind == "token":
            member, role = _pick(members, args[0]), _pick(roles, args[1])
            body = {"member": member.pk, "read_only": args[2]}
            if args[1] % 2:
                body["role"] = role.name
            response = self.api("post", "tokens", body)
            if response.status_code == 201:
                self.secrets.append(response.json()["token"])
        elif kind == "grant":
            member, dock = _pick(members, args[0]), self.org.docks.first()
            response = self.session.post(
                f"/dashboard/docks/{dock.pk}/grants/", {"membership": member.pk, "perm": args[1]}
            )
            assert response.status_code < 500
        elif kind == "use_secret":
            self.current = _pick(self.secrets, args[0])


def _standings(org: Any) -> dict[Any, Standing]:
    out: dict[Any, Standing] = {}
    for m in Membership.objects.filter(org=org).select_related("role", "user"):
        out[("member", m.user_id)] = standing_of(m)
    for r in Role.objects.filter(org=org):
        out[("role", r.pk)] = standing_of(r)
    return out


def _within(standing: Standing, held: Standing) -> bool:
    """Whether ``standing`` holds nothing ``held`` does not (its grants: by their levels)."""
    from stackdock.permissions import GRANT_LEVELS

    if standing.owner:
        return False
    if not covers(held.permissions, standing.permissions):
        return False
    return all(covers(held.permissions, GRANT_LEVELS[perm]) for _, perm in standing.grants)


@pytest.fixture
def base_org(org, outsider):
    for name, email in (("owner", "o"), ("admin", "a"), ("developer", "d"), ("viewer", "v")):
        MembershipFactory(org=org, role_name=name, user=UserFactory(username=f"{email}@acme.test"))
    DockFactory(org=org, name="sandbox", provider="sandbox")
    return org


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(caller_role=CALLER, acts=st.lists(ACT, min_size=1, max_size=8))
def test_no_sequence_of_calls_yields_more_than_the_caller_held(base_org, caller_role, acts):
    with transaction.atomic():
        org = base_org
        if isinstance(caller_role, dict):
            role = Role.objects.create(org=org, name="caller-role", permissions=caller_role)
            role_name = role.name
        else:
            role_name = caller_role
        membership = MembershipFactory(
            org=org, role_name=role_name, user=UserFactory(username="caller@acme.test")
        )
        held = standing_of(membership)
        assert not held.owner
        before = _standings(org)
        passwords = dict(get_user_model().objects.values_list("pk", "password"))
        caller = Caller(membership)
        for act in acts:
            caller.act(act)

        for secret in caller.secrets:
            token = token_authenticate(secret)
            if token is None:  # revoked along the way: it gives nothing
                continue
            given_ = standing_of(
                ApiToken.objects.select_related("membership__role").get(pk=token.pk)
            )
            assert _within(given_, held), (secret[:12], given_)
        after = _standings(org)
        for key, standing in after.items():
            if before.get(key) != standing:
                assert _within(standing, held), (key, standing, held)
        assert _within(after[("member", membership.user_id)], held)
        # sessions: nobody's password was set or changed, no new account has one
        for user in get_user_model().objects.all():
            if user.pk in passwords:
                assert user.password == passwords[user.pk], user.username
            else:
                assert not user.has_usable_password(), user.username
        transaction.set_rollback(True)
