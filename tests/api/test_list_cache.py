"""Universal-table list pages served from the cache: the same bytes as from the database,
no SQL on a hit, and never a page from before a write, whichever way the write was made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from docks.changes import current_markers
from docks.models import Bucket, Dock, Server
from docks.services import dock_delete, dock_update
from stackdock.models import Role
from stackdock.permissions import Actor
from tests.factories import DockFactory, MembershipFactory, ServerFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/servers"


@pytest.fixture(autouse=True)
def page_cache(settings):
    settings.STACKDOCK_LIST_CACHE_SECONDS = 30


@pytest.fixture
def dock(org):
    return DockFactory(org=org, name="main", provider="sandbox")


@pytest.fixture
def servers(org, dock):
    return [ServerFactory(org=org, dock=dock, name=f"web-{i:02d}") for i in range(7)]


def names(client, url: str = URL) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return [r["name"] for r in response.json()["results"]]


def test_a_cached_page_is_byte_for_byte_the_page_the_database_gives(
    owner_client, servers, settings
):
    for url in (URL, f"{URL}?limit=3&offset=3", f"{URL}?limit=2", f"{URL}?search=web-0"):
        first = owner_client.get(url)  # read and cached
        cached = owner_client.get(url)
        settings.STACKDOCK_LIST_CACHE_SECONDS = 0
        fresh = owner_client.get(url)
        settings.STACKDOCK_LIST_CACHE_SECONDS = 30
        assert first.content == cached.content == fresh.content, url
        assert cached["Content-Type"] == fresh["Content-Type"] == "application/json"
    body = owner_client.get(f"{URL}?limit=3&offset=3").json()
    assert body["count"] == 7 and "offset=6" in body["next"] and "limit=3" in body["previous"]


def test_a_hit_reads_no_universal_table(owner_client, servers):
    names(owner_client)
    with CaptureQueriesContext(connection) as queries:
        assert names(owner_client)[0] == "web-00"
    assert not [q for q in queries.captured_queries if "docks_server" in q["sql"]]


def _save(org, dock, row):
    row.name = "zz-renamed"
    row.save()


def _delete(org, dock, row):
    row.delete()


def _update(org, dock, row):
    Server.objects.filter(pk=row.pk).update(name="zz-renamed")


def _qs_delete(org, dock, row):
    Server.objects.filter(pk=row.pk).delete()


def _create(org, dock, row):
    Server.objects.create(org=org, dock=dock, name="zz-new", provider="sandbox")


def _bulk_create(org, dock, row):
    Server.objects.bulk_create([Server(org=org, dock=dock, name="zz-new", provider="sandbox")])


def _bulk_update(org, dock, row):
    row.name = "zz-renamed"
    Server.objects.bulk_update([row], ["name"])


def _in_a_transaction(org, dock, row):
    with transaction.atomic():
        row.name = "zz-renamed"
        row.save()
        Server.objects.filter(pk=row.pk).update(status="stopped")


WRITERS: dict[str, Callable[..., Any]] = {
    "save": _save,
    "delete": _delete,
    "update": _update,
    "queryset delete": _qs_delete,
    "create": _create,
    "bulk_create": _bulk_create,
    "bulk_update": _bulk_update,
    "transaction": _in_a_transaction,
}


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_every_way_of_writing_rows_drops_the_cached_page(owner_client, org, dock, servers, writer):
    before = names(owner_client, f"{URL}?limit=200")
    writer(org, dock, servers[0])
    after = names(owner_client, f"{URL}?limit=200")
    assert after != before
    expected = [r.name for r in Server.objects.filter(org=org).order_by("name", "id")]
    assert after == expected


def test_renaming_or_deleting_the_dock_drops_the_cached_page(owner, owner_client, org, dock):
    ServerFactory(org=org, dock=dock, name="web", provisioning_source="api")  # kept, orphaned
    ServerFactory(org=org, dock=dock, name="web-found")  # discovered: goes with its dock
    assert owner_client.get(URL).json()["results"][0]["dock_name"] == "main"
    dock_update(actor=Actor.for_membership(owner), dock=dock, name="renamed")
    assert owner_client.get(URL).json()["results"][0]["dock_name"] == "renamed"
    dock_delete(actor=Actor.for_membership(owner), dock=Dock.objects.get(pk=dock.pk), orphan=True)
    (row,) = owner_client.get(URL).json()["results"]
    assert row["name"] == "web" and row["dock_name"] is None


def test_one_tables_writes_leave_the_other_tables_pages_cached(owner_client, org, dock, servers):
    marker = current_markers(["servers"])["servers"]
    Bucket.objects.create(org=org, dock=dock, name="assets", provider="sandbox")
    assert current_markers(["servers"])["servers"] == marker
    Server.objects.filter(pk=servers[0].pk).update(status="x")
    assert current_markers(["servers"])["servers"] != marker


def test_organizations_never_share_pages(owner_client, outsider, client_for, servers):
    assert len(names(owner_client)) == 7
    other = client_for(outsider)
    assert names(other) == []
    ServerFactory(org=outsider.org, dock=DockFactory(org=outsider.org), name="theirs")
    assert names(other) == ["theirs"]
    assert len(names(owner_client)) == 7


def test_a_role_limited_to_some_docks_reads_the_database_every_time(
    org, dock, servers, client_for, owner_client
):
    role = Role.objects.create(org=org, name="one-dock", permissions={})
    member = MembershipFactory(org=org, role=role, user=UserFactory(username="one@acme.test"))
    other_dock = DockFactory(org=org, name="other", provider="sandbox")
    ServerFactory(org=org, dock=other_dock, name="aaa-hidden")
    assign_perm("docks.view_dock", member.user, dock)
    limited = client_for(member)
    assert len(names(owner_client)) == 8  # the full page, now cached
    assert names(limited) == [s.name for s in servers]  # not the cached page
    assert "aaa-hidden" not in names(limited)


def test_off_when_the_setting_is_zero(owner_client, servers, settings):
    settings.STACKDOCK_LIST_CACHE_SECONDS = 0
    names(owner_client)
    with CaptureQueriesContext(connection) as queries:
        names(owner_client)
    assert [q for q in queries.captured_queries if "docks_server" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_replaces_the_marker_at_once_and_again_after_its_commit(org, dock, servers):
    from docks.changes import _AfterCommit

    with transaction.atomic():
        Server.objects.filter(pk=servers[0].pk).update(status="a")
        servers[1].save()
        Bucket.objects.create(org=org, dock=dock, name="b", provider="sandbox")
        during = current_markers(["servers"])["servers"]
        queued = [f for _, f, _ in connection.run_on_commit if isinstance(f, _AfterCommit)]
        assert len(queued) == 1 and queued[0].tables == {"servers", "buckets"}
        assert current_markers(["servers"])["servers"] == during
    assert current_markers(["servers"])["servers"] != during  # replaced again on commit


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transactions_callback_is_not_reused(org, servers):
    from docks.changes import _AfterCommit

    with transaction.atomic():
        try:
            with transaction.atomic():
                Server.objects.filter(pk=servers[0].pk).update(status="a")
                raise RuntimeError
        except RuntimeError:
            pass
        assert not [f for _, f, _ in connection.run_on_commit if isinstance(f, _AfterCommit)]
        Server.objects.filter(pk=servers[1].pk).update(status="b")
        queued = [f for _, f, _ in connection.run_on_commit if isinstance(f, _AfterCommit)]
        assert len(queued) == 1 and queued[0].tables == {"servers"}
