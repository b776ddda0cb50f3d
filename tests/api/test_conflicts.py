"""The 409s: locked stacks, docks with provisioned resources, discovered resources..."""

from __future__ import annotations

import pytest

from docks.models import Bucket, Dock
from provisioning.models import Operation
from tests.api.conftest import STACK_DOC, discovered, provisioned_bucket
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dock(owner):
    return DockFactory(org=owner.org, name="sandbox", provider="sandbox")


def test_two_deploys_of_one_stack_one_202_one_409(owner_client, dock):
    assert (
        owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json").status_code == 201
    )
    first = owner_client.post("/api/v1/stacks/web/deploy")
    second = owner_client.post("/api/v1/stacks/web/deploy")
    assert (first.status_code, second.status_code) == (202, 409)
    message = second.json()["error"]["message"]
    assert (
        message.startswith("stack locked by operation")
        and str(first.json()["provision_id"]) in message
    )
    assert Operation.objects.filter(kind="deploy").count() == 1


def test_a_destroy_while_a_deploy_is_queued_is_a_409(owner_client, dock):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    assert owner_client.post("/api/v1/stacks/web/deploy").status_code == 202
    assert owner_client.post("/api/v1/stacks/web/destroy").status_code == 409


def test_deleting_a_dock_with_provisioned_resources_is_a_409(owner_client, dock):
    bucket = provisioned_bucket(dock)
    response = owner_client.delete(f"/api/v1/docks/{dock.pk}")
    assert response.status_code == 409
    assert "provisioned by StackDock" in response.json()["error"]["message"]
    assert Dock.objects.filter(pk=dock.pk).exists()
    response = owner_client.delete(f"/api/v1/docks/{dock.pk}?orphan=true")
    assert response.status_code == 204
    assert not Dock.objects.filter(pk=dock.pk).exists()
    bucket.refresh_from_db()
    assert bucket.dock_id is None  # kept, detached


def test_deleting_a_dock_with_only_discovered_resources_works(owner_client, dock):
    discovered(dock, "servers")
    assert owner_client.delete(f"/api/v1/docks/{dock.pk}").status_code == 204


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_changing_a_discovered_resource_is_a_409_saying_so(owner_client, dock, method):
    row = discovered(dock, "buckets")
    response = getattr(owner_client, method)(
        f"/api/v1/buckets/{row.pk}", {"spec": {"size": "x"}}, format="json"
    )
    assert response.status_code == 409
    assert "not provisioned by StackDock" in response.json()["error"]["message"]
    assert not Operation.objects.exists()


def test_deleting_a_resource_while_it_is_being_updated_is_a_409(owner_client, dock):
    bucket = provisioned_bucket(dock)
    url = f"/api/v1/buckets/{bucket.pk}"
    assert owner_client.patch(url, {"spec": {"size": "l"}}, format="json").status_code == 202
    assert owner_client.delete(url).status_code == 409
    bucket.refresh_from_db()
    assert bucket.provisioning_state == "provisioned"


def test_a_second_stack_with_the_same_name_is_a_409(owner_client, dock):
    assert (
        owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json").status_code == 201
    )
    response = owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"name": ["taken"]}


def test_renaming_a_dock_onto_another_is_a_409(owner_client, dock, owner):
    other = DockFactory(org=owner.org, name="other", provider="sandbox")
    response = owner_client.patch(f"/api/v1/docks/{other.pk}", {"name": "sandbox"}, format="json")
    assert response.status_code == 409


def test_cancelling_a_finished_operation_is_a_409(owner_client, dock):
    op = Operation.objects.create(org=dock.org, kind="sync", status="succeeded", actor_repr="t")
    assert owner_client.post(f"/api/v1/operations/{op.pk}/cancel").status_code == 409


def test_cancelling_a_queued_provision_removes_its_unmade_row(owner_client, dock):
    body = {"dock": "sandbox", "resource_type": "bucket", "spec": {"name": "tmp"}}
    receipt = owner_client.post("/api/v1/provision", body, format="json").json()
    response = owner_client.post(f"/api/v1/operations/{receipt['provision_id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert not Bucket.objects.filter(pk=receipt["resource_id"]).exists()


def test_deleting_a_stack_that_manages_resources_is_a_409(owner_client, dock):
    from provisioning.models import Stack, StackResource

    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    StackResource.objects.create(
        stack=Stack.objects.get(name="web"),
        name="db",
        type="database",
        provider="sandbox",
        dock_ref="sandbox",
        status="created",
    )
    assert owner_client.delete("/api/v1/stacks/web").status_code == 409
