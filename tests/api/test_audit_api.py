"""``GET /audit`` and the streamed export."""

from __future__ import annotations

import csv
import io
import json

import pytest

from audit.models import AuditEvent
from audit.services import audit_log
from stackdock.permissions import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(owner, outsider):
    org = owner.org
    actor = Actor.for_membership(owner)
    audit_log(actor=actor, org=org, operation="dock.create", target=("docks.dock", "1", "d1"))
    audit_log(actor=actor, org=org, operation="dock.delete", target=("docks.dock", "1", "d1"))
    audit_log(
        actor=actor,
        org=org,
        operation="credential.rotate",
        status="failure",
        metadata={"note": '=HYPERLINK("http://evil")'},
    )
    audit_log(actor=Actor.for_membership(outsider), org=outsider.org, operation="dock.create")


def operations(client, **query):
    response = client.get("/api/v1/audit", query)
    assert response.status_code == 200, response.json()
    return [e["operation"] for e in response.json()["results"]]


def test_list_is_newest_first_and_this_orgs_only(owner_client, events):
    ops = operations(owner_client)
    assert ops[:3] == ["credential.rotate", "dock.delete", "dock.create"]
    assert AuditEvent.objects.filter(org__slug="globex").exists()
    assert ops.count("dock.create") == 1  # globex's is not there


def test_filters(owner_client, events):
    assert operations(owner_client, operation="dock.delete") == ["dock.delete"]
    assert operations(owner_client, operation="dock.*") == ["dock.delete", "dock.create"]
    assert operations(owner_client, status="failure") == ["credential.rotate"]
    assert operations(owner_client, target_type="docks.dock") == ["dock.delete", "dock.create"]
    assert operations(owner_client, since="2999-01-01T00:00:00Z") == []
    assert operations(owner_client, until="2000-01-01T00:00:00Z") == []
    assert "dock.create" in operations(owner_client, actor="owner@acme")
    assert operations(owner_client, actor="nobody") == []


def test_developer_needs_audit_read(client_for, developer, events):
    response = client_for(developer).get("/api/v1/audit")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(operation="permission.denied").exists()


def stream(response):
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_export_csv_escapes_formulas(owner_client, events):
    response = owner_client.get(
        "/api/v1/audit/export", {"format": "csv", "operation": "credential.*"}
    )
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="acme-audit.csv"'
    rows = list(csv.DictReader(io.StringIO(stream(response))))
    assert [r["operation"] for r in rows] == ["credential.rotate"]
    assert rows[0]["metadata"].startswith('{"note": "=HYPERLINK')  # inside JSON: harmless
    assert rows[0]["status"] == "failure"


def test_export_csv_quotes_a_cell_that_starts_a_formula(owner_client, owner):
    target = ("docks.dock", "7", "=cmd|' /C calc'!A0")
    audit_log(actor=Actor.for_membership(owner), org=owner.org, operation="x", target=target)
    text = stream(owner_client.get("/api/v1/audit/export", {"format": "csv", "operation": "x"}))
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["target_repr"] == "'=cmd|' /C calc'!A0"


def test_export_jsonl_is_the_default_and_ignores_accept(owner_client, events):
    response = owner_client.get("/api/v1/audit/export", HTTP_ACCEPT="text/csv")
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in stream(response).splitlines()]
    ours = AuditEvent.objects.filter(org__slug="acme").count()
    assert len(lines) == ours
    assert {"operation", "hash", "prev_hash", "metadata", "created_at"} <= set(lines[0])


def test_export_bad_format_is_a_400(owner_client):
    response = owner_client.get("/api/v1/audit/export", {"format": "xml"})
    assert response.status_code == 400
    assert "format" in response.json()["error"]["fields"]


def test_export_needs_audit_read(client_for, viewer):
    assert client_for(viewer).get("/api/v1/audit/export").status_code == 403
