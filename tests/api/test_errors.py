"""One error shape for everything, and never a 500 whatever the input."""

from __future__ import annotations

import pytest

from tests.factories import DockFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def error_of(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_validation_error_names_the_spec_field(owner_client, owner):
    dock = DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    response = owner_client.post(
        "/api/v1/provision",
        {"dock": str(dock.pk), "resource_type": "server", "spec": {"name": "Not Valid!"}},
        format="json",
    )
    error = error_of(response, 400)
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["spec.name"]


def test_missing_body_fields_are_named(owner_client):
    error = error_of(owner_client.post("/api/v1/provision", {}, format="json"), 400)
    assert set(error["fields"]) == {"dock", "resource_type", "spec"}
    assert error["message"].startswith("Invalid input: ")


def test_unknown_body_field_is_rejected_not_ignored(owner_client, owner):
    dock = DockFactory(org=owner.org, provider="sandbox")
    response = owner_client.patch(f"/api/v1/docks/{dock.pk}", {"org": "globex"}, format="json")
    assert error_of(response, 400)["fields"] == {"org": ["Unknown field."]}


def test_stack_spec_name_mismatch_names_spec_name(owner_client, owner):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    doc = "name: other\nresources:\n  a: {dock: sandbox, type: server, properties: {name: a}}\n"
    response = owner_client.post("/api/v1/stacks", {"name": "web", "spec": doc}, format="json")
    assert "spec.name" in error_of(response, 400)["fields"]


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        "a string",
        {"dock": ["list"], "resource_type": {"a": 1}, "spec": "not an object"},
        {"dock": None, "resource_type": None, "spec": None},
        {"dock": "x" * 10_000, "resource_type": "y", "spec": {}},
        {"dock": True, "resource_type": 1.5, "spec": []},
    ],
)
def test_wrong_json_types_are_a_400(owner_client, body):
    error = error_of(owner_client.post("/api/v1/provision", body, format="json"), 400)
    assert error["code"] == "invalid"


def test_malformed_json_is_a_400(owner_client):
    response = owner_client.post(
        "/api/v1/provision", data="{not json", content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "parse_error"


def test_unsupported_media_type_is_a_415(owner_client):
    response = owner_client.post("/api/v1/provision", data="a=b", content_type="text/plain")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_nul_characters_are_a_400_not_a_database_error(owner_client, owner):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    body = {"dock": "sandbox", "resource_type": "bucket", "spec": {"name": "a\x00b"}}
    response = owner_client.post("/api/v1/provision", body, format="json")
    assert error_of(response, 400)["fields"] == {"spec.name": ["contains a NUL character"]}
    error_of(owner_client.get("/api/v1/buckets", {"search": "a\x00"}), 400)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/docks/not-a-uuid",
        "/api/v1/docks/00000000-0000-0000-0000-000000000000",
        "/api/v1/buckets/abc",
        "/api/v1/buckets/99999999999999999999999999",
        "/api/v1/buckets/-1",
        "/api/v1/operations/123456789012345678901234567890",
        "/api/v1/stacks/%00",
        "/api/v1/stacks/" + "x" * 5000,
        "/api/v1/no-such-endpoint",
        "/api/v1/docks/",
    ],
)
def test_malformed_or_unknown_ids_are_a_json_404(owner_client, url):
    assert error_of(owner_client.get(url), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        {"provisioning_state": "bogus"},
        {"provisioning_source": "x"},
        {"nonsense": "1"},
        {"search": "s" * 300},
    ],
)
def test_bad_filters_are_a_400(owner_client, query):
    error = error_of(owner_client.get("/api/v1/buckets", query), 400)
    assert set(error["fields"]) == set(query)


@pytest.mark.parametrize("query", [{"since": "yesterday"}, {"status": "done"}, {"kind": 3}])
def test_bad_operation_filters_are_a_400(owner_client, query):
    error_of(owner_client.get("/api/v1/operations", query), 400)


@pytest.mark.parametrize(
    "limit,offset,expected",
    [
        ("10" * 3000, "0", 50),  # absurd limit: the default
        ("100000000000000000000", "0", 200),  # huge: capped
        ("-5", "0", 50),
        ("abc", "xyz", 50),
        ("200", "9" * 40, 0),  # offset past the end: an empty page
    ],
)
def test_pagination_parameters_never_fail(owner_client, owner, limit, offset, expected):
    dock = DockFactory(org=owner.org, provider="sandbox")
    from tests.factories import BucketFactory

    BucketFactory.create_batch(250, dock=dock)
    response = owner_client.get("/api/v1/buckets", {"limit": limit, "offset": offset})
    assert response.status_code == 200
    assert response.json()["count"] == 250
    assert len(response.json()["results"]) == expected


def test_method_not_allowed_is_a_405_in_the_error_shape(owner_client):
    assert error_of(owner_client.put("/api/v1/docks", {}), 405)["code"] == "method_not_allowed"


def test_too_large_a_body_is_a_413(owner_client):
    response = owner_client.generic(
        "POST",
        "/api/v1/stacks",
        "x",
        content_type="application/yaml",
        CONTENT_LENGTH=str(7 * 1024 * 1024),
    )
    assert error_of(response, 413)["code"] == "too_large"


def test_permission_denied_is_a_403_naming_nothing_secret(client_for, viewer):
    DockFactory(org=viewer.org, name="sandbox", provider="sandbox")
    client = client_for(viewer)
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "x"}}
    error = error_of(client.post("/api/v1/provision", body, format="json"), 403)
    assert error["code"] == "permission_denied"


def test_another_orgs_dock_in_a_body_is_a_404_naming_the_field(client_for, outsider, org):
    dock = DockFactory(org=org, name="theirs", provider="sandbox")
    body = {"dock": str(dock.pk), "resource_type": "server", "spec": {"name": "x"}}
    error = error_of(client_for(outsider).post("/api/v1/provision", body, format="json"), 404)
    assert error["fields"] == {"dock": ["not found"]}


def test_disabled_user_token_is_refused(client_for, owner):
    client = client_for(owner)
    owner.user.is_active = False
    owner.user.save()
    response = client.get("/api/v1/whoami")
    assert error_of(response, 401)["code"] == "authentication_failed"


# --- which organization a session acts in ------------------------------------------------
@pytest.fixture
def two_org_user(org, other_org):
    user = UserFactory(username="both@example.test")
    MembershipFactory(org=org, user=user, role_name="viewer")
    MembershipFactory(org=other_org, user=user, role_name="owner")
    return user


def test_session_acts_in_first_membership_by_default(client, two_org_user):
    client.force_login(two_org_user)
    body = client.get("/api/v1/whoami").json()
    assert (body["org"]["slug"], body["role"]) == ("acme", "viewer")
    assert body["organizations"] == ["acme", "globex"]
    assert body["token"] is None


def test_session_picks_its_org_with_the_header(client, two_org_user):
    client.force_login(two_org_user)
    body = client.get("/api/v1/whoami", HTTP_X_STACKDOCK_ORG="globex").json()
    assert (body["org"]["slug"], body["role"]) == ("globex", "owner")


def test_session_header_naming_a_foreign_org_is_a_404(client, two_org_user, db):
    from tests.factories import OrganizationFactory

    OrganizationFactory(slug="initech")
    client.force_login(two_org_user)
    response = client.get("/api/v1/whoami", HTTP_X_STACKDOCK_ORG="initech")
    assert error_of(response, 404)["fields"] == {
        "X-StackDock-Org": ["not one of your organizations"]
    }


def test_session_without_membership_is_a_403(client, db):
    client.force_login(UserFactory(username="lonely@example.test"))
    assert error_of(client.get("/api/v1/whoami"), 403)["code"] == "permission_denied"


def test_token_ignores_nothing_a_mismatched_org_header_is_a_400(owner_client):
    response = owner_client.get("/api/v1/whoami", HTTP_X_STACKDOCK_ORG="globex")
    assert "X-StackDock-Org" in error_of(response, 400)["fields"]


def test_session_writes_need_the_csrf_token(two_org_user, db):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(two_org_user)
    response = client.post("/api/v1/tokens", {"name": "x"}, format="json")
    assert error_of(response, 403)["message"].startswith("CSRF Failed")


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_a_400(owner_client, depth):
    body = "[" * depth + "]" * depth
    response = owner_client.post("/api/v1/provision", data=body, content_type="application/json")
    assert error_of(response, 400)["code"] == "parse_error"


def test_reasonably_nested_json_is_fine(owner_client, owner):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    nested: dict = {}
    for _ in range(30):
        nested = {"a": nested}
    body = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "x", "size": nested}}
    error = error_of(owner_client.post("/api/v1/provision", body, format="json"), 400)
    assert list(error["fields"]) == ["spec.size"]  # pydantic's answer, not the parser's
