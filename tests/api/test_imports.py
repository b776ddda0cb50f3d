"""``POST /{table}/{id}/import`` and ``POST /stacks/{name}/import`` on the sandbox
(docs/API.md, "Import"; docs/ENGINE.md, "What StackDock promises", 7)."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.models import Server
from docks.services import dock_grant
from provisioning.models import Stack
from tests.api.conftest import STACK_DOC
from tests.factories import DockFactory
from tests.provisioning.test_imports import made_elsewhere

pytestmark = pytest.mark.django_db


@pytest.fixture
def dock(org, sandbox):
    return DockFactory(org=org, name="sandbox", provider="sandbox")


def test_a_discovered_row_imported_alone_answers_what_it_read(owner_client, dock, sandbox):
    row = made_elsewhere(sandbox, dock, "server", "legacy", "m")
    response = owner_client.post(f"/api/v1/servers/{row.pk}/import")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "table": "servers",
        "id": row.pk,
        "name": "legacy",
        "dock": "sandbox",
        "resource_type": "server",
        "provisioning_source": "api",
        "provisioning_state": "provisioned",
        "stack": None,
        "resource": None,
        "properties": {"name": "legacy", "size": "m"},
        "notes": [],
    }
    detail = owner_client.get(f"/api/v1/servers/{row.pk}").json()
    assert (detail["provisioning_source"], detail["spec"]) == (
        "api",
        {"name": "legacy", "size": "m"},
    )
    again = owner_client.post(f"/api/v1/servers/{row.pk}/import")
    assert again.status_code == 409 and "already managed" in again.json()["error"]["message"]


def test_a_discovered_row_imported_into_a_stack_joins_its_spec(owner_client, dock, sandbox):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    row = made_elsewhere(sandbox, dock, "server", "legacy")
    body = {"table": "servers", "id": row.pk, "resource": "box"}
    response = owner_client.post("/api/v1/stacks/web/import", body, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["stack"], response.json()["resource"]) == ("web", "box")
    spec = owner_client.get("/api/v1/stacks/web").json()["spec"]
    assert spec["resources"]["box"]["properties"] == {"name": "legacy", "size": "small"}
    plan = owner_client.post("/api/v1/stacks/web/plan", {}, format="json").json()
    assert {c["resource"]: c["action"] for c in plan["changes"]}["box"] == "no-op"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"table": "servers", "resource": "box"}, "id"),
        ({"table": "tables", "id": 1, "resource": "box"}, "table"),
        ({"table": "servers", "id": 1, "resource": "Box!"}, "resource"),
        ({"table": "servers", "id": 1, "resource": "box", "stack": "x"}, "stack"),
    ],
)
def test_a_bad_stack_import_body_is_a_400_naming_the_field(
    owner_client, dock, sandbox, body, field
):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    if field == "resource":
        body = {**body, "id": made_elsewhere(sandbox, dock, "server").pk}
    response = owner_client.post("/api/v1/stacks/web/import", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_a_table_import_takes_no_fields_and_an_unknown_row_is_a_404(owner_client, dock, sandbox):
    row = made_elsewhere(sandbox, dock, "server")
    bad = owner_client.post(f"/api/v1/servers/{row.pk}/import", {"stack": "web"}, format="json")
    assert bad.status_code == 400 and "stack" in bad.json()["error"]["fields"]
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    missing = owner_client.post(
        "/api/v1/stacks/web/import",
        {"table": "servers", "id": 987654, "resource": "box"},
        format="json",
    )
    assert missing.status_code == 404 and missing.json()["error"]["fields"] == {"id": ["not found"]}
    assert Server.objects.get(pk=row.pk).provisioning_source == "manual"


def test_a_provision_grant_on_the_dock_is_enough_to_import(
    owner, developer, client_for, dock, sandbox
):
    row = made_elsewhere(sandbox, dock, "server")
    client = client_for(developer)
    assert client.post(f"/api/v1/servers/{row.pk}/import").status_code == 403
    dock_grant(actor=actor_of(owner), dock=dock, membership=developer, perm="provision_dock")
    response = client_for(developer).post(f"/api/v1/servers/{row.pk}/import")
    assert response.status_code == 200, response.content
    assert Stack.objects.filter(kind="single").count() == 1


def test_a_resource_the_provider_lost_is_a_409_and_changes_nothing(owner_client, dock, sandbox):
    row = made_elsewhere(sandbox, dock, "server")
    sandbox.delete(row.provider_resource_id)
    response = owner_client.post(f"/api/v1/servers/{row.pk}/import")
    assert response.status_code == 409
    assert "no longer exists at the provider" in response.json()["error"]["message"]
    assert not Stack.objects.exists()
