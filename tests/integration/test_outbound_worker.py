"""The worker applies the outbound policy with its own settings, whatever the web process
let through: a real Celery worker, a loopback listener as the endpoint."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.services import dock_create
from provisioning.models import Operation
from provisioning.services import resource_provision
from stackdock.permissions import Actor
from tests.fixtures.listener import Listener
from tests.integration.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

AWS = {
    "access_key_id": "AKIATESTTESTTEST0001",
    "secret_access_key": "worker-secret-4d4d",
    "region": "us-east-1",
    "sync_regions": ["us-east-1"],
}


def finished(op_id: int) -> Operation | None:
    op = Operation.objects.get(pk=op_id)
    return op if op.status in ("succeeded", "failed", "cancelled") else None


def provision_at(owner, url: str) -> Operation:
    dock = dock_create(
        actor=Actor.system("tests", owner.org),
        org=owner.org,
        name="aws",
        provider="aws",
        credentials=AWS,
        endpoint_url=url,
    )
    op = resource_provision(
        actor=actor_of(owner), dock=dock, resource_type="s3-bucket", spec={"name": "sd-probe"}
    )
    return wait_until(lambda: finished(op.pk), "the operation to finish")


@pytest.mark.parametrize(("worker_allows", "reached"), [("localhost", False), ("", True)])
def test_the_worker_refuses_an_endpoint_its_own_settings_do_not_allow(
    owner, worker_env, start_worker, worker_allows, reached
):
    """The dock was saved under the web process's allow-list (test settings: loopback);
    a worker whose list holds only ``localhost`` never connects to 127.0.0.1. Control: a
    worker with the default list does."""
    if worker_allows:
        worker_env["STACKDOCK_ENDPOINT_ALLOWLIST"] = worker_allows
    start_worker()
    with Listener("hangup") as spy:
        op = provision_at(owner, spy.url)
        connections = spy.connections
    assert op.status == "failed"
    if reached:
        assert connections >= 1
    else:
        assert connections == 0
        assert "refused" in (op.error or "") and "allow-list" in (op.error or "")
