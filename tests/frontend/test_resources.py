"""The universal tables: search, filters, pages, badges, detail, update and destroy."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.models import Bucket
from provisioning.models import Operation
from provisioning.runner import operation_run
from provisioning.services import resource_provision
from tests.factories import BucketFactory, DockFactory

pytestmark = pytest.mark.django_db


def rows(html: str) -> int:
    return html.count("<tr>") - 1  # minus the header row


def test_search_and_filters_narrow_the_table(login, owner, org, sandbox, htmx):
    a = DockFactory(org=org, name="alpha", provider="sandbox")
    b = DockFactory(org=org, name="beta", provider="sandbox")
    BucketFactory(
        dock=a, name="logs-a", provisioning_source="api", provisioning_state="provisioned"
    )
    BucketFactory(dock=b, name="logs-b", provisioning_source="manual")
    BucketFactory(dock=b, name="photos")
    client = login(owner)
    assert rows(client.get("/dashboard/buckets/", **htmx).content.decode()) == 3
    assert rows(client.get("/dashboard/buckets/?search=logs", **htmx).content.decode()) == 2
    assert rows(client.get(f"/dashboard/buckets/?dock={b.pk}", **htmx).content.decode()) == 2
    only_api = client.get("/dashboard/buckets/?provisioning_source=api", **htmx).content.decode()
    assert rows(only_api) == 1 and "logs-a" in only_api
    assert 'class="badge badge-info">provisioned alone' in only_api
    assert 'class="badge badge-ok">Provisioned' in only_api
    none = client.get("/dashboard/buckets/?search=zzz", **htmx).content.decode()
    assert "No buckets match these filters." in none


def test_htmx_request_gets_only_the_table(login, owner, htmx):
    full = login(owner).get("/dashboard/buckets/").content.decode()
    part = login(owner).get("/dashboard/buckets/", **htmx)
    assert "<html" in full and 'hx-target="#results"' in full
    assert "<html" not in part.content.decode() and "HX-Request" in part["Vary"]
    assert part.content.decode().lstrip().startswith('<section id="results"')


def test_empty_table_says_what_to_do_next(login, owner, viewer):
    assert "Provision one" in login(owner).get("/dashboard/servers/").content.decode()
    viewer_page = login(viewer).get("/dashboard/servers/").content.decode()
    assert "No servers yet" in viewer_page and "Provision one" not in viewer_page


def test_pages_of_25_keep_the_filters(login, owner, org, sandbox):
    dock = DockFactory(org=org, name="many", provider="sandbox")
    for i in range(30):
        BucketFactory(dock=dock, name=f"bucket-{i:02d}")
    client = login(owner)
    first = client.get("/dashboard/buckets/?search=bucket").content.decode()
    assert rows(first) == 25 and "Page 1 of 2" in first
    assert 'href="?search=bucket&amp;page=2"' in first
    second = client.get("/dashboard/buckets/?search=bucket&page=2").content.decode()
    assert rows(second) == 5


def test_detail_shows_provider_data_with_secrets_censored(login, owner, sandbox_dock):
    row = BucketFactory(
        dock=sandbox_dock,
        name="vault",
        full_api_data={
            "Name": "vault",
            "AccessKeyPassword": "CANARY-9a1",
            "nested": {"token": "CANARY-9b2"},
        },
    )
    html = login(owner).get(f"/dashboard/buckets/{row.pk}/").content.decode()
    assert "vault" in html and "********" in html
    assert "CANARY-9a1" not in html and "CANARY-9b2" not in html


def test_discovered_resource_offers_no_update(login, owner, sandbox_dock):
    row = BucketFactory(dock=sandbox_dock, name="found", provisioning_source="manual")
    html = login(owner).get(f"/dashboard/buckets/{row.pk}/").content.decode()
    assert "Destroy…" not in html and "Discovered by sync" in html


def _provisioned(owner, dock, callbacks):
    with callbacks():
        op = resource_provision(
            actor=actor_of(owner),
            dock=dock,
            resource_type="bucket",
            spec={"name": "media", "size": "s"},
        )
    operation_run(op.pk, worker="test")
    return Bucket.objects.get(pk=op.resource_id)


def test_update_then_destroy_a_provisioned_resource(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    row = _provisioned(owner, sandbox_dock, django_capture_on_commit_callbacks)
    client = login(owner)
    detail = client.get(f"/dashboard/buckets/{row.pk}/").content.decode()
    assert "Update…" in detail and "Destroy…" in detail
    edit = client.get(f"/dashboard/buckets/{row.pk}/edit/").content.decode()
    assert 'value="media"' in edit and "replaces the resource" in edit
    key = edit.split('name="idempotency_key" value="')[1].split('"')[0]
    with django_capture_on_commit_callbacks():
        response = client.post(
            f"/dashboard/buckets/{row.pk}/edit/",
            {"idempotency_key": key, "name": "media", "size": "xl"},
        )
    update = Operation.objects.get(kind="update")
    assert response["Location"] == f"/dashboard/operations/{update.pk}/"
    assert operation_run(update.pk, worker="test") == "succeeded"
    wrong = client.post(f"/dashboard/buckets/{row.pk}/destroy/", {"confirm_name": "nope"})
    assert wrong.status_code == 400 and not Operation.objects.filter(kind="delete").exists()
    with django_capture_on_commit_callbacks():
        client.post(f"/dashboard/buckets/{row.pk}/destroy/", {"confirm_name": "media"})
    delete = Operation.objects.get(kind="delete")
    assert operation_run(delete.pk, worker="test") == "succeeded"
    assert not Bucket.objects.filter(pk=row.pk).exists()


def test_viewer_sees_no_actions_and_gets_403_on_them(
    login, owner, viewer, sandbox_dock, django_capture_on_commit_callbacks
):
    row = _provisioned(owner, sandbox_dock, django_capture_on_commit_callbacks)
    client = login(viewer)
    assert "Destroy…" not in client.get(f"/dashboard/buckets/{row.pk}/").content.decode()
    assert client.get(f"/dashboard/buckets/{row.pk}/edit/").status_code == 403
    assert (
        client.post(f"/dashboard/buckets/{row.pk}/destroy/", {"confirm_name": "media"}).status_code
        == 403
    )
    assert not Operation.objects.filter(kind="delete").exists()


def test_outsider_gets_404_for_a_resource(login, outsider, sandbox_dock):
    row = BucketFactory(dock=sandbox_dock)
    assert login(outsider).get(f"/dashboard/buckets/{row.pk}/").status_code == 404
    assert login(outsider).get(f"/dashboard/buckets/{row.pk}/edit/").status_code == 404


def test_back_button_history_restore_gets_the_whole_page(login, owner, htmx):
    restore = login(owner).get(
        "/dashboard/buckets/?search=x", **htmx, HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in restore.content.decode()


def test_an_update_that_replaces_is_reviewed_then_confirmed_with_a_second_button(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    row = _provisioned(owner, sandbox_dock, django_capture_on_commit_callbacks)
    client = login(owner)
    edit = client.get(f"/dashboard/buckets/{row.pk}/edit/").content.decode()
    key = edit.split('name="idempotency_key" value="')[1].split('"')[0]
    review = client.post(
        f"/dashboard/buckets/{row.pk}/edit/", {"idempotency_key": key, "name": "media-2"}
    )
    html = review.content.decode()
    assert review.status_code == 200 and not Operation.objects.filter(kind="update").exists()
    assert "This update replaces media" in html and "name cannot change in place" in html
    assert 'name="confirm" value="replace"' in html and "Replace media</button>" in html
    assert "media-2" in html  # the plan's diff: now -> after
    with django_capture_on_commit_callbacks():
        done = client.post(
            f"/dashboard/buckets/{row.pk}/edit/",
            {"idempotency_key": key, "name": "media-2", "confirm": "replace"},
        )
    update = Operation.objects.get(kind="update")
    assert done["Location"] == f"/dashboard/operations/{update.pk}/"
    assert operation_run(update.pk, worker="test") == "succeeded"
    row.refresh_from_db()
    assert row.name == "media-2" and row.provisioning_state == "provisioned"
