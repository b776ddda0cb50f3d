"""The audit log (filters, export) and organization settings (members, roles, tokens)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from audit.models import AuditEvent
from audit.services import audit_log
from conftest import actor_of
from stackdock.models import ApiToken, Membership, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_audit_page_lists_and_filters_events(login, owner, org, htmx):
    actor = actor_of(owner)
    audit_log(
        actor=actor, org=org, operation="resource.provision", target=("bucket", "1", "photos")
    )
    audit_log(actor=actor, org=org, operation="dock.create", target=("dock", "2", "aws"))
    client = login(owner)
    page = client.get("/dashboard/audit/").content.decode()
    assert "<code>resource.provision</code>" in page and "<code>dock.create</code>" in page
    only = client.get("/dashboard/audit/?operation=resource.*", **htmx).content.decode()
    assert "resource.provision" in only and "dock.create" not in only
    assert (
        "No event matches" in client.get("/dashboard/audit/?actor=nobody", **htmx).content.decode()
    )


def test_audit_of_another_org_is_not_shown(login, owner, outsider, org):
    audit_log(actor=actor_of(owner), org=org, operation="acme.secret.thing")
    assert "acme.secret.thing" not in login(outsider).get("/dashboard/audit/").content.decode()


def test_export_csv_and_jsonl_of_the_filtered_events(login, owner, org):
    actor = actor_of(owner)
    audit_log(
        actor=actor, org=org, operation="resource.provision", target=("b", "1", "=HYPERLINK(1)")
    )
    audit_log(actor=actor, org=org, operation="dock.create")
    client = login(owner)
    response = client.get("/dashboard/audit/export.csv?operation=resource.*")
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-acme-')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [r["operation"] for r in rows] == ["resource.provision"]
    assert rows[0]["target_repr"] == "'=HYPERLINK(1)"  # no formula runs in a spreadsheet
    lines = body(client.get("/dashboard/audit/export.jsonl")).splitlines()
    ops = [json.loads(line)["operation"] for line in lines]
    assert ops.index("resource.provision") < ops.index("dock.create")  # oldest first


def test_members_add_and_change_role(login, owner, org):
    client = login(owner)
    response = client.post(
        "/dashboard/settings/members/", {"email": "New@Acme.test", "role": "viewer"}
    )
    assert response.status_code == 200 and "Invitation sent" in response.content.decode()
    new = MembershipFactory(org=org, role_name="viewer", user=UserFactory(username="new@acme.test"))
    assert new.role.name == "viewer"
    client.post(f"/dashboard/settings/members/{new.pk}/role/", {"role": "developer"})
    new.refresh_from_db()
    assert new.role.name == "developer"
    dup = client.post("/dashboard/settings/members/", {"email": "new@acme.test", "role": "viewer"})
    assert dup.status_code == 400 and "already a member" in dup.content.decode()
    assert {"member.invite", "member.change"} <= set(
        AuditEvent.objects.values_list("operation", flat=True)
    )


def test_last_owner_cannot_be_demoted(login, owner):
    response = login(owner).post(
        f"/dashboard/settings/members/{owner.pk}/role/", {"role": "viewer"}
    )
    assert response.status_code == 409 and "at least one owner" in response.content.decode()


def test_member_removal_asks_for_confirmation(login, owner, viewer):
    client = login(owner)
    confirm = client.get(f"/dashboard/settings/members/{viewer.pk}/remove/").content.decode()
    assert "Remove viewer@acme.test?" in confirm
    client.post(f"/dashboard/settings/members/{viewer.pk}/remove/")
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_roles_matrix_creates_and_edits_a_custom_role(login, owner, org):
    client = login(owner)
    page = client.get("/dashboard/settings/roles/").content.decode()
    assert "built-in" in page and 'name="perm_docks"' in page
    data = {
        "name": "auditor",
        **{
            f"perm_{a}": "none"
            for a in ("resources", "docks", "provisioning", "credentials", "members", "settings")
        },
        "perm_audit": "read",
    }
    assert client.post("/dashboard/settings/roles/", data).status_code == 303
    role = Role.objects.get(org=org, name="auditor")
    assert role.level("audit") == "read" and role.level("docks") == "none"
    page = client.get("/dashboard/settings/roles/").content.decode()
    assert f'form="role-form-{role.pk}"' in page  # its selects are editable
    change = {
        f"role{role.pk}-perm_{a}": "read"
        for a in (
            "resources",
            "docks",
            "provisioning",
            "credentials",
            "members",
            "audit",
            "settings",
        )
    }
    client.post(f"/dashboard/settings/roles/{role.pk}/", change)
    role.refresh_from_db()
    assert role.level("docks") == "read"
    builtin = Role.objects.get(org=org, name="viewer")
    forged = {k.replace(f"role{role.pk}-", f"role{builtin.pk}-"): v for k, v in change.items()}
    refused = client.post(f"/dashboard/settings/roles/{builtin.pk}/", forged)
    assert refused.status_code == 409 and "cannot be changed" in refused.content.decode()


def test_token_secret_is_shown_once(login, developer):
    client = login(developer)
    response = client.post("/dashboard/settings/tokens/", {"name": "ci"})
    html = response.content.decode()
    token = ApiToken.objects.get()
    secret = html.split('id="new-token" class="mono" readonly value="')[1].split('"')[0]
    assert secret.startswith(f"sdk_{token.prefix}_") and response["Cache-Control"] == "no-store"
    later = client.get("/dashboard/settings/tokens/").content.decode()
    assert secret not in later and f"sdk_{token.prefix}_…" in later
    client.post(f"/dashboard/settings/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_member_cannot_revoke_someone_elses_token(login, owner, developer):
    login(owner).post("/dashboard/settings/tokens/", {"name": "owner-token"})
    token = ApiToken.objects.get()
    assert (
        login(developer).post(f"/dashboard/settings/tokens/{token.pk}/revoke/").status_code == 404
    )
    token.refresh_from_db()
    assert token.revoked_at is None


def test_audit_shows_people_by_default_and_the_system_on_request(login, owner, org, htmx):
    from stackdock.permissions import Actor

    audit_log(actor=actor_of(owner), org=org, operation="dock.create", target=("dock", "1", "a"))
    audit_log(actor=Actor.system("sync", org), org=org, operation="dock.sync")
    client = login(owner)
    people = client.get("/dashboard/audit/").content.decode()
    assert "<code>dock.create</code>" in people and "<code>dock.sync</code>" not in people
    everyone = client.get("/dashboard/audit/?who=all", **htmx).content.decode()
    assert "<code>dock.create</code>" in everyone and "<code>dock.sync</code>" in everyone
    system = client.get("/dashboard/audit/?who=system", **htmx).content.decode()
    assert "<code>dock.create</code>" not in system and "<code>dock.sync</code>" in system


def test_the_dashboard_and_the_api_read_operation_filters_alike(login, owner, owner_client, org):
    audit_log(actor=actor_of(owner), org=org, operation="dock.create", target=("dock", "1", "a"))
    audit_log(actor=actor_of(owner), org=org, operation="dockyard.thing")
    client = login(owner)
    for query, expected in (
        ("dock.*", {"dock.create"}),
        ("dock.create", {"dock.create"}),
        ("dock.", set()),
        ("dock*", {"dock.create", "dockyard.thing"}),
    ):
        page = client.get("/dashboard/audit/", {"operation": query}).content.decode()
        shown = {op for op in ("dock.create", "dockyard.thing") if f"<code>{op}</code>" in page}
        api = owner_client.get("/api/v1/audit", {"operation": query}).json()["results"]
        assert shown == expected == {e["operation"] for e in api} - {"token.create"}, query
