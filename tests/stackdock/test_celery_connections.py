"""A worker keeps its database connection from one task to the next.

Celery's Django fixup closes every connection before and after each task unless
CELERY_DB_REUSE_MAX is set: on PostgreSQL that is a new server process per
operation (~8 ms). stackdock/celery.py closes connections the way Django does
between requests instead: broken or older than CONN_MAX_AGE.
"""

from __future__ import annotations

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from provisioning.tasks import run_operation
from stackdock.celery import _close_old_connections, app

pytestmark = pytest.mark.django_db(transaction=True)


def run_task_boundaries(fixup: DjangoWorkerFixup) -> None:
    """What a worker does around one task, as far as connections go."""
    task = run_operation
    fixup.on_task_prerun(sender=task)
    _close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    fixup.on_task_postrun(sender=task)
    _close_old_connections()


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
