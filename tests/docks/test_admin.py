"""Django admin: credentials can be set or replaced through a form, never displayed;
audit events are read-only."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from conftest import actor_of
from docks.models import Dock
from docks.services import dock_create, dock_credentials
from stackdock.permissions import Actor

CANARY = "ADMIN-CANARY-91c2"


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("root@stackdock.test", "r@x.test", "pw")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_dock_page_never_shows_credentials_and_replacing_them_works(staff, org, owner):
    dock = dock_create(
        actor=actor_of(owner),
        org=org,
        name="aws",
        provider="aws",
        credentials={"secret_access_key": CANARY},
    )
    page = staff.get(f"/admin/docks/dock/{dock.pk}/change/")
    assert page.status_code == 200
    assert CANARY not in page.content.decode()
    assert dock.api_credentials not in page.content.decode()
    response = staff.post(
        f"/admin/docks/dock/{dock.pk}/change/",
        {
            "org": org.pk,
            "name": "aws",
            "provider": "aws",
            "endpoint_url": "",
            "sync_interval_seconds": 120,
            "new_credentials": '{"secret_access_key": "replaced"}',
            "new_provisioning_credentials": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dock.refresh_from_db()
    assert dock_credentials(
        dock=dock, actor=Actor.system("t", org), purpose="admin", which="api"
    ) == {"secret_access_key": "replaced"}
    assert AuditEvent.objects.filter(operation="credential.replace").exists()


@pytest.mark.django_db
def test_leaving_the_credentials_empty_keeps_them(staff, org, owner):
    dock = dock_create(
        actor=actor_of(owner),
        org=org,
        name="aws",
        provider="aws",
        credentials={"secret_access_key": CANARY},
    )
    before = dock.api_credentials
    staff.post(
        f"/admin/docks/dock/{dock.pk}/change/",
        {
            "org": org.pk,
            "name": "renamed",
            "provider": "aws",
            "endpoint_url": "",
            "sync_interval_seconds": 120,
            "new_credentials": "",
            "new_provisioning_credentials": "",
        },
    )
    dock.refresh_from_db()
    assert dock.name == "renamed" and dock.api_credentials == before


@pytest.mark.django_db
def test_bad_json_credentials_are_a_form_error(staff, org, owner):
    dock = dock_create(
        actor=actor_of(owner),
        org=org,
        name="aws",
        provider="aws",
        credentials={"secret_access_key": CANARY},
    )
    page = staff.post(
        f"/admin/docks/dock/{dock.pk}/change/",
        {
            "org": org.pk,
            "name": "aws",
            "provider": "aws",
            "endpoint_url": "",
            "sync_interval_seconds": 120,
            "new_credentials": "{not json",
            "new_provisioning_credentials": "",
        },
    )
    assert page.status_code == 200
    assert "must be a JSON object" in page.content.decode()
    assert Dock.objects.get(pk=dock.pk).api_credentials == dock.api_credentials


@pytest.mark.django_db
def test_audit_events_are_read_only_in_admin(staff, org, owner):
    event = AuditEvent.objects.filter(org=org).first() or __import__(
        "audit.services", fromlist=["audit_log"]
    ).audit_log(actor=actor_of(owner), org=org, operation="x.y")
    assert staff.get("/admin/audit/auditevent/add/").status_code == 403
    assert (
        staff.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_role_admin_shows_a_permission_matrix(staff, org):
    from stackdock.models import Role

    role = Role.objects.create(org=org, name="auditor", permissions={"audit": "read"})
    page = staff.get(f"/admin/stackdock/role/{role.pk}/change/").content.decode()
    for area in (
        "resources",
        "docks",
        "provisioning",
        "credentials",
        "members",
        "audit",
        "settings",
    ):
        assert f'name="perm_{area}"' in page
    response = staff.post(
        f"/admin/stackdock/role/{role.pk}/change/",
        {
            "org": org.pk,
            "name": "auditor",
            **{
                f"perm_{a}": "none"
                for a in (
                    "resources",
                    "docks",
                    "provisioning",
                    "credentials",
                    "members",
                    "settings",
                )
            },
            "perm_audit": "full",
        },
    )
    assert response.status_code == 302
    role.refresh_from_db()
    assert role.permissions["audit"] == "full"
    assert AuditEvent.objects.filter(operation="role.change").exists()


@pytest.mark.django_db
def test_an_existing_dock_cannot_change_organization_provider_or_endpoint(
    staff, org, other_org, owner
):
    """Where and on whose behalf a dock's credentials go is fixed in admin (rule 9; a new
    endpoint takes the credentials again, through the API or the CLI)."""
    dock = dock_create(
        actor=actor_of(owner),
        org=org,
        name="aws",
        provider="aws",
        credentials={"secret_access_key": CANARY},
        endpoint_url="http://127.0.0.1:4566",
    )
    page = staff.get(f"/admin/docks/dock/{dock.pk}/change/").content.decode()
    for field in ("org", "provider", "endpoint_url"):
        assert f'name="{field}"' not in page  # shown, not editable
    response = staff.post(
        f"/admin/docks/dock/{dock.pk}/change/",
        {
            "org": other_org.pk,
            "name": "aws",
            "provider": "cloudflare",
            "endpoint_url": "http://127.0.0.1:9999",
            "sync_interval_seconds": 120,
            "new_credentials": "",
            "new_provisioning_credentials": "",
        },
    )
    assert response.status_code == 302
    dock.refresh_from_db()
    assert (dock.org_id, dock.provider, dock.endpoint_url) == (
        org.pk,
        "aws",
        "http://127.0.0.1:4566",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("http://admin:pw@127.0.0.1:4566", "user:password@"),
        ("http://127.0.0.1:70000", "port"),
        ("http://169.254.169.254/", "metadata"),
        ("https://minio.example.com", "allow-list"),
    ],
)
def test_a_new_dock_in_admin_goes_through_the_outbound_policy(staff, org, endpoint, words):
    response = staff.post(
        "/admin/docks/dock/add/",
        {
            "org": org.pk,
            "name": "aws",
            "provider": "aws",
            "endpoint_url": endpoint,
            "sync_interval_seconds": 120,
            "new_credentials": "",
            "new_provisioning_credentials": "",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    errors = " ".join(response.context["adminform"].form.errors.get("endpoint_url", []))
    assert words in errors
    assert ":pw@" not in response.content.decode()  # a refused password is not shown back
    assert not Dock.objects.exists()
