"""Through the real parts: two gunicorn processes and a Celery worker sharing PostgreSQL and
Redis. A list page one web process cached is dropped when another process or the worker
writes the table - long before the cache's time limit, set to ten minutes here."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import secret_for
from tests.factories import DockFactory
from tests.fixtures.workers import wait_until

pytestmark = [pytest.mark.integration]


def test_a_page_cached_by_one_process_is_dropped_by_writes_anywhere(
    worker_env, start_web, start_worker, owner, org
):
    worker_env["STACKDOCK_LIST_CACHE_SECONDS"] = "600"
    reader, writer = start_web(), start_web()
    DockFactory(org=org, name="sandbox", provider="sandbox")
    headers = {"Authorization": f"Bearer {secret_for(owner)}"}

    def buckets() -> list[tuple[str, str]]:
        response = httpx.get(f"{reader.url}/api/v1/buckets", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return [(r["name"], r["provisioning_state"]) for r in response.json()["results"]]

    assert buckets() == buckets() == []  # cached empty page
    accepted = httpx.post(
        f"{writer.url}/api/v1/provision",
        json={"dock": "sandbox", "resource_type": "bucket", "spec": {"name": "assets"}},
        headers=headers,
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    # the other web process's insert shows at once; no worker runs yet
    assert buckets() == [("assets", "provisioning")]
    start_worker()
    # the worker's update of the row shows as soon as it commits
    wait_until(lambda: buckets() == [("assets", "provisioned")], "the provisioned row", 60)
