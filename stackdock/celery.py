"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackdock.settings")

app = Celery("stackdock")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: Any) -> None:
    """Move everything loaded at start-up out of the garbage collector's sight: a large
    apply otherwise spends a fifth of its time re-scanning Django's and boto's objects."""
    gc.freeze()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**_: Any) -> None:
    """Around each task, what Django does around each request: drop a connection
    that is broken or older than CONN_MAX_AGE, keep the others (CELERY_DB_REUSE_MAX
    stops Celery from closing every connection after every task)."""
    close_old_connections()
