"""The engine through a real Celery worker process, Redis and PostgreSQL."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.models import Database, Server
from docks.sandbox_store import sandbox_backend
from provisioning.models import Operation, OperationEvent, StackLock
from provisioning.services import resource_provision, stack_deploy, stack_save
from tests.factories import DockFactory
from tests.integration.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def finished(op_id: int) -> Operation | None:
    op = Operation.objects.get(pk=op_id)
    return op if op.is_terminal else None


def chain_stack(n: int, latency_ms: int) -> str:
    """``r0 <- r1 <- ...``: each takes the previous one's id (so each is declared ahead)."""
    lines = ["name: chain", "resources:"]
    for i in range(n):
        size = f', size: "${{r{i - 1}.id}}"' if i else ""
        lines += [
            f"  r{i}:",
            "    dock: sandbox",
            "    type: server",
            f"    properties: {{name: node-{i}, latency_ms: {latency_ms}{size}}}",
        ]
    return "\n".join(lines)


def test_worker_provisions_a_sandbox_resource(owner, start_worker):
    dock = DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    start_worker()
    op = resource_provision(
        actor=actor_of(owner), dock=dock, resource_type="server", spec={"name": "through-celery"}
    )
    op = wait_until(lambda: finished(op.pk), "the operation to finish")
    assert op.status == "succeeded", op.error
    row = Server.objects.get(pk=op.resource_id)
    assert row.provisioning_state == "provisioned"
    assert [r.name for r in sandbox_backend().all()] == ["through-celery"]
    assert OperationEvent.objects.filter(operation=op).exists()


def test_stack_deploy_with_references_through_a_worker(owner, start_worker):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    stack = stack_save(
        actor=actor_of(owner),
        org=owner.org,
        doc="""
name: app
resources:
  db: {dock: sandbox, type: database, properties: {name: app-db}}
  web: {dock: sandbox, type: server, properties: {name: "${db.name}-web"}}
""",
    )
    start_worker()
    op = stack_deploy(actor=actor_of(owner), stack=stack)
    op = wait_until(lambda: finished(op.pk), "the deploy to finish")
    assert op.status == "succeeded", op.error
    assert sorted(r.name for r in sandbox_backend().all()) == ["app-db", "app-db-web"]
    assert Database.objects.get().sst_stack_name == "app"


def test_worker_killed_mid_apply_is_finished_by_the_reaper_and_another_worker(owner, start_worker):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    stack = stack_save(actor=actor_of(owner), org=owner.org, doc=chain_stack(8, 300))
    first = start_worker(beat=False, name="doomed")
    op = stack_deploy(actor=actor_of(owner), stack=stack)
    wait_until(lambda: len(sandbox_backend().all()) >= 2, "the apply to be under way")
    first.kill()
    assert Operation.objects.get(pk=op.pk).status == "running"
    start_worker(beat=True, name="rescuer")  # its beat runs the reaper every second
    op = wait_until(lambda: finished(op.pk), "the reaper and the second worker", timeout=120)
    assert op.status == "succeeded", op.error
    assert op.attempts == 2
    backend = sandbox_backend().all()
    assert sorted(r.name for r in backend) == sorted(f"node-{i}" for i in range(8))  # no duplicate
    ids = {r.name: r.id for r in backend}
    assert all(r.size == ids[f"node-{int(r.name[5:]) - 1}"] for r in backend if r.name != "node-0")
    assert Server.objects.filter(sst_stack_name="chain").count() == 8
    assert not StackLock.objects.filter(stack=stack).exists()


def test_worker_process_dying_right_after_create_leaves_no_duplicate(owner, start_worker):
    """crash-after-create kills the pool process that ran the create; the reaper hands the
    operation to a worker again, which adopts the resource instead of creating another."""
    dock = DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    start_worker(beat=True)
    op = resource_provision(
        actor=actor_of(owner),
        dock=dock,
        resource_type="bucket",
        spec={"name": "fragile", "fail": "crash-after-create"},
    )
    op = wait_until(lambda: finished(op.pk), "the reaper to recover the operation", timeout=120)
    assert op.status == "succeeded", op.error
    assert op.attempts >= 2
    assert [r.name for r in sandbox_backend().all()] == ["fragile"]
    from docks.models import Bucket

    row = Bucket.objects.get(pk=op.resource_id)
    assert row.provisioning_state == "provisioned"
    assert row.provider_resource_id == sandbox_backend().all()[0].id
