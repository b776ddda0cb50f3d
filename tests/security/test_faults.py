"""Fault injection with real processes: a broker restart, dropped database connections,
provider throttling and 5xx storms. Nothing is lost, nothing is duplicated."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from conftest import actor_of
from docks.models import Bucket
from docks.sandbox_store import sandbox_backend
from docks.services import dock_connect
from provisioning.models import Operation, OperationEvent, StackLock
from provisioning.services import resource_provision, stack_deploy, stack_save
from tests.factories import DockFactory
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID, CF_TOKEN
from tests.integration.conftest import wait_until
from tests.integration.test_celery_engine import chain_stack, finished

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway redis-server we may kill and bring back on the same port."""

    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed")
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )

        def answers() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(answers, "redis-server", timeout=20)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(worker_env):
    server = RedisServer()
    worker_env["REDIS_URL"] = server.url
    yield server
    server.stop()


def _send(url: str, op_id: int) -> None:
    """Publish run_operation on ``url`` (this process's own broker is the session Redis)."""
    app = Celery(broker=url, set_as_current=False)
    try:
        app.send_task(
            "provisioning.run_operation", args=[op_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE
        )
    finally:
        app.close()


def test_operations_complete_after_the_broker_restarts(
    owner, own_redis, start_worker, django_capture_on_commit_callbacks
):
    dock = DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    start_worker(beat=True)
    ops = []
    for i in range(4):
        with django_capture_on_commit_callbacks(execute=False):
            ops.append(
                resource_provision(
                    actor=actor_of(owner),
                    dock=dock,
                    resource_type="server",
                    spec={"name": f"survivor-{i}", "latency_ms": 700},
                )
            )
    for op in ops:
        _send(own_redis.url, op.pk)
    wait_until(
        lambda: (
            Operation.objects.filter(status="succeeded").exists()
            or Operation.objects.filter(status="running").exists()
        ),
        "work to start",
    )
    own_redis.kill()  # queued messages are lost with it (no persistence)
    time.sleep(1.0)  # the broker stays down for a moment (not waiting for a worker)
    own_redis.start()
    for op in ops:
        done = wait_until(lambda op=op: finished(op.pk), f"operation {op.pk}", timeout=150)
        assert done.status == "succeeded", done.error
    assert sorted(r.name for r in sandbox_backend().all()) == [f"survivor-{i}" for i in range(4)]


def test_worker_recovers_from_dropped_database_connections(owner, start_worker):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    stack = stack_save(actor=actor_of(owner), org=owner.org, doc=chain_stack(6, 400))
    start_worker(beat=True)
    op = stack_deploy(actor=actor_of(owner), stack=stack)
    wait_until(lambda: len(sandbox_backend().all()) >= 2, "the apply to be under way")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cur.fetchone()[0] >= 1
    done = wait_until(lambda: finished(op.pk), "the deploy to finish", timeout=150)
    assert done.status == "succeeded", done.error
    assert sorted(r.name for r in sandbox_backend().all()) == [f"node-{i}" for i in range(6)]
    assert not StackLock.objects.filter(stack=stack).exists()


def test_throttling_and_5xx_storms_are_retried_until_the_run_completes(
    owner, start_worker, cf_emulator
):
    dock = dock_connect(
        actor=actor_of(owner),
        org=owner.org,
        name="cf",
        provider="cloudflare",
        credentials={"api_token": CF_TOKEN, "account_id": CF_ACCOUNT_ID},
        endpoint_url=cf_emulator.base_url,
    )
    cf_emulator.inject(r"/r2/buckets", method="POST", status=429, times=4, retry_after=0)
    cf_emulator.inject(r"/r2/buckets", method="POST", status=503, times=3)
    start_worker()
    op = resource_provision(
        actor=actor_of(owner), dock=dock, resource_type="r2-bucket", spec={"name": "stormy-bucket"}
    )
    done = wait_until(lambda: finished(op.pk), "the provision to finish", timeout=150)
    assert done.status == "succeeded", done.error
    assert OperationEvent.objects.filter(operation=op, status="retrying").exists()
    assert len(cf_emulator.calls("POST", r"/r2/buckets$")) >= 8  # every fault was answered
    assert list(cf_emulator.state.buckets.get(CF_ACCOUNT_ID, {})) == ["stormy-bucket"]
    assert Bucket.objects.get(pk=op.resource_id).provisioning_state == "provisioned"
