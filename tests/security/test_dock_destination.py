"""Rule 2: a stored secret goes only where it was entered for.

Where a dock's credentials are sent is part of the credentials. Changing ``endpoint_url``
needs ``docks: full`` and ``credentials: full`` and the credentials entered again in the
same request, checked live at the new endpoint, audited; the stored credentials are never
sent to a new destination. Real parts: the Cloudflare emulator and moto server are the
providers, a loopback listener is the attacker's host.
"""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from docks.api.serializers import DockUpdateSerializer
from docks.models import Dock
from docks.services import credentials_rotate, dock_create, dock_credentials, dock_update
from docks.sync import dock_sync
from stackdock.exceptions import Conflict, ValidationError
from stackdock.models import Role
from stackdock.permissions import Actor
from tests.api.conftest import client_with, secret_for
from tests.factories import MembershipFactory, UserFactory
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID
from tests.fixtures.listener import Listener

pytestmark = pytest.mark.django_db

STORED = "stored-token-never-elsewhere-1a2b"
NEW = "new-token-entered-again-3c4d"
BAD = "bad-token-nobody-knows-5e6f"


def cf(token: str) -> dict[str, str]:
    return {"api_token": token, "account_id": CF_ACCOUNT_ID}


@pytest.fixture
def emulator(cf_emulator):
    cf_emulator.add_token(STORED, CF_ACCOUNT_ID)
    cf_emulator.add_token(NEW, CF_ACCOUNT_ID)
    return cf_emulator


@pytest.fixture
def cf_dock(org, emulator) -> Dock:
    return dock_create(
        actor=Actor.system("tests", org),
        org=org,
        name="cf",
        provider="cloudflare",
        credentials=cf(STORED),
        endpoint_url=emulator.base_url,
    )


def stored(dock: Dock, which: str = "api") -> dict[str, Any]:
    dock.refresh_from_db()
    return dock_credentials(
        dock=dock, actor=Actor.system("tests", dock.org), purpose="admin", which=which
    )


# --- the matrix: roles x fields -------------------------------------------------------------
#: the roles that may or may not reach a dock's destination (built-in and custom)
ROLES: dict[str, dict[str, str] | None] = {
    "viewer": None,
    "developer": None,
    "admin": None,
    "owner": None,
    "docks-full-only": {"resources": "read", "docks": "full"},
    "credentials-full-only": {"resources": "read", "docks": "read", "credentials": "full"},
    "docks-and-credentials": {"docks": "full", "credentials": "full"},
}
PERMS = {
    "viewer": {"docks": "read"},
    "developer": {},
    "admin": {"docks": "full", "credentials": "full"},
    "owner": {"docks": "full", "credentials": "full"},
}


def _new_endpoint(emulator) -> str:
    """The same emulator under another URL: a new destination for the dock."""
    return emulator.base_url.replace("127.0.0.1", "localhost")


#: PATCH bodies, each naming the dock fields it touches
BODIES = {
    "name": (("name",), lambda e: {"name": "renamed"}),
    "sync_interval_seconds": (("sync_interval_seconds",), lambda e: {"sync_interval_seconds": 600}),
    "endpoint-without-credentials": (
        ("endpoint_url",),
        lambda e: {"endpoint_url": _new_endpoint(e)},
    ),
    "endpoint-with-credentials": (
        ("endpoint_url", "credentials"),
        lambda e: {"endpoint_url": _new_endpoint(e), "credentials": cf(NEW)},
    ),
    "endpoint-with-rejected-credentials": (
        ("endpoint_url", "credentials"),
        lambda e: {"endpoint_url": _new_endpoint(e), "credentials": cf(BAD)},
    ),
    "endpoint-blank-with-credentials": (
        ("endpoint_url", "credentials"),
        lambda e: {"endpoint_url": "", "credentials": cf(NEW)},  # the real Cloudflare
    ),
    "credentials-alone": (("credentials",), lambda e: {"credentials": cf(NEW)}),
    "same-endpoint-with-credentials": (
        ("endpoint_url", "credentials"),
        lambda e: {"endpoint_url": e.base_url, "credentials": cf(NEW)},
    ),
    "provisioning-credentials-alone": (
        ("provisioning_credentials",),
        lambda e: {"provisioning_credentials": cf(NEW)},
    ),
}


def expected(role: str, body: str) -> int:
    """The rule, in order: docks: full to change a dock at all; a new endpoint also needs
    credentials: full, then the credentials, then their live check; credentials ride only
    with a new endpoint."""
    perms = PERMS.get(role) or ROLES[role] or {}
    if perms.get("docks") != "full":
        return 403
    moving = body.startswith("endpoint-")
    if moving and perms.get("credentials") != "full":
        return 403
    if body in ("credentials-alone", "same-endpoint-with-credentials"):
        return 400
    if body == "provisioning-credentials-alone":
        return 400
    if body in ("endpoint-without-credentials", "endpoint-with-rejected-credentials"):
        return 400
    if body == "endpoint-blank-with-credentials":
        return 400  # checked live at api.cloudflare.com, which tests do not reach
    return 200


def member(org, role: str):
    perms = ROLES[role]
    if perms is None:
        return MembershipFactory(org=org, role_name=role, user=UserFactory(username=f"{role}@x.t"))
    custom = Role.objects.create(org=org, name=role, permissions=perms)
    return MembershipFactory(org=org, role=custom, user=UserFactory(username=f"{role}@x.t"))


def test_every_field_of_a_dock_change_has_a_row_in_the_matrix():
    """A new PATCH field must come with its entry here (and a decision on rule 2)."""
    covered = {field for fields, _ in BODIES.values() for field in fields}
    assert covered == set(DockUpdateSerializer().fields)


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_who_may_change_what_decides_where_credentials_go(
    org, cf_dock, emulator, loopback_only, role, body
):
    who = member(org, role)
    before = Dock.objects.get(pk=cf_dock.pk)
    events = AuditEvent.objects.filter(operation="dock.endpoint_change").count()
    response = client_with(secret_for(who)).patch(
        f"/api/v1/docks/{cf_dock.pk}", BODIES[body][1](emulator), format="json"
    )

    assert response.status_code == expected(role, body), response.content
    after = Dock.objects.get(pk=cf_dock.pk)
    if response.status_code == 200 and body == "endpoint-with-credentials":
        assert after.endpoint_url == _new_endpoint(emulator)
        assert stored(after) == cf(NEW)
        event = AuditEvent.objects.filter(operation="dock.endpoint_change").latest("pk")
        assert event.metadata["from"] == emulator.base_url
        assert event.metadata["to"] == _new_endpoint(emulator)
        assert NEW not in str(event.metadata)
    else:
        assert after.endpoint_url == before.endpoint_url
        assert after.api_credentials == before.api_credentials
        assert AuditEvent.objects.filter(operation="dock.endpoint_change").count() == events
    if response.status_code == 400:
        fields = response.json()["error"]["fields"]
        assert fields, response.content  # the 400 names what is missing or wrong


# --- the attacker's host receives nothing ---------------------------------------------------
def test_a_stored_cloudflare_token_never_reaches_a_new_endpoint(org, admin, cf_dock, emulator):
    docks_only = member(org, "docks-full-only")
    with Listener("html") as spy:
        # docks: full alone may not move it at all
        moved = client_with(secret_for(docks_only)).patch(
            f"/api/v1/docks/{cf_dock.pk}", {"endpoint_url": spy.url}, format="json"
        )
        assert moved.status_code == 403
        # an admin may not move it without the credentials
        moved = client_with(secret_for(admin)).patch(
            f"/api/v1/docks/{cf_dock.pk}", {"endpoint_url": spy.url}, format="json"
        )
        assert moved.status_code == 400
        assert "credentials" in moved.json()["error"]["fields"]
        # the syncs that follow still go where the token was entered for
        assert dock_sync(dock=Dock.objects.get(pk=cf_dock.pk)) is not None
        assert spy.connections == 0 and spy.received == b""

        # with a token entered again, that token (and only it) goes to the new endpoint
        moved = client_with(secret_for(admin)).patch(
            f"/api/v1/docks/{cf_dock.pk}",
            {"endpoint_url": spy.url, "credentials": cf(NEW)},
            format="json",
        )
        assert moved.status_code == 400  # the listener is no Cloudflare API
        assert NEW.encode() in spy.received
        assert STORED.encode() not in spy.received
    assert Dock.objects.get(pk=cf_dock.pk).endpoint_url == emulator.base_url
    assert stored(cf_dock) == cf(STORED)


AWS_STORED = {
    "access_key_id": "AKIASTOREDSTORED0001",
    "secret_access_key": "stored-aws-secret-7a7a",
    "region": "us-east-1",
    "sync_regions": ["us-east-1"],
}
AWS_NEW = {**AWS_STORED, "access_key_id": "AKIANEWNEWNEWNEW0002", "secret_access_key": "new-8b8b"}


def test_no_sigv4_signature_of_the_stored_key_reaches_a_new_endpoint(org, admin, moto):
    dock = dock_create(
        actor=Actor.system("tests", org),
        org=org,
        name="aws",
        provider="aws",
        credentials=AWS_STORED,
        endpoint_url=moto,
    )
    client = client_with(secret_for(admin))
    with Listener("aws-error") as spy:
        moved = client.patch(f"/api/v1/docks/{dock.pk}", {"endpoint_url": spy.url}, format="json")
        assert moved.status_code == 400
        dock_sync(dock=Dock.objects.get(pk=dock.pk))  # still signs for moto only
        assert spy.received == b""  # no request, no Authorization header at all

        moved = client.patch(
            f"/api/v1/docks/{dock.pk}",
            {"endpoint_url": spy.url, "credentials": AWS_NEW},
            format="json",
        )
        assert moved.status_code == 400  # the listener is no AWS API
        assert b"Authorization: AWS4-HMAC-SHA256 Credential=AKIANEWNEWNEWNEW0002" in spy.received
        assert AWS_STORED["access_key_id"].encode() not in spy.received
    assert Dock.objects.get(pk=dock.pk).endpoint_url == moto


# --- what a move replaces ---------------------------------------------------------------------
def test_a_move_needs_the_separate_provisioning_credentials_too_and_erases_the_old(
    org, owner, emulator
):
    actor = Actor.for_membership(owner)
    dock = dock_create(
        actor=actor,
        org=org,
        name="cf",
        provider="cloudflare",
        credentials=cf(STORED),
        provisioning_credentials=cf(STORED),
        endpoint_url=emulator.base_url,
    )
    dock = credentials_rotate(actor=actor, dock=dock, credentials=cf(NEW), grace_seconds=600)
    assert dock.previous_provisioning_credentials

    with pytest.raises(ValidationError) as missing:
        dock_update(
            actor=actor, dock=dock, endpoint_url=_new_endpoint(emulator), credentials=cf(NEW)
        )
    assert list(missing.value.fields) == ["provisioning_credentials"]

    moved = dock_update(
        actor=actor,
        dock=dock,
        endpoint_url=_new_endpoint(emulator),
        credentials=cf(NEW),
        provisioning_credentials={},  # drop them: provisioning uses the API credentials
    )
    assert moved.endpoint_url == _new_endpoint(emulator)
    assert moved.provisioning_credentials == ""
    assert moved.previous_provisioning_credentials == ""
    assert moved.previous_credentials_expire_at is None
    assert stored(moved, "provisioning") == cf(NEW)


def test_a_move_from_a_stale_view_of_the_dock_is_a_conflict(org, owner, cf_dock, emulator):
    actor = Actor.for_membership(owner)
    stale = Dock.objects.get(pk=cf_dock.pk)
    dock_update(
        actor=actor, dock=cf_dock, endpoint_url=_new_endpoint(emulator), credentials=cf(NEW)
    )
    with pytest.raises(Conflict):
        # checked live at the same new endpoint (it passes), then found stale under the lock
        dock_update(
            actor=actor, dock=stale, endpoint_url=_new_endpoint(emulator), credentials=cf(NEW)
        )


def test_a_rotation_checked_against_the_old_endpoint_is_a_conflict(org, owner, cf_dock, emulator):
    actor = Actor.for_membership(owner)
    stale = Dock.objects.get(pk=cf_dock.pk)
    dock_update(
        actor=actor, dock=cf_dock, endpoint_url=_new_endpoint(emulator), credentials=cf(NEW)
    )
    with pytest.raises(Conflict):
        credentials_rotate(actor=actor, dock=stale, credentials=cf(STORED))
    assert stored(cf_dock) == cf(NEW)


def test_the_dashboard_settings_form_cannot_move_a_dock(client, owner, cf_dock, emulator):
    client.force_login(owner.user)
    response = client.post(
        f"/dashboard/docks/{cf_dock.pk}/",
        {"name": "cf", "sync_interval_seconds": 120, "endpoint_url": "http://127.0.0.1:9"},
    )
    assert response.status_code == 303
    assert Dock.objects.get(pk=cf_dock.pk).endpoint_url == emulator.base_url


# --- every endpoint that takes credentials or an endpoint is in this file ----------------------
DESTINATION_FIELDS = {"credentials", "provisioning_credentials", "endpoint_url"}
#: (schema path, method) -> the test that holds it to rule 2
COVERED = {
    ("/api/v1/docks", "post"): "test_connecting_a_dock_needs_both_areas",
    ("/api/v1/docks/{id}", "patch"): "test_who_may_change_what_decides_where_credentials_go",
    ("/api/v1/docks/{id}/rotate-credentials", "post"): "test_rotation_keeps_the_endpoint",
}


def _body_properties(schema: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    content = (operation.get("requestBody") or {}).get("content") or {}
    props: set[str] = set()
    for media in content.values():
        ref = (media.get("schema") or {}).get("$ref", "")
        component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        props |= set(component.get("properties") or {})
    return props


def test_every_endpoint_taking_credentials_or_an_endpoint_is_held_to_rule_2():
    """Generated from the OpenAPI schema: a new operation whose body carries credentials or
    an endpoint fails here until it has a test in this file."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = {
        (path, method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and _body_properties(schema, operation) & DESTINATION_FIELDS
    }
    assert found == set(COVERED)
    assert all(name in globals() for name in COVERED.values())


@pytest.mark.parametrize("role", sorted(ROLES))
def test_connecting_a_dock_needs_both_areas(org, emulator, role):
    perms = PERMS.get(role) or ROLES[role] or {}
    allowed = perms.get("docks") == "full" and perms.get("credentials") == "full"
    response = client_with(secret_for(member(org, role))).post(
        "/api/v1/docks",
        {
            "name": "new",
            "provider": "cloudflare",
            "credentials": cf(NEW),
            "endpoint_url": emulator.base_url,
        },
        format="json",
    )
    assert response.status_code == (201 if allowed else 403), response.content


@pytest.mark.parametrize("role", sorted(ROLES))
def test_rotation_keeps_the_endpoint(org, cf_dock, emulator, role):
    """Rotation takes new credentials for the dock's *current* endpoint, and nothing in its
    body can move it."""
    perms = PERMS.get(role) or ROLES[role] or {}
    client = client_with(secret_for(member(org, role)))
    url = f"/api/v1/docks/{cf_dock.pk}/rotate-credentials"
    moved = client.post(
        url, {"credentials": cf(NEW), "endpoint_url": "http://127.0.0.1:9"}, format="json"
    )
    assert moved.status_code in (400, 403)  # endpoint_url is no field of a rotation
    response = client.post(url, {"credentials": cf(NEW)}, format="json")
    if perms.get("docks") not in ("read", "full"):
        assert response.status_code == 403
    else:
        assert response.status_code == (200 if perms.get("credentials") == "full" else 403)
    assert Dock.objects.get(pk=cf_dock.pk).endpoint_url == emulator.base_url
