"""Import instead of silent adoption (docs/ENGINE.md, "What StackDock promises", 7),
through the services and the worker's code path on the sandbox provider."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from conftest import actor_of
from docks.adapters.sandbox import SandboxAdapter
from docks.adapters.sandbox.adapter import BucketSpec, ServerSpec
from docks.models import UNIVERSAL_MODELS, Bucket
from provisioning.models import Operation, ResourceClaim, Stack, StackKind, StackResource
from provisioning.runner import operation_run
from provisioning.services import (
    resource_delete,
    resource_import,
    resource_provision,
    resource_update,
    resource_update_plan,
    stack_deploy,
    stack_import,
    stack_plan,
    stack_save,
)
from stackdock.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from tests.provisioning.test_resource_safety import BUCKET_STACK

SPECS = {"bucket": BucketSpec, "server": ServerSpec}


def run(op):
    assert operation_run(op.pk, worker="test") is not None
    op.refresh_from_db()
    return op


def made_elsewhere(sandbox, dock, rtype="bucket", name="legacy", size="small"):
    """A resource created at the provider outside StackDock, and the row sync made of it."""
    result = SandboxAdapter(backend=sandbox).create(
        rtype, SPECS[rtype](name=name, size=size), token=f"out-of-band-{name}"
    )
    table = SandboxAdapter.resource_types[rtype].table
    return UNIVERSAL_MODELS[table].objects.create(
        org=dock.org,
        dock=dock,
        provider="sandbox",
        resource_type=rtype,
        name=name,
        provider_resource_id=result.provider_resource_id,
        provisioning_source="manual",
    )


@pytest.mark.django_db
def test_a_discovered_resource_imported_alone_is_managed_updated_in_place_and_deleted(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    row = made_elsewhere(sandbox, sandbox_dock)
    before = sandbox.all()
    imported = resource_import(actor=actor, table="buckets", row=row)
    assert sandbox.all() == before  # only read
    assert imported.properties == {"name": "legacy", "size": "small"}
    row.refresh_from_db()
    assert (row.provisioning_source, row.provisioning_state) == ("api", "provisioned")
    assert row.spec == {"name": "legacy", "size": "small"}
    stack = Stack.objects.get(name=row.sst_stack_name)
    assert stack.kind == StackKind.SINGLE
    [record] = StackResource.objects.filter(stack=stack)
    assert (record.status, record.provider_resource_id) == ("created", row.provider_resource_id)
    assert ResourceClaim.objects.get().stack == stack
    assert not Operation.objects.exists()  # nothing queued
    event = AuditEvent.objects.get(operation="resource.import")
    assert event.metadata["fields"] == ["name", "size"] and event.target_id == str(row.pk)

    plan = resource_update_plan(actor=actor, row=row, changes={})
    assert [c["action"] for c in plan["changes"]] == ["no-op"]

    with django_capture_on_commit_callbacks(execute=False):
        up = resource_update(actor=actor, table="buckets", row=row, changes={"size": "large"})
    assert run(up).status == "succeeded", up.error
    [after] = sandbox.all()
    assert (after.id, after.size) == (before[0].id, "large")  # in place, the same resource

    with django_capture_on_commit_callbacks(execute=False):
        gone = resource_delete(actor=actor, table="buckets", row=row)
    assert run(gone).status == "succeeded", gone.error
    assert sandbox.all() == [] and not Bucket.objects.exists()
    assert not ResourceClaim.objects.exists()


STACK_WITH_ONE = """
name: site
resources:
  web:
    dock: sandbox
    type: web-service
    properties: {name: site-web}
"""


@pytest.mark.django_db
def test_a_discovered_resource_imported_into_a_stack_joins_its_spec_and_plans_as_no_op(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK_WITH_ONE)
    with django_capture_on_commit_callbacks(execute=False):
        assert run(stack_deploy(actor=actor, stack=stack)).status == "succeeded"
    row = made_elsewhere(sandbox, sandbox_dock, "server", "old-box", "xl")
    imported = stack_import(actor=actor, stack=stack, table="servers", row=row, resource="box")
    assert imported.resource == "box" and imported.stack.pk == stack.pk
    stack.refresh_from_db()
    assert stack.spec["resources"]["box"] == {
        "dock": "sandbox",
        "type": "server",
        "properties": {"name": "old-box", "size": "xl"},
    }
    assert "old-box" in stack.spec_text and "site-web" in stack.spec_text
    row.refresh_from_db()
    assert (row.provisioning_source, row.sst_stack_name, row.sst_resource_id) == (
        "sst",
        "site",
        "box",
    )
    plan = stack_plan(actor=actor, stack=stack)
    assert {c["resource"]: c["action"] for c in plan["changes"]} == {
        "web": "no-op",
        "box": "no-op",
    }
    # the stack now manages it: its deploy changes nothing, its destroy deletes it
    with django_capture_on_commit_callbacks(execute=False):
        again = stack_deploy(actor=actor, stack=stack, plan=plan["id"])
    assert run(again).status == "succeeded"
    assert again.summary.get("unchanged") == 2
    from provisioning.services import stack_destroy

    with django_capture_on_commit_callbacks(execute=False):
        assert run(stack_destroy(actor=actor, stack=stack)).status == "succeeded"
    assert sandbox.all() == []


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_row_already_managed_is_refused_and_nothing_changes(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = resource_provision(
            actor=actor, dock=sandbox_dock, resource_type="bucket", spec={"name": "ours"}
        )
    run(op)
    row = Bucket.objects.get(pk=op.resource_id)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK_WITH_ONE)
    stacks = Stack.objects.count()
    for act in (
        lambda: resource_import(actor=actor, table="buckets", row=row),
        lambda: stack_import(actor=actor, stack=stack, table="buckets", row=row, resource="b"),
    ):
        with pytest.raises(Conflict) as info:
            act()
        assert "already managed by StackDock" in info.value.message
    assert Stack.objects.count() == stacks
    # imported once, it is managed: a second import is refused the same way
    theirs = made_elsewhere(sandbox, sandbox_dock, name="theirs")
    resource_import(actor=actor, table="buckets", row=theirs)
    with pytest.raises(Conflict, match="already managed"):
        resource_import(actor=actor, table="buckets", row=theirs)


@pytest.mark.django_db
def test_a_key_claimed_by_a_queued_provision_refuses_the_import(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    """A bucket StackDock is about to create under the same name: the claim says who."""
    actor = actor_of(owner)
    row = made_elsewhere(sandbox, sandbox_dock, name="contested")
    # the discovered row blocks a provision of its name; a deploy queued before sync
    # found it holds the claim (the stack's create will then fail: AlreadyExists)
    stack = stack_save(
        actor=actor,
        org=sandbox_dock.org,
        doc=BUCKET_STACK.format(stack="early", name="contested"),
    )
    ResourceClaim.objects.create(
        org=sandbox_dock.org,
        dock=sandbox_dock,
        resource_type="bucket",
        key="contested",
        stack=stack,
        resource="assets",
    )
    with pytest.raises(Conflict, match="resource 'assets' of stack 'early'"):
        resource_import(actor=actor, table="buckets", row=row)
    row.refresh_from_db()
    assert row.provisioning_source == "manual" and Stack.objects.count() == 1
    assert not StackResource.objects.exists()


@pytest.mark.django_db
def test_a_resource_gone_at_the_provider_is_refused(owner, sandbox_dock, sandbox):
    row = made_elsewhere(sandbox, sandbox_dock)
    sandbox.delete(row.provider_resource_id)
    with pytest.raises(Conflict, match="no longer exists at the provider"):
        resource_import(actor=actor_of(owner), table="buckets", row=row)
    row.refresh_from_db()
    assert row.provisioning_source == "manual"


@pytest.mark.django_db
def test_importing_into_a_stack_refuses_a_taken_or_bad_name_and_a_locked_stack(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK_WITH_ONE)
    row = made_elsewhere(sandbox, sandbox_dock)
    with pytest.raises(Conflict, match="already has a resource 'web'"):
        stack_import(actor=actor, stack=stack, table="buckets", row=row, resource="web")
    with pytest.raises(ValidationError) as bad:
        stack_import(actor=actor, stack=stack, table="buckets", row=row, resource="Bad Name")
    assert "resource" in bad.value.fields
    with django_capture_on_commit_callbacks(execute=False):
        stack_deploy(actor=actor, stack=stack)  # queued: holds the stack
    with pytest.raises(Conflict, match="stack locked by operation"):
        stack_import(actor=actor, stack=stack, table="buckets", row=row, resource="logs")
    row.refresh_from_db()
    assert row.provisioning_source == "manual"
    assert "logs" not in Stack.objects.get(pk=stack.pk).spec["resources"]


@pytest.mark.django_db
def test_import_needs_provisioning_full_on_the_dock_and_another_orgs_row_is_404(
    owner, developer, viewer, outsider, sandbox_dock, sandbox
):
    row = made_elsewhere(sandbox, sandbox_dock)
    stack = stack_save(actor=actor_of(owner), org=sandbox_dock.org, doc=STACK_WITH_ONE)
    for member in (developer, viewer):
        with pytest.raises(PermissionDenied):
            resource_import(actor=actor_of(member), table="buckets", row=row)
        with pytest.raises(PermissionDenied):
            stack_import(
                actor=actor_of(member), stack=stack, table="buckets", row=row, resource="b"
            )
    with pytest.raises(NotFound):
        resource_import(actor=actor_of(outsider), table="buckets", row=row)
    row.refresh_from_db()
    assert row.provisioning_source == "manual"
    assert not AuditEvent.objects.filter(operation="resource.import").exists()


@pytest.mark.django_db
def test_a_stack_grown_by_an_import_is_held_to_the_document_limits(
    owner, sandbox_dock, sandbox, settings
):
    from provisioning.limits import DocumentTooLarge

    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK_WITH_ONE)
    row = made_elsewhere(sandbox, sandbox_dock)
    settings.STACKDOCK_STACK_MAX_RESOURCES = 1
    with pytest.raises(ValidationError, match="at most 1"):
        stack_import(actor=actor, stack=stack, table="buckets", row=row, resource="logs")
    settings.STACKDOCK_STACK_MAX_RESOURCES = 500
    settings.STACKDOCK_STACK_MAX_BYTES = len(stack.spec_text) + 10
    with pytest.raises(DocumentTooLarge):
        stack_import(actor=actor, stack=stack, table="buckets", row=row, resource="logs")
    row.refresh_from_db()
    assert row.provisioning_source == "manual"
    assert set(Stack.objects.get(pk=stack.pk).spec["resources"]) == {"web"}
