""" "Manage with StackDock" on a discovered row: the confirmation form, alone or into a
stack, and the errors beside their fields."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.models import Bucket
from provisioning.models import Stack
from provisioning.services import stack_save
from tests.provisioning.test_imports import STACK_WITH_ONE, made_elsewhere

pytestmark = pytest.mark.django_db


def test_a_discovered_row_offers_manage_with_stackdock_to_who_may_provision(
    login, owner, viewer, sandbox_dock, sandbox
):
    row = made_elsewhere(sandbox, sandbox_dock)
    url = f"/dashboard/buckets/{row.pk}/"
    page = login(owner).get(url).content.decode()
    assert f'href="/dashboard/buckets/{row.pk}/import/"' in page
    assert "Manage with StackDock" in page and "Update…" not in page
    seen = login(viewer).get(url).content.decode()
    assert "Manage with StackDock" not in seen
    assert login(viewer).get(f"{url}import/").status_code == 403


def test_importing_alone_asks_first_then_manages_it(login, owner, sandbox_dock, sandbox):
    row = made_elsewhere(sandbox, sandbox_dock)
    client = login(owner)
    form = client.get(f"/dashboard/buckets/{row.pk}/import/")
    assert form.status_code == 200
    text = form.content.decode()
    assert "nothing there changes" in text and "deletes it there" in text
    assert Bucket.objects.get(pk=row.pk).provisioning_source == "manual"  # a GET imports nothing

    done = client.post(f"/dashboard/buckets/{row.pk}/import/", {"mode": "alone"})
    assert done.status_code == 303 and done["Location"] == f"/dashboard/buckets/{row.pk}/"
    assert Bucket.objects.get(pk=row.pk).provisioning_source == "api"
    page = client.get(f"/dashboard/buckets/{row.pk}/").content.decode()
    assert "Update…" in page and "Manage with StackDock" not in page


def test_importing_into_a_stack_needs_a_stack_and_a_name_beside_their_fields(
    login, owner, sandbox_dock, sandbox
):
    stack_save(actor=actor_of(owner), org=sandbox_dock.org, doc=STACK_WITH_ONE)
    row = made_elsewhere(sandbox, sandbox_dock)
    client = login(owner)
    url = f"/dashboard/buckets/{row.pk}/import/"
    missing = client.post(url, {"mode": "stack"})
    assert missing.status_code == 400
    text = missing.content.decode()
    assert "Choose the stack to add it to." in text and "Give it a name in the stack." in text

    taken = client.post(url, {"mode": "stack", "stack": "site", "resource": "web"})
    assert taken.status_code == 400
    assert "already in the stack" in taken.content.decode()
    bad = client.post(url, {"mode": "stack", "stack": "site", "resource": "Not OK"})
    assert bad.status_code == 400 and 'data-field="resource"' in bad.content.decode()

    done = client.post(url, {"mode": "stack", "stack": "site", "resource": "logs"})
    assert done.status_code == 303 and done["Location"] == "/dashboard/stacks/site/"
    assert "logs" in Stack.objects.get(name="site").spec["resources"]
    assert Bucket.objects.get(pk=row.pk).sst_stack_name == "site"


def test_a_resource_gone_at_the_provider_says_so_above_the_form(
    login, owner, sandbox_dock, sandbox
):
    row = made_elsewhere(sandbox, sandbox_dock)
    sandbox.delete(row.provider_resource_id)
    response = login(owner).post(f"/dashboard/buckets/{row.pk}/import/", {"mode": "alone"})
    assert response.status_code == 400
    assert "no longer exists at the provider" in response.content.decode()
