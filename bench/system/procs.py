"""The processes a system benchmark starts: gunicorn, Celery workers, moto server.

Each runs in its own session (process group) with its output in a log file,
and is stopped by that group's id - only what the benchmark started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, django_env

BIN = Path(sys.executable).parent
#: throttles are part of every request's cost, but must not refuse the load generator
UNTHROTTLED = "100000000/s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    """Poll ``check`` until it returns something truthy; RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f}s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            return 200 <= response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def server_env(database_url: str, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """What gunicorn, the workers and the bench's own children share."""
    return {
        **django_env(database_url),
        "DJANGO_SETTINGS_MODULE": "bench.system.settings",
        "REDIS_URL": redis_url,
        "STACKDOCK_SANDBOX_DB": str(var_dir / "sandbox.sqlite3"),
        "STACKDOCK_THROTTLE_TOKEN": UNTHROTTLED,
        "STACKDOCK_THROTTLE_IP": UNTHROTTLED,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Service:
    """One started process (group) with a log file; ``ready()`` says when it serves."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log: Path,
        ready: Callable[[], object],
        url: str = "",
    ) -> None:
        self.name = name
        self.log = log
        self.ready = ready
        self.url = url
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> Service:
        try:
            wait_for(lambda: self.ready() or not self.alive(), f"{self.name} to start", timeout)
        finally:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        return self

    def stop(self) -> None:
        if not self.alive():
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def wait_all(services: list[Service], timeout: float = 90.0) -> None:
    """Wait until every service (started together, so they boot in parallel) is ready."""
    for service in services:
        service.wait_ready(timeout)


def gunicorn(env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 4) -> Service:
    """gunicorn serving StackDock (plus the bench endpoints) on a free loopback port."""
    port = free_port()
    args = [
        str(BIN / "gunicorn"),
        "stackdock.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    return Service("gunicorn", args, env, log, lambda: answers(f"{base}/bench/constant"), base)


def celery_worker(env: dict[str, str], log: Path, *, name: str, concurrency: int = 1) -> Service:
    """A Celery worker (prefork pool) on the bench's Redis and database."""
    args = [
        str(BIN / "celery"),
        "-A",
        "stackdock",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return Service(f"celery worker {name}", args, env, log, lambda: b"ready." in log.read_bytes())


def moto_server(log: Path) -> Service:
    """A moto server (the AWS stand-in) on a free loopback port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    return Service("moto_server", args, {}, log, lambda: answers(f"{base}/moto-api/"), base)


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (a prefork worker's pool processes)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []
