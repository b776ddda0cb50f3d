"""One running StackDock for a system benchmark: a fresh database, Redis, gunicorn,
Celery workers and (optionally) moto server, all on loopback.

The Redis database index is the bench's own (``BENCH_REDIS_DB``), never the
one ``make test`` uses, and each system gets a Celery queue of its own, so a
bench worker never takes a test's tasks nor another bench run's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.common import BENCH_DB_NAME, BenchContext, fresh_database, log, run_child
from bench.system import procs

#: the Redis database index the system benchmarks use (``make test`` uses 15)
BENCH_REDIS_DB = 13


def bench_redis_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_REDIS_DB}", "", ""))


def drop_queue(url: str, queue: str) -> None:
    """Remove what is left of this system's Celery queue in Redis."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.delete(queue)
    finally:
        client.close()


@dataclass
class SystemEnv:
    """What a running system offers a benchmark."""

    env: dict[str, str]
    logs: Path
    creds: dict[str, Any]
    base_url: str = ""
    moto_url: str = ""
    workers: list[procs.Service] = field(default_factory=list)
    services: list[procs.Service] = field(default_factory=list)

    def child(self, func: str, **kwargs: Any) -> Any:
        """Run a bench function in a child process with this system's environment."""
        return run_child(func, kwargs, env=self.env)

    def start_worker(self, name: str, *, concurrency: int = 1) -> procs.Service:
        worker = procs.celery_worker(
            self.env, self.logs / f"{name}.log", name=name, concurrency=concurrency
        )
        self.workers.append(worker)
        self.services.append(worker)
        return worker.wait_ready()

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()


@contextlib.contextmanager
def running_system(
    ctx: BenchContext,
    name: str,
    *,
    workers: int = 0,
    moto: bool = False,
    web: bool = True,
    orgs: int = 1,
) -> Iterator[SystemEnv]:
    """Start everything ``name`` needs; stop it all afterwards (even on errors).

    Inside ``shared_system(ctx)`` the one shared system is handed out instead.
    """
    shared = ctx.options.get("shared_system")
    if shared is not None:
        yield shared
        return
    if not (ctx.pg_url and ctx.redis_url):
        raise RuntimeError("needs PostgreSQL and Redis")
    database = fresh_database("postgres", ctx, name=ctx.options.get("db_name", BENCH_DB_NAME))
    redis_url = bench_redis_url(ctx.redis_url)
    queue = f"stackdock-bench-{os.getpid()}-{name}"
    (ctx.var_dir / "sandbox.sqlite3").unlink(missing_ok=True)
    logs = ctx.var_dir / "logs" / name
    env = procs.server_env(database, redis_url, ctx.var_dir, STACKDOCK_BENCH_QUEUE=queue)
    system = SystemEnv(env=env, logs=logs, creds={})
    try:
        if moto:
            system.services.append(procs.moto_server(logs / "moto.log"))
            system.moto_url = system.services[-1].url
        if web:
            system.services.append(procs.gunicorn(env, logs / "gunicorn.log"))
            system.base_url = system.services[-1].url
        for i in range(workers):
            worker = procs.celery_worker(env, logs / f"w{i + 1}.log", name=f"w{i + 1}")
            system.workers.append(worker)
            system.services.append(worker)
        # the organizations are made while the processes boot
        system.creds = run_child("bench.system.seed:setup", {"orgs": orgs}, env=env)
        procs.wait_all(system.services)
        log(f"{name}: {len(system.services)} processes up (logs in {logs})")
        yield system
    finally:
        for service in reversed(system.services):
            service.stop()
        drop_queue(redis_url, queue)


@contextlib.contextmanager
def shared_system(ctx: BenchContext, *, orgs: int = 1) -> Iterator[SystemEnv]:
    """One system (gunicorn, moto, 2 workers) for every system benchmark run inside.

    For the smoke test only: it saves the start-up of a system per benchmark,
    but the benchmarks then share workers and data, so their figures mean
    little. Run ``throughput`` last: it stops the workers.
    """
    with running_system(ctx, "shared", workers=2, moto=True, orgs=orgs) as system:
        ctx.options["shared_system"] = system
        try:
            yield system
        finally:
            ctx.options.pop("shared_system", None)
