"""Fixtures for the security tests: a victim organization full of objects, the principals
that knock on its doors (members, an outsider, anonymous callers, revoked and expired
credentials), and helpers to make API tokens and dashboard sessions for them.

Nothing here is autouse: ``test_faults.py`` and ``test_hardening.py`` share this folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from docks.models import UNIVERSAL_MODELS, ProvisioningSource, ProvisioningState
from provisioning.models import Operation, Stack, StackKind
from stackdock.models import ApiToken, Membership, Role
from stackdock.permissions import Actor
from stackdock.services import token_create
from tests.factories import DockFactory, MembershipFactory, UserFactory

#: who knocks: the org's members, an owner of another org, and three kinds of stranger
PRINCIPALS = (
    "anonymous",
    "viewer",
    "developer",
    "admin",
    "owner",
    "outsider",
    "revoked",
    "expired",
)

#: the sandbox resource type behind each universal table
TABLE_TYPES = {
    "servers": "server",
    "web-services": "web-service",
    "domains": "domain",
    "databases": "database",
    "buckets": "bucket",
}

STACK_DOC = """\
name: web
resources:
  db:
    dock: sandbox
    type: database
    properties: {name: app-db}
  site:
    dock: sandbox
    type: web-service
    properties: {name: "${db.name}-site"}
"""


def token_secret(membership: Membership, **kwargs: Any) -> str:
    """A fresh API token of ``membership``; returns the secret (shown once)."""
    _, secret = token_create(
        actor=Actor.system("tests", membership.org), membership=membership, **kwargs
    )
    return secret


def _prefix(secret: str) -> str:
    return secret.split("_")[1]


def revoked_secret(membership: Membership) -> str:
    secret = token_secret(membership, name="revoked")
    ApiToken.objects.filter(prefix=_prefix(secret)).update(revoked_at=timezone.now())
    return secret


def expired_secret(membership: Membership) -> str:
    secret = token_secret(membership, name="expired")
    ApiToken.objects.filter(prefix=_prefix(secret)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    return secret


def provisioned_row(dock: Any, table: str, name: str) -> Any:
    """A row StackDock provisioned as a single resource (API source, its one-resource stack,
    no work under way): the kind of row owners may update and destroy."""
    rtype = TABLE_TYPES[table]
    stack_name = f"_single-{table}-{name}"
    spec = {"name": name}
    Stack.objects.create(
        org=dock.org,
        name=stack_name,
        kind=StackKind.SINGLE,
        spec={
            "name": stack_name,
            "resources": {"resource": {"dock": str(dock.pk), "type": rtype, "properties": spec}},
        },
    )
    return UNIVERSAL_MODELS[table].objects.create(
        org=dock.org,
        dock=dock,
        provider=dock.provider,
        provider_resource_id=f"{table}-{name}",
        resource_type=rtype,
        name=name,
        spec=spec,
        provisioning_source=ProvisioningSource.API,
        provisioning_state=ProvisioningState.PROVISIONED,
        sst_stack_name=stack_name,
        sst_resource_id="resource",
        provisioned_at=timezone.now(),
    )


@dataclass
class Victim:
    """Organization ``acme`` and one object of every kind a URL can name."""

    members: dict[str, Membership]
    dock: Any
    rows: dict[str, Any]
    stack: Stack
    operation: Operation
    extra_member: Membership
    custom_role: Role
    token: ApiToken


@pytest.fixture
def victim(owner, admin, developer, viewer, outsider, settings, tmp_path) -> Victim:
    """acme with a sandbox dock, a provisioned row in every table, a stack, a queued
    provision, a spare member, a custom role and a spare token; ``outsider`` owns globex."""
    from provisioning.services import resource_provision, stack_save

    settings.STACKDOCK_SANDBOX_DB = str(tmp_path / "sandbox.sqlite3")
    org = owner.org
    system = Actor.system("tests", org)
    dock = DockFactory(org=org, name="sandbox", provider="sandbox")
    rows = {table: provisioned_row(dock, table, "row-1") for table in TABLE_TYPES}
    stack = stack_save(actor=system, org=org, doc=STACK_DOC)
    # a queued provision (its Celery task is sent on commit, which never comes in a test)
    operation = resource_provision(
        actor=Actor.for_membership(owner),
        dock=dock,
        resource_type="server",
        spec={"name": "queued-1"},
    )
    extra = MembershipFactory(
        org=org, role_name="viewer", user=UserFactory(username="extra@acme.test")
    )
    role = Role.objects.create(org=org, name="ops", permissions={"resources": "read"})
    token, _ = token_create(actor=system, membership=owner, name="spare")
    members = {
        "owner": owner,
        "admin": admin,
        "developer": developer,
        "viewer": viewer,
        "outsider": outsider,
    }
    return Victim(
        members=members,
        dock=dock,
        rows=rows,
        stack=stack,
        operation=operation,
        extra_member=extra,
        custom_role=role,
        token=token,
    )


def session_client(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def revoked_session(org: Any) -> Client:
    """A session whose account was then disabled: it must stop working at once."""
    membership = MembershipFactory(
        org=org, role_name="owner", user=UserFactory(username="disabled@acme.test")
    )
    client = session_client(membership)
    membership.user.is_active = False
    membership.user.save(update_fields=["is_active"])
    return client


def expired_session(org: Any) -> Client:
    """A session past its expiry date (the store would normally purge it)."""
    membership = MembershipFactory(
        org=org, role_name="owner", user=UserFactory(username="lapsed@acme.test")
    )
    client = session_client(membership)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    return client


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@pytest.fixture
def loopback_only(monkeypatch):
    """Name resolution for anything but loopback fails, so nothing the app does in this
    process (a fuzzed dock pointing at ``https://0.com``, a real AWS endpoint) reaches the
    network: clients see a connection error instead."""
    import socket

    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve loopback only, not {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
