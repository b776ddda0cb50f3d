"""Docks in the dashboard: connect (checked live), detail, rotate, grants, delete.

AWS docks talk to a real moto server process; nothing leaves loopback.
"""

from __future__ import annotations

from html import unescape

import pytest
from guardian.shortcuts import assign_perm

from audit.models import AuditEvent
from conftest import actor_of
from docks.models import Bucket, Dock
from docks.services import dock_connect
from provisioning.models import Operation
from tests.factories import BucketFactory, DockFactory

pytestmark = pytest.mark.django_db

CANARY = "CANARY-dash-secret-51c2"


def aws_form(moto: str, **overrides) -> dict:
    return {
        "name": "aws-emulated",
        "endpoint_url": moto,
        "access_key_id": "AKIATESTTESTTEST0001",
        "secret_access_key": CANARY,
        "region": "us-east-1",
        "sync_regions": "us-east-1",
        **overrides,
    }


def test_provider_picker_links_each_provider(login, owner):
    page = login(owner).get("/dashboard/docks/add/").content.decode()
    for provider in ("aws", "cloudflare", "sandbox"):
        assert f'href="/dashboard/docks/add/{provider}/"' in page


def test_credentials_form_is_built_from_the_provider_model_with_write_only_secrets(login, owner):
    page = login(owner).get("/dashboard/docks/add/aws/").content.decode()
    assert 'type="password" name="secret_access_key"' in page
    assert 'type="password" name="session_token"' in page
    assert 'name="access_key_id"' in page and "Access key id: AKIA..." in page
    assert '<textarea name="sync_regions"' in page  # a list of regions, one per line


def test_connect_an_emulated_aws_dock(login, owner, moto):
    response = login(owner).post("/dashboard/docks/add/aws/", aws_form(moto))
    dock = Dock.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/dashboard/docks/{dock.pk}/"
    assert dock.provider == "aws" and dock.endpoint_url == moto
    detail = login(owner).get(response["Location"]).content.decode()
    assert "secret_access_key" in detail and CANARY not in detail  # the name, never the value


def test_unreachable_provider_shows_its_reason_and_never_echoes_the_secret(login, owner):
    response = login(owner).post("/dashboard/docks/add/aws/", aws_form("http://127.0.0.1:9"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Could not reach" in html or "could not" in html.lower()
    assert CANARY not in html
    assert 'value="AKIATESTTESTTEST0001"' in html  # not a secret: kept for the next try
    assert not Dock.objects.exists()


def test_bad_credential_field_is_shown_beside_it(login, owner, moto):
    response = login(owner).post("/dashboard/docks/add/aws/", aws_form(moto, access_key_id="nope"))
    html = response.content.decode()
    block = html.split('data-field="access_key_id"')[1].split('data-field="secret_access_key"')[0]
    assert "must be at least 16 characters long" in block
    assert CANARY not in html


def test_connect_a_sandbox_dock_needs_only_a_name(login, owner, sandbox):
    client = login(owner)
    assert "endpoint_url" not in client.get("/dashboard/docks/add/sandbox/").content.decode()
    response = client.post("/dashboard/docks/add/sandbox/", {"name": "play"})
    assert response.status_code == 303
    assert Dock.objects.get().name == "play"
    again = client.post("/dashboard/docks/add/sandbox/", {"name": "play"})
    html = unescape(again.content.decode())
    assert "There is already a dock called 'play' here" in html and Dock.objects.count() == 1
    assert "__all__" not in html


def test_a_taken_dock_name_is_said_before_any_call_to_the_provider(login, owner, sandbox):
    from tests.factories import DockFactory

    DockFactory(org=owner.org, name="aws-main", provider="aws")
    # an endpoint nobody answers on: a live check would fail with "could not reach"
    response = login(owner).post(
        "/dashboard/docks/add/aws/", {**aws_form("http://127.0.0.1:9"), "name": "aws-main"}
    )
    html = unescape(response.content.decode())
    block = html.split('data-field="name"')[1].split("</div>")[0]
    assert "There is already a dock called 'aws-main' here" in block
    assert "reach" not in html.lower() and Dock.objects.count() == 1


def test_detail_shows_sync_state_and_never_credentials(login, owner, org, moto):
    dock = dock_connect(
        actor=actor_of(owner),
        org=org,
        name="aws",
        provider="aws",
        credentials={
            "access_key_id": "AKIATESTTESTTEST0001",
            "secret_access_key": CANARY,
            "sync_regions": ["us-east-1"],
        },
        endpoint_url=moto,
    )
    Dock.objects.filter(pk=dock.pk).update(sync_status="error", sync_error="AccessDenied on s3")
    html = login(owner).get(f"/dashboard/docks/{dock.pk}/").content.decode()
    assert "AccessDenied on s3" in html and "Sync now" in html and "Rotate credentials" in html
    assert CANARY not in html
    rotate = login(owner).get(f"/dashboard/docks/{dock.pk}/rotate/").content.decode()
    assert 'type="password" name="secret_access_key"' in rotate and CANARY not in rotate


def test_viewer_sees_the_dock_without_actions(login, viewer, sandbox_dock):
    html = login(viewer).get(f"/dashboard/docks/{sandbox_dock.pk}/").content.decode()
    assert "Sync now" not in html and "Delete…" not in html and "Grants" not in html
    assert login(viewer).post(f"/dashboard/docks/{sandbox_dock.pk}/sync/").status_code == 403


def test_sync_now_queues_a_sync_operation(login, owner, sandbox_dock):
    response = login(owner).post(f"/dashboard/docks/{sandbox_dock.pk}/sync/")
    op = Operation.objects.get()
    assert op.kind == "sync" and response["Location"] == f"/dashboard/operations/{op.pk}/"


def test_delete_needs_the_typed_name(login, owner, sandbox_dock):
    client = login(owner)
    url = f"/dashboard/docks/{sandbox_dock.pk}/delete/"
    assert "Type <code>sandbox</code> to confirm" in client.get(url).content.decode()
    wrong = client.post(url, {"confirm_name": "sandbax"})
    assert wrong.status_code == 400 and Dock.objects.exists()
    assert client.post(url, {"confirm_name": "sandbox"})["Location"] == "/dashboard/docks/"
    assert not Dock.objects.exists()


def test_delete_refused_while_it_holds_provisioned_resources_unless_kept(
    login, owner, sandbox_dock
):
    BucketFactory(dock=sandbox_dock, provisioning_source="api", provisioning_state="provisioned")
    client = login(owner)
    url = f"/dashboard/docks/{sandbox_dock.pk}/delete/"
    refused = client.post(url, {"confirm_name": "sandbox"})
    assert refused.status_code == 400 and "still has 1 resource" in refused.content.decode()
    assert client.post(url, {"confirm_name": "sandbox", "orphan": "on"}).status_code == 303
    assert not Dock.objects.exists() and Bucket.objects.get().dock is None


def test_admin_grants_a_developer_provisioning_on_one_dock(login, admin, developer, org, sandbox):
    dock = DockFactory(org=org, name="team", provider="sandbox")
    client = login(admin)
    page = client.get(f"/dashboard/docks/{dock.pk}/").content.decode()
    assert f'<option value="{developer.pk}">dev@acme.test (developer)</option>' in page
    client.post(
        f"/dashboard/docks/{dock.pk}/grants/",
        {"membership": developer.pk, "perm": "provision_dock"},
    )
    assert AuditEvent.objects.filter(operation="dock.grant").exists()
    dev = login(developer)
    assert dev.get("/dashboard/provision/sandbox/bucket/").status_code == 200
    client.post(
        f"/dashboard/docks/{dock.pk}/grants/",
        {"membership": developer.pk, "perm": "provision_dock", "action": "revoke"},
    )
    assert dev.get("/dashboard/provision/sandbox/bucket/").status_code == 403


def test_developer_cannot_grant_itself(login, developer, sandbox_dock):
    assign_perm("docks.view_dock", developer.user, sandbox_dock)
    response = login(developer).post(
        f"/dashboard/docks/{sandbox_dock.pk}/grants/",
        {"membership": developer.pk, "perm": "provision_dock"},
    )
    assert response.status_code == 403
