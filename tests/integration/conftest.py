"""The worker fixtures live in ``tests/fixtures/workers.py`` (registered for every test
package by the root conftest); re-exported here for modules that import them by this name."""

from __future__ import annotations

from tests.fixtures.workers import (  # noqa: F401
    Worker,
    redis_url,
    start_worker,
    wait_until,
    worker_env,
)
