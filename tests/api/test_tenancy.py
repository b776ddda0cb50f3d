"""whoami, members, roles and tokens: nobody grants above their own role."""

from __future__ import annotations

import pytest

from stackdock.models import ApiToken, Membership, Role
from tests.api.conftest import client_with, secret_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_whoami_describes_the_token_and_its_role(client_for, developer):
    body = client_for(developer).get("/api/v1/whoami").json()
    assert body["user"]["username"] == "dev@acme.test"
    assert body["org"]["slug"] == "acme" and body["role"] == "developer"
    assert body["permissions"]["provisioning"] == "read"
    assert body["permissions"]["docks"] == "none"
    assert len(body["permissions"]) == 7
    token = ApiToken.objects.get(membership=developer)
    assert body["token"]["prefix"] == token.prefix


@pytest.fixture
def lead(org):
    """A custom role: full on members, read on docks, nothing else."""
    role = Role.objects.create(
        org=org, name="lead", permissions={"members": "full", "docks": "read"}
    )
    return MembershipFactory(org=org, role=role, user=UserFactory(username="lead@acme.test"))


def test_nobody_creates_a_role_above_their_own(client_for, lead):
    client = client_for(lead)
    ok = client.post(
        "/api/v1/roles", {"name": "reader", "permissions": {"docks": "read"}}, format="json"
    )
    assert ok.status_code == 201
    assert ok.json()["permissions"]["docks"] == "read"
    assert ok.json()["permissions"]["audit"] == "none"
    above = client.post(
        "/api/v1/roles", {"name": "boss", "permissions": {"docks": "full"}}, format="json"
    )
    assert above.status_code == 403
    assert not Role.objects.filter(name="boss").exists()


def test_nobody_gives_a_member_a_role_above_their_own(client_for, lead, viewer):
    client = client_for(lead)
    response = client.patch(f"/api/v1/members/{viewer.pk}", {"role": "admin"}, format="json")
    assert response.status_code == 403
    viewer.refresh_from_db()
    assert viewer.role.name == "viewer"
    response = client.post(
        "/api/v1/members", {"email": "x@acme.test", "role": "owner"}, format="json"
    )
    assert response.status_code == 403


def test_role_permissions_are_validated(owner_client):
    response = owner_client.post(
        "/api/v1/roles", {"name": "odd", "permissions": {"docks": "admin"}}, format="json"
    )
    assert response.status_code == 400
    assert "permissions.docks" in response.json()["error"]["fields"]
    response = owner_client.post(
        "/api/v1/roles", {"name": "odd", "permissions": {"galaxy": "read"}}, format="json"
    )
    assert response.status_code == 400
    assert "permissions" in response.json()["error"]["fields"]


def test_builtin_roles_cannot_be_changed_or_deleted(owner_client, org):
    viewer_role = Role.objects.get(org=org, name="viewer")
    url = f"/api/v1/roles/{viewer_role.pk}"
    assert owner_client.patch(url, {"permissions": {}}, format="json").status_code == 409
    assert owner_client.delete(url).status_code == 409


def test_members_add_change_remove(owner_client, owner):
    """Adding is an invitation; the invited person accepts; then change and remove."""
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    invited = owner_client.post(
        "/api/v1/members", {"email": "New@Acme.test", "role": "developer"}, format="json"
    )
    assert invited.status_code == 201
    assert invited.json()["email"] == "new@acme.test" and invited.json()["role"] == "developer"
    newcomer = APIClient()
    newcomer.force_login(UserFactory(username="new@acme.test"))
    accepted = newcomer.post(
        "/api/v1/invitations/accept", {"token": invited.json()["link"]}, format="json"
    )
    assert accepted.status_code == 201
    member = accepted.json()
    assert member["user"]["email"] == "new@acme.test" and member["role"] == "developer"
    again = owner_client.post(
        "/api/v1/members", {"email": "new@acme.test", "role": "viewer"}, format="json"
    )
    assert again.status_code == 409  # already a member
    changed = owner_client.patch(
        f"/api/v1/members/{member['id']}", {"role": "viewer"}, format="json"
    )
    assert changed.json()["role"] == "viewer"
    listed = owner_client.get("/api/v1/members").json()
    assert {m["user"]["username"] for m in listed["results"]} == {
        "owner@acme.test",
        "new@acme.test",
    }
    assert owner_client.delete(f"/api/v1/members/{member['id']}").status_code == 204
    assert not Membership.objects.filter(pk=member["id"]).exists()


def test_the_last_owner_cannot_leave(owner_client, owner):
    assert owner_client.delete(f"/api/v1/members/{owner.pk}").status_code == 409
    response = owner_client.patch(f"/api/v1/members/{owner.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 409


def test_unknown_role_name_names_the_field(owner_client):
    response = owner_client.post(
        "/api/v1/members", {"email": "a@acme.test", "role": "emperor"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()["error"]["fields"]


def test_a_member_manages_their_own_tokens(client_for, viewer, owner):
    secret_for(owner)  # someone else's token
    client = client_for(viewer)
    created = client.post("/api/v1/tokens", {"name": "ci", "expires_days": 30}, format="json")
    assert created.status_code == 201
    token = created.json()
    assert token["token"].startswith(f"sdk_{token['prefix']}_")
    assert token["expires_at"] is not None and token["active"] is True

    listed = client.get("/api/v1/tokens").json()
    assert {t["user"] for t in listed["results"]} == {"viewer@acme.test"}
    assert all("token" not in t for t in listed["results"])
    assert token["token"] not in str(listed)

    fresh = client_with(token["token"])
    assert fresh.get("/api/v1/whoami").json()["token"]["id"] == token["id"]
    assert client.delete(f"/api/v1/tokens/{token['id']}").status_code == 204
    assert fresh.get("/api/v1/whoami").status_code == 401
    assert client.delete(f"/api/v1/tokens/{token['id']}").status_code == 409


def test_only_members_full_creates_a_token_for_someone_else(client_for, viewer, owner):
    response = client_for(viewer).post("/api/v1/tokens", {"member": owner.pk}, format="json")
    assert response.status_code == 403
    response = client_for(owner).post("/api/v1/tokens", {"member": viewer.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["user"] == "viewer@acme.test"


def test_admins_see_every_token_of_the_org(client_for, admin, viewer):
    secret_for(viewer)
    users = {t["user"] for t in client_for(admin).get("/api/v1/tokens").json()["results"]}
    assert users == {"viewer@acme.test", "admin@acme.test"}


def test_token_expiry_is_validated(owner_client):
    response = owner_client.post("/api/v1/tokens", {"expires_days": 0}, format="json")
    assert response.status_code == 400
    assert "expires_days" in response.json()["error"]["fields"]
