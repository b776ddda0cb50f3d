"""Stacks over HTTP: YAML or JSON documents, plan, deploy, versions, destroy, unlock."""

from __future__ import annotations

import json

import pytest
import yaml

from provisioning.models import Stack, StackLock
from provisioning.runner import operation_run
from tests.api.conftest import STACK_DOC
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dock(owner, sandbox):
    return DockFactory(org=owner.org, name="sandbox", provider="sandbox")


def run(receipt):
    assert operation_run(receipt["provision_id"], worker="test") is not None


def test_create_from_a_yaml_body_keeps_the_text(owner_client, dock):
    response = owner_client.generic(
        "POST", "/api/v1/stacks", STACK_DOC, content_type="application/yaml"
    )
    assert response.status_code == 201, response.json()
    stack = response.json()
    assert stack["name"] == "web"
    assert stack["spec_text"] == STACK_DOC
    assert sorted(stack["spec"]["resources"]) == ["db", "site"]
    assert stack["resources"] == [] and stack["lock"] is None


def test_create_from_a_json_object(owner_client, dock):
    doc = yaml.safe_load(STACK_DOC)
    response = owner_client.post(
        "/api/v1/stacks", {"spec": doc, "on_failure": "rollback"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["on_failure"] == "rollback"
    assert json.loads(response.json()["spec_text"]) == doc


def test_yaml_errors_point_at_the_field_and_line(owner_client, dock):
    bad = STACK_DOC.replace("type: web-service", "type: teapot")
    response = owner_client.generic("POST", "/api/v1/stacks", bad, content_type="text/yaml")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["spec.resources.site.type"]
    assert "(line 9)" in fields["spec.resources.site.type"][0]


def test_a_reference_cycle_is_a_400(owner_client, dock):
    doc = (
        "name: loop\nresources:\n"
        "  a: {dock: sandbox, type: server, properties: {name: '${b.name}'}}\n"
        "  b: {dock: sandbox, type: server, properties: {name: '${a.name}'}}\n"
    )
    response = owner_client.post("/api/v1/stacks", {"spec": doc}, format="json")
    assert response.status_code == 400
    assert "cycle" in response.json()["error"]["message"].lower()


def test_plan_deploy_versions_destroy(owner_client, dock, sandbox):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    plan = owner_client.post("/api/v1/stacks/web/plan").json()
    assert sorted((c["resource"], c["action"]) for c in plan["changes"]) == [
        ("db", "create"),
        ("site", "create"),
    ]
    assert plan["summary"] == {"create": 2, "update": 0, "replace": 0, "delete": 0, "no-op": 0}

    deploy = owner_client.post("/api/v1/stacks/web/deploy", {"targets": ["db"]}, format="json")
    assert deploy.status_code == 202 and deploy.json()["stack"] == "web"
    run(deploy.json())
    assert owner_client.get(deploy.json()["status_url"]).json()["status"] == "succeeded"
    stack = owner_client.get("/api/v1/stacks/web").json()
    assert [r["name"] for r in stack["resources"]] == ["db"]
    assert stack["resource_count"] == 1

    run(owner_client.post("/api/v1/stacks/web/deploy").json())
    assert sorted(r.name for r in sandbox.all()) == ["app-db", "app-db-site"]
    versions = owner_client.get("/api/v1/stacks/web/versions").json()
    assert versions["count"] == 2
    assert [v["number"] for v in versions["results"]] == [2, 1]
    plan = owner_client.post("/api/v1/stacks/web/plan").json()
    assert plan["summary"]["no-op"] == 2

    destroy = owner_client.post("/api/v1/stacks/web/destroy")
    assert destroy.status_code == 202
    run(destroy.json())
    assert sandbox.all() == []
    assert owner_client.delete("/api/v1/stacks/web").status_code == 204
    assert owner_client.get("/api/v1/stacks/web").status_code == 404


def test_unknown_targets_are_a_400(owner_client, dock):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    response = owner_client.post("/api/v1/stacks/web/deploy", {"targets": ["nope"]}, format="json")
    assert response.status_code == 400
    assert "targets" in response.json()["error"]["fields"]


def test_put_replaces_the_spec_and_keeps_the_name(owner_client, dock):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    new = STACK_DOC.replace("name: app-db", "name: other-db")
    response = owner_client.generic(
        "PUT", "/api/v1/stacks/web", new, content_type="application/yaml"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["spec"]["resources"]["db"]["properties"]["name"] == "other-db"
    renamed = new.replace("name: web", "name: www", 1)
    response = owner_client.put("/api/v1/stacks/web", {"spec": renamed}, format="json")
    assert response.status_code == 400
    assert "spec.name" in response.json()["error"]["fields"]


def test_put_on_an_unknown_stack_is_a_404_not_a_create(owner_client, dock):
    response = owner_client.put("/api/v1/stacks/ghost", {"spec": STACK_DOC}, format="json")
    assert response.status_code == 404
    assert not Stack.objects.filter(name="ghost").exists()


def test_unlock_drops_the_lock_and_reports_it(owner_client, dock, client_for, viewer):
    from datetime import timedelta

    from django.utils import timezone

    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    now = timezone.now()
    StackLock.objects.create(
        stack=Stack.objects.get(name="web"),
        holder="99",
        since=now,
        expires_at=now + timedelta(minutes=5),
    )
    assert owner_client.get("/api/v1/stacks").json()["results"][0]["lock"]["holder"] == "99"
    assert owner_client.post("/api/v1/stacks/web/deploy").status_code == 409
    assert client_for(viewer).post("/api/v1/stacks/web/unlock").status_code == 403
    response = owner_client.post("/api/v1/stacks/web/unlock")
    assert response.status_code == 200
    assert response.json()["released"]["holder"] == "99"
    assert owner_client.post("/api/v1/stacks/web/deploy").status_code == 202


def test_single_resource_stacks_are_not_listed(owner_client, dock):
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "w"}}
    owner_client.post("/api/v1/provision", body, format="json")
    assert owner_client.get("/api/v1/stacks").json()["count"] == 0
    single = Stack.objects.get().name
    assert owner_client.get(f"/api/v1/stacks/{single}").status_code == 404


@pytest.mark.parametrize(
    "doc",
    [
        "[" * 100_000,  # crashes libyaml's composer if it ever gets there
        "- " * 100_000 + "x",
        "{" * 5000 + "}" * 5000,
        "a: &a [x]\nb: *a\n" + "c: !!python/object:os.system x\n",
        "name: web\nresources: 3\n",
        "\ufeff\x07",
    ],
    ids=["flow", "block", "json", "tags", "shape", "control"],
)
def test_hostile_documents_are_a_400_in_any_body_form(owner_client, dock, doc):
    response = owner_client.generic(
        "POST", "/api/v1/stacks", doc.encode(), content_type="application/yaml"
    )
    assert response.status_code == 400, response.content[:300]
    response = owner_client.post("/api/v1/stacks", {"spec": doc}, format="json")
    assert response.status_code == 400, response.content[:300]
    response = owner_client.put("/api/v1/stacks/web", {"spec": doc}, format="json")
    assert response.status_code in (400, 404)
