"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackdock.settings")

app = Celery("stackdock")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: Any) -> None:
    """Move everything loaded at start-up out of the garbage collector's sight: a large
    apply otherwise spends a fifth of its time re-scanning Django's and boto's objects."""
    gc.freeze()
