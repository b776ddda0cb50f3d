"""Service accounts: memberships for automation that nobody signs in as (issue 15, rule 1)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from conftest import actor_of
from stackdock.models import BUILTIN_ROLES, Membership
from stackdock.services import token_create


def api_as(membership: Membership) -> APIClient:
    _, secret = token_create(actor=actor_of(membership), membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.django_db
def test_a_service_account_has_no_password_and_its_maker_makes_its_tokens(admin):
    maker = api_as(admin)
    created = maker.post("/api/v1/service-accounts", {"name": "ci", "role": "developer"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["service_account"] is True and body["role"] == "developer"
    assert body["user"]["username"] == "ci@acme.service.invalid"
    member = Membership.objects.get(pk=body["id"])
    assert not member.user.has_usable_password()
    assert not Client().login(username="ci@acme.service.invalid", password="")

    token = maker.post("/api/v1/tokens", {"name": "pipeline", "member": member.pk})
    assert token.status_code == 201
    assert token.json()["scope"] == BUILTIN_ROLES["developer"]  # pinned to what it holds
    ci = APIClient()
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['token']}")
    me = ci.get("/api/v1/whoami").json()
    assert me["user"]["username"] == "ci@acme.service.invalid"
    assert me["permissions"] == BUILTIN_ROLES["developer"]


@pytest.mark.django_db
def test_a_service_account_gets_no_role_above_its_maker(admin):
    response = api_as(admin).post("/api/v1/service-accounts", {"name": "ci", "role": "owner"})
    assert response.status_code == 403
    assert "only an owner" in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "CI", "-ci", "a" * 41, "ci@x"])
def test_a_bad_name_is_refused_naming_the_field(owner, name):
    response = api_as(owner).post("/api/v1/service-accounts", {"name": name, "role": "viewer"})
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_names_are_per_organization_and_unique_in_one(owner, outsider):
    assert (
        api_as(owner).post("/api/v1/service-accounts", {"name": "ci", "role": "viewer"}).status_code
        == 201
    )
    again = api_as(owner).post("/api/v1/service-accounts", {"name": "ci", "role": "viewer"})
    assert again.status_code == 409
    other = api_as(outsider).post("/api/v1/service-accounts", {"name": "ci", "role": "viewer"})
    assert other.status_code == 201
    assert other.json()["user"]["username"] == "ci@globex.service.invalid"
