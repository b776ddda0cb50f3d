"""The provisioning wizard, the live status panel and operations."""

from __future__ import annotations

import re

import pytest
from guardian.shortcuts import assign_perm

from audit.models import AuditEvent
from docks.models import Bucket
from provisioning.models import Operation
from provisioning.runner import operation_run
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db

FORM = "/dashboard/provision/sandbox/bucket/"


def field_block(html: str, name: str) -> str:
    """The markup of one form field (label, input, help, errors)."""
    match = re.search(rf'<div class="field[^"]*" data-field="{name}">(.*?)\n</div>', html, re.S)
    assert match, f"no field {name!r} in the page"
    return match.group(1)


def provision(client, dock, name="photos", **extra):
    page = client.get(FORM).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    data = {"dock": str(dock.pk), "idempotency_key": key, "name": name, **extra}
    return client.post(FORM, data), key


def test_wizard_lists_providers_then_types_then_the_form(login, owner, sandbox_dock):
    client = login(owner)
    start = client.get("/dashboard/provision/").content.decode()
    assert 'href="/dashboard/provision/sandbox/"' in start
    assert "No dock you can provision on" in start  # aws and cloudflare have none
    types = client.get("/dashboard/provision/sandbox/").content.decode()
    assert 'href="/dashboard/provision/sandbox/bucket/"' in types
    form = client.get(FORM).content.decode()
    assert "Resource name: lowercase letters" in field_block(form, "name")  # the description
    assert f'<option value="{sandbox_dock.pk}" selected>sandbox</option>' in form


def test_spec_form_picks_widgets_from_the_schema(login, owner, org):
    DockFactory(org=org, name="aws", provider="aws")
    DockFactory(org=org, name="cf", provider="cloudflare")
    client = login(owner)
    s3 = client.get("/dashboard/provision/aws/s3-bucket/").content.decode()
    assert 'type="checkbox" name="versioning"' in field_block(s3, "versioning")
    tags = field_block(s3, "tags")
    assert "<textarea" in tags and "One key=value per line." in tags
    rds = client.get("/dashboard/provision/aws/rds-instance/").content.decode()
    engine = field_block(rds, "engine")
    assert "<select" in engine and '<option value="postgres">postgres</option>' in engine
    assert 'type="number" name="allocated_storage"' in field_block(rds, "allocated_storage")
    worker = client.get("/dashboard/provision/cloudflare/worker/").content.decode()
    assert "<textarea" in field_block(worker, "script")
    r2 = client.get("/dashboard/provision/cloudflare/r2-bucket/").content.decode()
    assert '<option value="" selected>(default)</option>' in field_block(r2, "location_hint")


def test_types_without_a_table_are_not_offered_alone(login, owner, org):
    DockFactory(org=org, name="aws", provider="aws")
    client = login(owner)
    page = client.get("/dashboard/provision/aws/").content.decode()
    assert 'href="/dashboard/provision/aws/route53-zone/"' in page
    assert 'href="/dashboard/provision/aws/route53-record/"' not in page
    assert "In stacks only: <code>route53-record</code>" in page  # said, with a way there
    record = client.get("/dashboard/provision/aws/route53-record/")
    assert record.status_code == 404
    assert "is provisioned inside a stack, not alone here" in record.content.decode()
    assert client.get("/dashboard/provision/gcp/").status_code == 404


def test_every_page_counts_a_providers_types_alike(login, owner, org):
    DockFactory(org=org, name="aws", provider="aws")
    client = login(owner)
    wanted = "4 resource types, and 1 more in stacks only"
    assert wanted in client.get("/dashboard/provision/").content.decode()
    assert wanted in client.get("/dashboard/docks/add/").content.decode()


def test_provisioning_queues_an_operation_and_redirects_to_its_live_status(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response, _ = provision(client, sandbox_dock, versioning="on")
    op = Operation.objects.get()
    assert len(callbacks) == 1  # the Celery task, on commit
    assert response.status_code == 303
    assert response["Location"] == f"/dashboard/provision/sandbox/bucket/{op.pk}/"
    assert op.kind == "provision" and op.request["spec"] == {"name": "photos"}
    page = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 500ms"' in page and f'hx-get="{response["Location"]}"' in page
    assert "Waiting for a worker" in page
    assert AuditEvent.objects.filter(operation="resource.provision").exists()


def test_status_fragment_stops_polling_once_the_operation_ends(
    login, owner, sandbox_dock, htmx, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks():
        response, _ = provision(client, sandbox_dock)
    url = response["Location"]
    running = client.get(url, **htmx).content.decode()
    assert running.lstrip().startswith("<section") and "<html" not in running
    assert 'hx-trigger="every 500ms"' in running
    op = Operation.objects.get()
    assert operation_run(op.pk, worker="test") == "succeeded"
    done = client.get(url, **htmx).content.decode()
    assert "hx-trigger" not in done and "hx-get" not in done
    assert 'data-status="succeeded"' in done
    row = Bucket.objects.get(pk=op.resource_id)
    assert f'href="/dashboard/buckets/{row.pk}/"' in done
    assert "Cancel" not in done


def test_failure_is_shown_in_plain_words(
    login, owner, sandbox_dock, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks():
        response, _ = provision(client, sandbox_dock, fail="permanent")
    op = Operation.objects.get()
    assert operation_run(op.pk, worker="test") == "failed"
    page = client.get(response["Location"]).content.decode()
    assert 'role="alert"' in page and "injected permanent failure on create" in page
    assert "hx-trigger" not in page


def test_bad_name_is_shown_beside_the_name_input_and_nothing_is_queued(login, owner, sandbox_dock):
    response, _ = provision(login(owner), sandbox_dock, name="Not A Valid Name!")
    assert response.status_code == 400
    html = response.content.decode()
    assert "must be lowercase letters, digits, dots and hyphens" in field_block(html, "name")
    assert 'value="Not A Valid Name!"' in html  # what was typed stays
    assert not Operation.objects.exists() and not Bucket.objects.exists()


def test_submitting_the_same_form_twice_queues_one_operation(login, owner, sandbox_dock):
    client = login(owner)
    first, key = provision(client, sandbox_dock)
    again = client.post(
        FORM, {"dock": str(sandbox_dock.pk), "idempotency_key": key, "name": "photos"}
    )
    assert again["Location"] == first["Location"]
    assert Operation.objects.count() == 1


def test_dock_picker_lists_only_docks_the_member_may_provision_on(login, developer, org, sandbox):
    granted = DockFactory(org=org, name="granted", provider="sandbox")
    other = DockFactory(org=org, name="other", provider="sandbox")
    assign_perm("docks.provision_dock", developer.user, granted)
    client = login(developer)
    html = client.get(FORM).content.decode()
    assert ">granted</option>" in html and ">other</option>" not in html
    forged = client.post(FORM, {"dock": str(other.pk), "idempotency_key": "k1", "name": "x1"})
    assert forged.status_code == 400 and not Operation.objects.exists()
    ok = client.post(FORM, {"dock": str(granted.pk), "idempotency_key": "k2", "name": "x2"})
    assert ok.status_code == 303 and Operation.objects.get().dock == granted


def test_viewer_gets_403_on_the_wizard_and_the_attempt_is_audited(login, viewer, sandbox_dock):
    client = login(viewer)
    assert client.get("/dashboard/provision/").status_code == 403
    response = client.post(
        FORM, {"dock": str(sandbox_dock.pk), "name": "x", "idempotency_key": "k"}
    )
    assert response.status_code == 403
    assert "You can't do that" in response.content.decode()
    assert not Operation.objects.exists()
    denied = AuditEvent.objects.filter(
        operation="permission.denied", actor_repr=viewer.user.username
    )
    assert denied.count() == 2


def test_cancel_a_queued_operation_from_its_status_panel(
    login, owner, sandbox_dock, htmx, django_capture_on_commit_callbacks
):
    client = login(owner)
    with django_capture_on_commit_callbacks():
        response, _ = provision(client, sandbox_dock)
    op = Operation.objects.get()
    panel = client.post(f"/dashboard/operations/{op.pk}/cancel/", **htmx).content.decode()
    assert 'data-status="cancelled"' in panel and "hx-trigger" not in panel
    op.refresh_from_db()
    assert op.status == "cancelled"


def test_viewer_cannot_cancel(
    login, owner, viewer, sandbox_dock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        provision(login(owner), sandbox_dock)
    op = Operation.objects.get()
    client = login(viewer)
    assert "Cancel</button>" not in client.get(f"/dashboard/operations/{op.pk}/").content.decode()
    assert client.post(f"/dashboard/operations/{op.pk}/cancel/").status_code == 403
    op.refresh_from_db()
    assert op.status == "queued"


def test_status_page_of_another_org_is_404(login, owner, outsider, sandbox_dock):
    response, _ = provision(login(owner), sandbox_dock)
    assert login(outsider).get(response["Location"]).status_code == 404
    op = Operation.objects.get()
    assert login(outsider).get(f"/dashboard/operations/{op.pk}/").status_code == 404
    assert login(owner).get(f"/dashboard/provision/sandbox/server/{op.pk}/").status_code == 404


def test_status_panel_runs_in_constant_queries(
    login, owner, sandbox_dock, htmx, django_assert_max_num_queries
):
    client = login(owner)
    response, _ = provision(client, sandbox_dock, latency_ms="0")
    op = Operation.objects.get()
    from provisioning.models import OperationEvent

    OperationEvent.objects.bulk_create(
        OperationEvent(
            operation=op,
            seq=i,
            resource="resource",
            action="create",
            status="started",
            message=f"step {i}",
            at=op.created_at,
        )
        for i in range(1, 60)
    )
    with django_assert_max_num_queries(10):
        page = client.get(response["Location"], **htmx)
    assert page.content.decode().count('class="ev"') == 59


def test_operations_list_filters_by_status(login, owner, sandbox_dock, htmx):
    client = login(owner)
    provision(client, sandbox_dock, name="one")
    provision(client, sandbox_dock, name="two")
    first = Operation.objects.order_by("pk").first()
    operation_run(first.pk, worker="test")
    page = client.get("/dashboard/operations/?status=succeeded", **htmx).content.decode()
    assert page.count("<tr>") == 2  # the header and one operation
    assert f"#{first.pk}</a>" in page
