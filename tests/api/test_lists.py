"""Every list: limit/offset pagination and a query count that does not grow with rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.services import audit_log
from provisioning.models import Operation, Stack, StackLock, StackResource, StateVersion
from stackdock.models import ApiToken, Role
from stackdock.permissions import Actor
from tests.factories import BucketFactory, DockFactory, MembershipFactory, ServerFactory

pytestmark = pytest.mark.django_db


def _docks(org, n, start):
    DockFactory.create_batch(n, org=org, provider="sandbox")


def _buckets(org, n, start):
    BucketFactory.create_batch(n, dock=DockFactory(org=org, provider="sandbox"))


def _servers(org, n, start):
    ServerFactory.create_batch(n, dock=DockFactory(org=org, provider="sandbox"))


def _operations(org, n, start):
    dock = DockFactory(org=org, provider="sandbox")
    Operation.objects.bulk_create(
        Operation(
            org=org, kind="sync", actor_repr="t", dock=dock, resource_table="servers", resource_id=i
        )
        for i in range(n)
    )


def _stacks(org, n, start):
    stacks = Stack.objects.bulk_create(
        Stack(org=org, name=f"s{start + i}", spec={}) for i in range(n)
    )
    now = timezone.now()
    for stack in stacks[::2]:
        StackLock.objects.create(
            stack=stack, holder="1", since=now, expires_at=now + timedelta(minutes=1)
        )
        StackResource.objects.create(
            stack=stack, name="r", type="server", provider="sandbox", dock_ref="d", status="created"
        )


def _versions(org, n, start):
    stack, _ = Stack.objects.get_or_create(org=org, name="web")
    StateVersion.objects.bulk_create(
        StateVersion(stack=stack, number=start + i + 1) for i in range(n)
    )


def _audit(org, n, start):
    for i in range(n):
        audit_log(actor=Actor.system("t", org), org=org, operation=f"x.{start + i}")


def _members(org, n, start):
    MembershipFactory.create_batch(n, org=org, role_name="viewer")


def _roles(org, n, start):
    Role.objects.bulk_create(Role(org=org, name=f"r{start + i}") for i in range(n))


def _tokens(org, n, start):
    members = MembershipFactory.create_batch(n, org=org, role_name="viewer")
    ApiToken.objects.bulk_create(
        ApiToken(membership=m, name="t", prefix=f"p{start + i}", token_hash="0" * 64)
        for i, m in enumerate(members)
    )


LISTS: dict[str, tuple[str, Callable]] = {
    "docks": ("/api/v1/docks", _docks),
    "buckets": ("/api/v1/buckets", _buckets),
    "servers": ("/api/v1/servers", _servers),
    "operations": ("/api/v1/operations", _operations),
    "stacks": ("/api/v1/stacks", _stacks),
    "versions": ("/api/v1/stacks/web/versions", _versions),
    "audit": ("/api/v1/audit", _audit),
    "members": ("/api/v1/members", _members),
    "roles": ("/api/v1/roles", _roles),
    "tokens": ("/api/v1/tokens", _tokens),
}


@pytest.mark.parametrize("name", LISTS)
def test_list_query_count_is_the_same_at_5_and_50_rows(
    name, owner, owner_client, django_assert_max_num_queries
):
    url, make = LISTS[name]
    make(owner.org, 5, 0)
    owner_client.get(url)  # the token's last use is recorded once, not on every request
    with django_assert_max_num_queries(5) as small:
        first = owner_client.get(url)
    make(owner.org, 45, 5)
    owner_client.get(url)  # new members drop the cached token: warm it again
    with django_assert_max_num_queries(5) as large:
        second = owner_client.get(url)
    assert first.status_code == second.status_code == 200
    assert second.json()["count"] >= 50
    assert len(second.json()["results"]) == 50
    assert len(small.captured_queries) == len(large.captured_queries)


def test_page_links_walk_the_whole_list(owner_client, owner):
    _buckets(owner.org, 7, 0)
    seen, url = [], "/api/v1/buckets?limit=3"
    while url:
        body = owner_client.get(url).json()
        assert body["count"] == 7
        seen += [b["id"] for b in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 7
    last = owner_client.get("/api/v1/buckets?limit=3&offset=6").json()
    assert last["next"] is None and "offset=3" in last["previous"]


def test_limit_is_capped_at_200(owner_client, owner):
    _audit(owner.org, 230, 0)
    body = owner_client.get("/api/v1/audit?limit=1000").json()
    assert len(body["results"]) == 200 and body["count"] >= 230


def test_providers_are_paginated_too(owner_client):
    body = owner_client.get("/api/v1/providers?limit=1").json()
    assert body["count"] == 3 and len(body["results"]) == 1 and body["next"]
