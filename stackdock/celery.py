"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import gc
import os
import time
import weakref
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackdock.settings")

app = Celery("stackdock")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: Any) -> None:
    """Move everything loaded at start-up out of the garbage collector's sight: a large
    apply otherwise spends a fifth of its time re-scanning Django's and boto's objects."""
    gc.freeze()


#: A connection that answered this recently is not pinged before the next task.
FRESH_SECONDS = 1.0
#: per connection object (each thread of a threads pool has its own)
_answered_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**_: Any) -> None:
    """Around each task, what Django does around each request: drop a connection
    that is broken or older than CONN_MAX_AGE, keep the others (CELERY_DB_REUSE_MAX
    stops Celery from closing every connection after every task)."""
    close_old_connections()


@task_prerun.connect
def _skip_ping_of_fresh_connections(**_: Any) -> None:
    """With CONN_HEALTH_CHECKS, Django pings a kept connection (``SELECT 1``) before
    its first query in each task. Under load a worker starts its next task
    milliseconds after its last query, on a connection that just answered: the ping
    is a round trip per operation for nothing. It is skipped when the connection's
    last task ended less than FRESH_SECONDS ago; after an idle spell it is pinged as
    before. (A connection that breaks within that second fails the claim, which
    ``operation_run`` retries once on a new connection.)"""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and now - _answered_at.get(conn, -1e9) < FRESH_SECONDS:
            conn.health_check_done = True  # type: ignore[attr-defined] # Django 4.1+


@task_postrun.connect
def _note_fresh_connections(**_: Any) -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.errors_occurred:
            _answered_at[conn] = now
        else:
            _answered_at.pop(conn, None)
