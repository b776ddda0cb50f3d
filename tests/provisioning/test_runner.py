"""Services + runner on the sandbox provider, in this process (the worker's code path
without Celery; tests/integration runs it through a real worker)."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent
from conftest import actor_of
from docks.models import Bucket, Server
from provisioning.models import Operation, OperationEvent, StackLock, StateVersion
from provisioning.runner import operation_run, operations_reap
from provisioning.services import (
    operation_cancel,
    resource_delete,
    resource_provision,
    resource_update,
    stack_deploy,
    stack_destroy,
    stack_plan,
    stack_refresh,
    stack_save,
)
from stackdock.exceptions import Conflict, PermissionDenied, ValidationError

STACK = """
name: web
resources:
  db:
    dock: sandbox
    type: database
    properties: {name: app-db}
  site:
    dock: sandbox
    type: web-service
    properties: {name: "${db.name}-site", size: small}
"""


def run(op):
    assert operation_run(op.pk, worker="test") is not None
    op.refresh_from_db()
    return op


@pytest.mark.django_db
def test_provision_a_sandbox_server_end_to_end(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        op = resource_provision(
            actor=actor_of(owner),
            dock=sandbox_dock,
            resource_type="server",
            spec={"name": "web-1", "size": "small"},
        )
    assert len(callbacks) == 1  # the Celery task, enqueued on commit
    row = Server.objects.get(pk=op.resource_id)
    assert row.provisioning_state == "provisioning" and row.provisioning_source == "api"
    op = run(op)
    assert op.status == "succeeded", op.error
    row.refresh_from_db()
    assert row.provisioning_state == "provisioned"
    assert row.provider_resource_id == sandbox.all()[0].id
    assert row.instance_type == "small" and row.primary_ip
    assert row.provisioned_at is not None
    assert list(OperationEvent.objects.filter(operation=op).values_list("seq", flat=True)) == list(
        range(1, OperationEvent.objects.filter(operation=op).count() + 1)
    )
    ops = set(AuditEvent.objects.values_list("operation", flat=True))
    assert {"resource.provision", "provisioning.succeeded"} <= ops
    assert "credential.decrypt" not in ops  # the sandbox has no credentials to decrypt


@pytest.mark.django_db
def test_update_then_delete_a_provisioned_resource(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor,
            dock=sandbox_dock,
            resource_type="server",
            spec={"name": "web-1", "size": "small"},
        )
    run(op)
    row = Server.objects.get(pk=op.resource_id)
    with django_capture_on_commit_callbacks():
        up = resource_update(actor=actor, table="servers", row=row, changes={"size": "large"})
    assert run(up).status == "succeeded"
    row.refresh_from_db()
    assert row.instance_type == "large" and sandbox.all()[0].size == "large"
    with django_capture_on_commit_callbacks():
        rm = resource_delete(actor=actor, table="servers", row=row)
    assert Server.objects.get(pk=row.pk).provisioning_state == "deprovisioning"
    assert run(rm).status == "succeeded"
    assert not Server.objects.filter(pk=row.pk).exists()
    assert sandbox.all() == []


@pytest.mark.django_db
def test_permanent_failure_rolls_back_and_marks_the_row_failed(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor_of(owner),
            dock=sandbox_dock,
            resource_type="bucket",
            spec={"name": "b1", "fail": "permanent"},
        )
    op = run(op)
    assert op.status == "failed" and op.error
    assert Bucket.objects.get(pk=op.resource_id).provisioning_state == "failed"
    assert sandbox.all() == []
    assert AuditEvent.objects.filter(operation="provisioning.failed").exists()


@pytest.mark.django_db
def test_a_failed_run_stores_its_last_events_and_progress_with_its_status(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor_of(owner),
            dock=sandbox_dock,
            resource_type="bucket",
            spec={"name": "b1", "fail": "permanent"},
        )
    op = run(op)
    events = list(OperationEvent.objects.filter(operation=op).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].resource == "" and events[-1].status == "failed"  # the apply's own end
    assert any(e.resource == "resource" and e.status == "failed" for e in events)
    assert op.progress_done == 1  # the failed resource is done, though not succeeded


@pytest.mark.django_db
def test_one_provision_run_keeps_to_its_query_budget(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """Claim (the dock comes with it), the docks' defaults, lock, state load, write-ahead,
    checkpoint, snapshot, release, and one final transaction (universal row, events,
    status, the audit event - its chain's head locked, the event, the head moved - and
    settling the stack's resource claims: docks, state, claims): a regression here
    costs every operation a round trip."""
    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor_of(owner),
            dock=sandbox_dock,
            resource_type="bucket",
            spec={"name": "b1", "size": "s"},
        )
    # PostgreSQL: the claim and the rows it loads are one statement, and so are the last
    # checkpoint, the snapshot and the release; the audit event is three (lock the lane's
    # head, insert, move the head: it is signed in this process, its key never sent)
    budget = 17 if connection.vendor == "postgresql" else 22
    with django_assert_max_num_queries(budget):
        assert operation_run(op.pk, worker="test") == "succeeded"
    row = Bucket.objects.get(pk=op.resource_id)
    assert row.provisioning_state == "provisioned" and row.provisioned_at is not None
    assert row.spec == {"name": "b1", "size": "s"}
    assert row.name == "b1" and row.provider_resource_id == sandbox.all()[0].id


@pytest.mark.django_db
def test_bad_spec_is_refused_with_the_field(owner, sandbox_dock):
    with pytest.raises(ValidationError) as err:
        resource_provision(
            actor=actor_of(owner),
            dock=sandbox_dock,
            resource_type="server",
            spec={"name": "Not Valid!"},
        )
    assert "spec.name" in err.value.fields
    with pytest.raises(ValidationError) as err:
        resource_provision(
            actor=actor_of(owner), dock=sandbox_dock, resource_type="nope", spec={"name": "x"}
        )
    assert "server" in err.value.message  # lists the valid types
    assert not Operation.objects.exists() and not Server.objects.exists()


@pytest.mark.django_db
def test_roles_without_provisioning_full_are_refused(developer, viewer, sandbox_dock):
    for member in (developer, viewer):
        with pytest.raises(PermissionDenied):
            resource_provision(
                actor=actor_of(member),
                dock=sandbox_dock,
                resource_type="server",
                spec={"name": "x"},
            )
    assert AuditEvent.objects.filter(operation="permission.denied").count() == 2


@pytest.mark.django_db
def test_idempotency_key_returns_the_first_operation(
    owner, sandbox_dock, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks():
        a = resource_provision(
            actor=actor,
            dock=sandbox_dock,
            resource_type="server",
            spec={"name": "x"},
            idempotency_key="k1",
            request_hash="h1",
        )
        b = resource_provision(
            actor=actor,
            dock=sandbox_dock,
            resource_type="server",
            spec={"name": "x"},
            idempotency_key="k1",
            request_hash="h1",
        )
    assert a.pk == b.pk and Server.objects.count() == 1
    with pytest.raises(Conflict):
        resource_provision(
            actor=actor,
            dock=sandbox_dock,
            resource_type="server",
            spec={"name": "y"},
            idempotency_key="k1",
            request_hash="h2",
        )


@pytest.mark.django_db
def test_stack_plan_deploy_refresh_destroy(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK)
    plan = stack_plan(actor=actor, stack=stack)
    assert plan["summary"]["create"] == 2
    with django_capture_on_commit_callbacks():
        op = stack_deploy(actor=actor, stack=stack)
    op = run(op)
    assert op.status == "succeeded", op.error
    names = sorted(r.name for r in sandbox.all())
    assert names == ["app-db", "app-db-site"]
    from docks.models import Database, WebService

    assert Database.objects.get().provisioning_source == "sst"
    assert WebService.objects.get().sst_resource_id == "site"
    assert StateVersion.objects.filter(stack=stack).count() == 1
    assert stack_plan(actor=actor, stack=stack)["summary"]["no-op"] == 2
    # drift: change a record behind StackDock's back
    record = next(r for r in sandbox.all() if r.name == "app-db-site")
    from dataclasses import replace

    sandbox.update(replace(record, size="huge"))
    with django_capture_on_commit_callbacks():
        ref = stack_refresh(actor=actor, stack=stack)
    ref = run(ref)
    assert ref.status == "succeeded"
    assert "site" in ref.drift
    assert WebService.objects.get().drift
    with django_capture_on_commit_callbacks():
        gone = stack_destroy(actor=actor, stack=stack)
    assert run(gone).status == "succeeded"
    assert sandbox.all() == [] and not Database.objects.exists()
    assert not StackLock.objects.exists()


@pytest.mark.django_db
def test_second_deploy_while_one_is_queued_is_a_conflict(
    owner, sandbox_dock, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK)
    with django_capture_on_commit_callbacks():
        first = stack_deploy(actor=actor, stack=stack)
    with pytest.raises(Conflict, match=f"stack locked by operation {first.pk}"):
        stack_deploy(actor=actor, stack=stack)


@pytest.mark.django_db
def test_cancel_a_queued_operation(owner, sandbox_dock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor_of(owner), dock=sandbox_dock, resource_type="server", spec={"name": "x"}
        )
    op = operation_cancel(actor=actor_of(owner), operation=op)
    assert op.status == "cancelled"
    assert not Server.objects.exists()
    assert operation_run(op.pk, worker="w") is None  # a late message does nothing


@pytest.mark.django_db
def test_reaper_requeues_an_operation_whose_worker_died(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks():
        op = resource_provision(
            actor=actor_of(owner), dock=sandbox_dock, resource_type="server", spec={"name": "x"}
        )
    Operation.objects.filter(pk=op.pk).update(
        status="running", attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert operations_reap() == [op.pk]
    assert len(callbacks) == 1
    assert run(op).status == "succeeded"
    # an operation that keeps dying is failed, not retried forever
    with django_capture_on_commit_callbacks():
        op2 = resource_provision(
            actor=actor_of(owner), dock=sandbox_dock, resource_type="server", spec={"name": "y"}
        )
    Operation.objects.filter(pk=op2.pk).update(
        status="running", attempts=3, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert operations_reap(max_attempts=3) == []
    op2.refresh_from_db()
    assert op2.status == "failed" and "stopped responding" in op2.error


@pytest.mark.django_db
def test_a_viewer_is_refused_before_the_document_is_even_read(viewer, sandbox_dock):
    with pytest.raises(PermissionDenied):
        stack_save(actor=actor_of(viewer), org=sandbox_dock.org, doc="not: [valid")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["provision", "update", "delete"])
def test_an_error_while_recording_the_result_fails_the_operation_with_a_message(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks, monkeypatch, kind
):
    """Never "running" until the lease expires and then a false "succeeded"."""
    from django.db import IntegrityError

    import provisioning.runner as runner_module

    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = resource_provision(
            actor=actor, dock=sandbox_dock, resource_type="bucket", spec={"name": "b1"}
        )
    if kind != "provision":
        run(op)
        row = Bucket.objects.get(pk=op.resource_id)
        with django_capture_on_commit_callbacks(execute=False):
            if kind == "update":
                op = resource_update(
                    actor=actor, table="buckets", row=row, changes={"size": "large"}
                )
            else:
                op = resource_delete(actor=actor, table="buckets", row=row)

    def broken(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(runner_module, "_reflect", broken)
    op = run(op)
    assert op.status == "failed"
    assert "Internal error while recording the result (IntegrityError)" in op.error
    assert "duplicate key" not in op.error  # the exception's text is not shown
    assert Bucket.objects.get(pk=op.resource_id).provisioning_state == "failed"
    assert AuditEvent.objects.filter(
        operation="provisioning.failed", status="failure", target_id=str(op.pk)
    ).exists()
    assert not StackLock.objects.exists()


@pytest.mark.django_db
def test_a_cancel_someone_asked_for_is_audited_as_what_they_wanted(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK)
    with django_capture_on_commit_callbacks(execute=False):
        op = stack_deploy(actor=actor, stack=stack)
    Operation.objects.filter(pk=op.pk).update(cancel_requested=True)  # asked while queued
    assert run(op).status == "cancelled"
    event = AuditEvent.objects.get(operation="provisioning.cancelled", target_id=str(op.pk))
    assert event.status == "success"


@pytest.mark.django_db
def test_a_destroy_counts_what_state_holds_not_what_the_spec_says(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK)
    with django_capture_on_commit_callbacks(execute=False):
        assert run(stack_deploy(actor=actor, stack=stack)).status == "succeeded"
    more = STACK + "  extra:\n    dock: sandbox\n    type: bucket\n    properties: {name: extra}\n"
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=more)
    with django_capture_on_commit_callbacks(execute=False):
        gone = stack_destroy(actor=actor, stack=stack)
    assert gone.progress_total == 2
    assert run(gone).status == "succeeded" and gone.progress_done == 2
