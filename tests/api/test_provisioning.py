"""Provision, update and delete over HTTP on the sandbox; the worker's code path runs in
this process (``operation_run``; tests/integration runs it in a real Celery worker)."""

from __future__ import annotations

import pytest

from docks.models import Server
from provisioning.models import Operation
from provisioning.runner import operation_run
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dock(owner, sandbox):
    return DockFactory(org=owner.org, name="sandbox", provider="sandbox")


def run(op_id):
    assert operation_run(op_id, worker="test") is not None


def test_provision_returns_a_receipt_then_the_operation_succeeds(owner_client, dock, sandbox):
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "web-1", "size": "s"}}
    response = owner_client.post("/api/v1/provision", body, format="json")
    assert response.status_code == 202
    receipt = response.json()
    op_id = receipt["provision_id"]
    assert receipt["status"] == "queued"
    assert receipt["resource_table"] == "servers"
    assert receipt["status_url"] == f"http://testserver/api/v1/operations/{op_id}"
    assert response["Location"] == receipt["status_url"]
    row = owner_client.get(f"/api/v1/servers/{receipt['resource_id']}").json()
    assert (row["provisioning_state"], row["provisioning_source"]) == ("provisioning", "api")

    run(op_id)
    status = owner_client.get(receipt["status_url"]).json()
    assert status["status"] == "succeeded", status["error"]
    assert status["kind"] == "provision"
    assert status["progress"] == {"done": 1, "total": 1}
    assert status["resource"] == {
        "table": "servers",
        "id": receipt["resource_id"],
        "type": "server",
    }
    assert status["started_at"] and status["finished_at"]
    assert [e["seq"] for e in status["events"]] == list(range(1, len(status["events"]) + 1))
    row = owner_client.get(f"/api/v1/servers/{receipt['resource_id']}").json()
    assert row["provisioning_state"] == "provisioned"
    assert row["provider_resource_id"] == sandbox.all()[0].id
    assert row["dock_name"] == "sandbox" and row["instance_type"] == "s"


def test_update_then_delete_over_http(owner_client, dock, sandbox):
    body = {"dock": str(dock.pk), "resource_type": "server", "spec": {"name": "web-1"}}
    receipt = owner_client.post("/api/v1/provision", body, format="json").json()
    run(receipt["provision_id"])
    url = f"/api/v1/servers/{receipt['resource_id']}"

    update = owner_client.patch(url, {"spec": {"size": "large"}}, format="json")
    assert update.status_code == 202 and update.json()["kind"] == "update"
    run(update.json()["provision_id"])
    assert owner_client.get(update.json()["status_url"]).json()["status"] == "succeeded"
    assert owner_client.get(url).json()["spec"] == {"name": "web-1", "size": "large"}

    delete = owner_client.delete(url)
    assert delete.status_code == 202 and delete.json()["kind"] == "delete"
    assert owner_client.get(url).json()["provisioning_state"] == "deprovisioning"
    run(delete.json()["provision_id"])
    assert owner_client.get(url).status_code == 404
    assert sandbox.all() == []


def test_an_invalid_change_names_the_field(owner_client, dock, sandbox):
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "web-1"}}
    receipt = owner_client.post("/api/v1/provision", body, format="json").json()
    run(receipt["provision_id"])
    response = owner_client.patch(
        f"/api/v1/servers/{receipt['resource_id']}", {"spec": {"latency_ms": -1}}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["spec.latency_ms"]


def test_unknown_resource_type_names_the_field(owner_client, dock):
    body = {"dock": "sandbox", "resource_type": "teapot", "spec": {"name": "x"}}
    response = owner_client.post("/api/v1/provision", body, format="json")
    assert response.status_code == 400
    assert "resource_type" in response.json()["error"]["fields"]


def test_a_developer_with_a_provision_grant_may_provision_on_that_dock(developer, client_for, dock):
    from guardian.shortcuts import assign_perm

    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "w"}}
    client = client_for(developer)
    assert client.post("/api/v1/provision", body, format="json").status_code == 403
    assign_perm("docks.provision_dock", developer.user, dock)
    assert client.post("/api/v1/provision", body, format="json").status_code == 202
    # the grant also lets them see that dock (and only that one)
    DockFactory(org=dock.org, name="other", provider="sandbox")
    names = [d["name"] for d in client.get("/api/v1/docks").json()["results"]]
    assert names == ["sandbox"]


def test_operation_status_is_cheap_to_poll(owner_client, dock, django_assert_max_num_queries):
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "w"}}
    url = owner_client.post("/api/v1/provision", body, format="json").json()["status_url"]
    owner_client.get(url)  # the token's last use was just recorded
    with django_assert_max_num_queries(3):  # the token, the operation, its events
        assert owner_client.get(url).status_code == 200


def test_events_after_returns_only_newer_events(owner_client, dock, sandbox):
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "w"}}
    receipt = owner_client.post("/api/v1/provision", body, format="json").json()
    run(receipt["provision_id"])
    events = owner_client.get(receipt["status_url"]).json()["events"]
    assert len(events) >= 2
    newer = owner_client.get(receipt["status_url"], {"events_after": events[0]["seq"]}).json()
    assert newer["events"] == events[1:]


def test_operations_list_filters(owner_client, dock, owner):
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "w"}}
    owner_client.post("/api/v1/provision", body, format="json")
    owner_client.post(f"/api/v1/docks/{dock.pk}/sync")
    other = DockFactory(org=owner.org, name="other", provider="sandbox")
    owner_client.post(f"/api/v1/docks/{other.pk}/sync")

    def kinds(**query):
        response = owner_client.get("/api/v1/operations", query)
        assert response.status_code == 200, response.json()
        return sorted(op["kind"] for op in response.json()["results"])

    assert kinds() == ["provision", "sync", "sync"]
    assert kinds(kind="sync") == ["sync", "sync"]
    assert kinds(dock="other") == ["sync"]
    assert kinds(dock=str(dock.pk)) == ["provision", "sync"]
    assert kinds(status="queued") == ["provision", "sync", "sync"]
    assert kinds(status="failed") == []
    assert kinds(since="2999-01-01T00:00:00Z") == []
    Operation.objects.filter(kind="provision").update(status="succeeded")
    assert kinds(status="succeeded") == ["provision"]


def test_outsider_never_sees_acme_operations(owner_client, dock, client_for, outsider):
    owner_client.post(f"/api/v1/docks/{dock.pk}/sync")
    assert client_for(outsider).get("/api/v1/operations").json()["count"] == 0


def test_resource_filters(owner_client, dock, owner):
    from tests.api.conftest import discovered, provisioned_bucket

    provisioned_bucket(dock, "alpha")
    discovered(dock, "buckets", "beta")
    other = DockFactory(org=owner.org, name="aws-ish", provider="sandbox")
    discovered(other, "buckets", "gamma")

    def names(**query):
        response = owner_client.get("/api/v1/buckets", query)
        assert response.status_code == 200, response.json()
        return [b["name"] for b in response.json()["results"]]

    assert names() == ["alpha", "beta", "gamma"]
    assert names(dock="aws-ish") == ["gamma"]
    assert names(dock=str(dock.pk)) == ["alpha", "beta"]
    assert names(provisioning_source="api") == ["alpha"]
    assert names(provisioning_source="manual") == ["beta", "gamma"]
    assert names(provisioning_state="provisioned") == ["alpha"]
    assert names(search="bet") == ["beta"]
    assert names(provider="sandbox") == ["alpha", "beta", "gamma"]
    assert names(provider="aws") == []
    assert Server.objects.count() == 0
