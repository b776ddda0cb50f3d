"""Settings of the processes the system benchmarks start: StackDock's own, plus the
bench's bare endpoints (``bench.system.urls``) and a Celery queue of the bench
run's own (so its workers never take anyone else's tasks). Nothing else differs."""

from __future__ import annotations

import os

from stackdock.settings import *  # noqa: F403

ROOT_URLCONF = "bench.system.urls"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("STACKDOCK_BENCH_QUEUE", "celery")
