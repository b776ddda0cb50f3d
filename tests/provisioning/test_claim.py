"""The worker's claim: queued -> running once, with the rows the run needs loaded
(on PostgreSQL one statement; elsewhere a read and a conditional UPDATE)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.forms.models import model_to_dict
from django.utils import timezone

from conftest import actor_of
from provisioning.models import Operation, Stack
from provisioning.runner import claim, operation_run
from provisioning.services import resource_provision


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.fixture
def queued(owner, sandbox_dock, django_capture_on_commit_callbacks) -> Operation:
    with django_capture_on_commit_callbacks():
        return resource_provision(
            actor=actor_of(owner), dock=sandbox_dock, resource_type="bucket", spec={"name": "c1"}
        )


@pytest.mark.django_db
def test_the_claim_moves_the_operation_and_loads_what_the_run_needs(
    queued, django_assert_num_queries
):
    before = timezone.now()
    op = claim(queued.pk, "host:1")
    assert op is not None
    stored = Operation.objects.select_related("org", "stack", "dock").get(pk=queued.pk)
    assert stored.status == "running" and stored.worker == "host:1" and stored.attempts == 1
    assert stored.started_at >= before and stored.lease_expires_at > stored.heartbeat_at
    # what the claim returns is what a fresh read gives, typed the same way
    assert _fields(op) == _fields(stored)
    with django_assert_num_queries(0):  # loaded with the claim
        org, stack, dock = op.org, op.stack, op.dock
    assert _fields(org) == _fields(stored.org)
    assert _fields(stack) == _fields(stored.stack)
    assert _fields(dock) == _fields(stored.dock)
    assert isinstance(stack.spec, dict) and stack.spec["resources"]["resource"]["type"] == "bucket"
    assert model_to_dict(dock)["name"] == stored.dock.name


@pytest.mark.django_db
def test_an_operation_is_claimed_once_and_only_while_queued(queued):
    assert claim(queued.pk, "a") is not None
    assert claim(queued.pk, "b") is None
    assert Operation.objects.get(pk=queued.pk).worker == "a"
    assert claim(10**9, "a") is None  # gone


@pytest.mark.django_db
def test_a_resumed_operation_keeps_its_start_and_counts_the_attempt(queued):
    started = timezone.now() - timedelta(minutes=5)
    Operation.objects.filter(pk=queued.pk).update(attempts=1, started_at=started)
    op = claim(queued.pk, "second")
    assert op is not None and op.attempts == 2 and op.started_at == started


@pytest.mark.django_db
def test_an_operation_whose_stack_and_dock_were_deleted_is_claimed_without_them(queued):
    Stack.objects.filter(pk=queued.stack_id).delete()
    queued.dock.delete()
    op = claim(queued.pk, "w")
    assert op is not None and op.stack is None and op.dock is None
    assert op.org.pk == queued.org_id


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_both_get_it(owner, sandbox_dock):
    ops = [
        resource_provision(
            actor=actor_of(owner),
            dock=sandbox_dock,
            resource_type="bucket",
            spec={"name": f"race-{i}"},
        )
        for i in range(10)
    ]
    won: dict[int, list[str]] = {op.pk: [] for op in ops}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            for op in ops:
                barrier.wait(timeout=10)
                if claim(op.pk, name) is not None:
                    won[op.pk].append(name)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(names) == 1 for names in won.values()), won
    for op in Operation.objects.filter(pk__in=won):
        assert op.worker == won[op.pk][0] and op.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_claim_on_a_connection_that_died_while_idle_is_retried_on_a_new_one(
    owner, sandbox_dock
) -> None:
    """The worker skips Django's ping of a connection that answered a moment ago;
    if the server ended that session meanwhile, the claim is made on a new one."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite connections do not go away")
    op = resource_provision(
        actor=actor_of(owner), dock=sandbox_dock, resource_type="bucket", spec={"name": "idle"}
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])  # as after a server restart
    connection.health_check_done = True  # as for a connection that answered just now
    assert operation_run(op.pk, worker="after-idle") == "succeeded"
    assert Operation.objects.get(pk=op.pk).worker == "after-idle"
