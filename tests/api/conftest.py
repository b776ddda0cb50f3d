"""Fixtures for the API tests: token-authenticated clients and a small world to act on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from docks.models import UNIVERSAL_MODELS, Bucket, ProvisioningSource, ProvisioningState, Server
from docks.sandbox_store import sandbox_backend
from provisioning.models import Operation, OperationStatus, Stack, StackKind
from stackdock.models import ApiToken, Membership, Role
from stackdock.permissions import Actor
from stackdock.services import token_create
from tests.factories import DockFactory, MembershipFactory, UserFactory

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


@pytest.fixture
def sandbox(settings, tmp_path):
    """A fresh sandbox "cloud" for this test."""
    settings.STACKDOCK_SANDBOX_DB = str(tmp_path / "sandbox.sqlite3")
    return sandbox_backend()


def secret_for(membership: Membership, **kwargs: Any) -> str:
    _, secret = token_create(
        actor=Actor.system("tests", membership.org), membership=membership, **kwargs
    )
    return secret


def client_with(secret: str | None) -> APIClient:
    client = APIClient()
    if secret is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def client_for() -> Callable[[Membership], APIClient]:
    """An APIClient authenticated with a fresh API token of ``membership``."""

    def make(membership: Membership) -> APIClient:
        return client_with(secret_for(membership))

    return make


@pytest.fixture
def owner_client(owner, client_for) -> APIClient:
    return client_for(owner)


def provisioned_bucket(dock: Any, name: str = "assets") -> Bucket:
    """A bucket StackDock provisioned (API source, its one-resource stack, no active work)."""
    stack_name = f"_single-buckets-{name}"
    spec = {"name": name}
    Stack.objects.create(
        org=dock.org,
        name=stack_name,
        kind=StackKind.SINGLE,
        spec={
            "name": stack_name,
            "resources": {"resource": {"dock": str(dock.pk), "type": "bucket", "properties": spec}},
        },
    )
    return Bucket.objects.create(
        org=dock.org,
        dock=dock,
        provider=dock.provider,
        provider_resource_id=f"bkt-{name}",
        resource_type="bucket",
        name=name,
        spec=spec,
        provisioning_source=ProvisioningSource.API,
        provisioning_state=ProvisioningState.PROVISIONED,
        sst_stack_name=stack_name,
        sst_resource_id="resource",
        provisioned_at=timezone.now(),
    )


def discovered(dock: Any, table: str = "servers", name: str = "legacy") -> Any:
    """A row sync found (not provisioned by StackDock)."""
    return UNIVERSAL_MODELS[table].objects.create(
        org=dock.org,
        dock=dock,
        provider=dock.provider,
        provider_resource_id=f"{table}-{name}",
        resource_type=table.rstrip("s"),
        name=name,
        provisioning_source=ProvisioningSource.MANUAL,
    )


@dataclass
class World:
    """Everything the role matrix acts on, in organization ``acme``."""

    members: dict[str, Membership]
    dock: Any
    spare_dock: Any
    bucket: Bucket
    server: Server
    rows: dict[str, Any]
    stack: Stack
    operation: Operation
    extra_member: Membership
    custom_role: Role
    owner_token: ApiToken
    secrets: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def world(owner, admin, developer, viewer, outsider, sandbox) -> World:
    from provisioning.services import stack_save

    org = owner.org
    dock = DockFactory(org=org, name="sandbox", provider="sandbox")
    spare = DockFactory(org=org, name="spare", provider="sandbox")
    stack = stack_save(actor=Actor.system("tests", org), org=org, doc=STACK_DOC)
    operation = Operation.objects.create(
        org=org, kind="sync", status=OperationStatus.QUEUED, actor_repr="tests", dock=dock
    )
    extra = MembershipFactory(
        org=org, role_name="viewer", user=UserFactory(username="extra@acme.test")
    )
    role = Role.objects.create(org=org, name="ops", permissions={"resources": "read"})
    token, _ = token_create(actor=Actor.system("tests", org), membership=owner, name="spare")
    bucket = provisioned_bucket(dock)
    rows = {t: discovered(dock, t) for t in UNIVERSAL_MODELS if t != "buckets"}
    members = {
        "owner": owner,
        "admin": admin,
        "developer": developer,
        "viewer": viewer,
        "outsider": outsider,
    }
    return World(
        members=members,
        dock=dock,
        spare_dock=spare,
        bucket=bucket,
        server=rows["servers"],
        rows={**rows, "buckets": bucket},
        stack=stack,
        operation=operation,
        extra_member=extra,
        custom_role=role,
        owner_token=token,
    )


def expired_secret(membership: Membership) -> str:
    secret = secret_for(membership)
    prefix = secret.split("_")[1]
    ApiToken.objects.filter(prefix=prefix).update(expires_at=timezone.now() - timedelta(seconds=1))
    return secret


def revoked_secret(membership: Membership) -> str:
    secret = secret_for(membership)
    prefix = secret.split("_")[1]
    ApiToken.objects.filter(prefix=prefix).update(revoked_at=timezone.now())
    return secret
