"""A worker keeps its database connection from one task to the next.

Celery's Django fixup closes every connection before and after each task unless
CELERY_DB_REUSE_MAX is set: on PostgreSQL that is a new server process per
operation (~8 ms). stackdock/celery.py closes connections the way Django does
between requests instead: broken or older than CONN_MAX_AGE.
"""

from __future__ import annotations

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from provisioning.tasks import run_operation
from stackdock.celery import _close_old_connections, app

pytestmark = pytest.mark.django_db(transaction=True)


def task_starts(fixup: DjangoWorkerFixup) -> None:
    """What a worker does before a task, as far as connections go."""
    fixup.on_task_prerun(sender=run_operation)
    task_prerun.send(sender=run_operation, task_id="t", task=run_operation, args=(), kwargs={})


def task_ends(fixup: DjangoWorkerFixup) -> None:
    fixup.on_task_postrun(sender=run_operation)
    task_postrun.send(
        sender=run_operation,
        task_id="t",
        task=run_operation,
        args=(),
        kwargs={},
        retval=None,
        state="SUCCESS",
    )


def run_task_boundaries(fixup: DjangoWorkerFixup) -> None:
    """One task with one query, and what the worker does around it."""
    task_starts(fixup)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    task_ends(fixup)


@pytest.fixture
def long_lived_connection():
    """The connection as production settings make it (CONN_MAX_AGE 60 s)."""
    connection.close()
    before = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 60
    connection.ensure_connection()
    yield connection.connection
    connection.settings_dict["CONN_MAX_AGE"] = before
    connection.close()


def test_celery_recycles_connections_only_after_many_tasks() -> None:
    assert DjangoWorkerFixup(app).db_reuse_max >= 100


def test_a_healthy_connection_outlives_the_task(long_lived_connection) -> None:
    fixup = DjangoWorkerFixup(app)
    for _ in range(3):
        run_task_boundaries(fixup)
    assert connection.connection is long_lived_connection


@pytest.mark.postgres
def test_a_broken_connection_is_dropped_before_the_next_task(long_lived_connection) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite connections are always usable")
    connection.errors_occurred = True  # as after an OperationalError in the task
    connection.health_check_done = False
    connection.connection.close()  # the server went away
    _close_old_connections()
    assert connection.connection is None
    with connection.cursor() as cursor:  # the next task connects afresh
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_connection_that_just_answered_is_not_pinged_before_the_next_task(
    long_lived_connection, django_assert_num_queries
) -> None:

    fixup = DjangoWorkerFixup(app)
    run_task_boundaries(fixup)  # the task before: its connection answered just now
    task_starts(fixup)
    assert connection.health_check_done
    with django_assert_num_queries(1):  # no SELECT 1 before it
        with connection.cursor() as cursor:
            cursor.execute("SELECT 2")


def test_after_an_idle_spell_the_connection_is_pinged_as_before(
    long_lived_connection, monkeypatch
) -> None:
    from stackdock import celery as celery_module

    fixup = DjangoWorkerFixup(app)
    run_task_boundaries(fixup)
    real = celery_module.time.monotonic
    monkeypatch.setattr(celery_module.time, "monotonic", lambda: real() + 5)
    task_starts(fixup)
    assert not connection.health_check_done  # Django pings it before the first query
