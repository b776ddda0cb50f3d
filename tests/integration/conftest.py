"""Real processes: Celery workers on Redis against the PostgreSQL test database.

The worker processes get the test database's URL, the same encryption keys and
the same sandbox file, so they see exactly what the test wrote (tests here use
``transactional_db``: rows are committed, not hidden in a transaction).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wait_until(
    check: Callable[[], object], what: str, timeout: float = 60.0, interval: float = 0.1
) -> object:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("STACKDOCK_TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis: run through `make test`, or set STACKDOCK_TEST_REDIS_URL")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("integration tests run on PostgreSQL")
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker_env(transactional_db, redis_url, settings, tmp_path) -> dict[str, str]:
    """Environment for worker processes (tests/settings.py already made Redis the broker)."""
    assert settings.CELERY_BROKER_URL == redis_url
    settings.STACKDOCK_SANDBOX_DB = str(tmp_path / "sandbox.sqlite3")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "STACKDOCK_ENV": "test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "STACKDOCK_ENCRYPTION_KEYS": settings.STACKDOCK_ENCRYPTION_KEYS,
        "STACKDOCK_SANDBOX_DB": settings.STACKDOCK_SANDBOX_DB,
        "STACKDOCK_LEASE_SECONDS": "4",
        "STACKDOCK_REAPER_SECONDS": "1",
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    return env


class Worker:
    def __init__(self, env: dict[str, str], log: Path, *, beat: bool, name: str) -> None:
        args = [
            str(BIN / "celery"),
            "-A",
            "stackdock",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            args += ["--beat", "--schedule", str(log.with_suffix(".beat"))]
        self.log = log
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: b"ready." in log.read_bytes() or self.proc.poll() is not None,
            f"celery worker {name}",
            timeout=60,
        )
        assert self.proc.poll() is None, log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def start_worker(worker_env, tmp_path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(*, beat: bool = True, name: str | None = None) -> Worker:
        name = name or f"w{len(workers) + 1}"
        worker = Worker(worker_env, tmp_path / f"{name}.log", beat=beat, name=name)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
