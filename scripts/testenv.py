"""Find or start the services the tests need, run pytest, stop what was started.

Used by ``make test``. PostgreSQL and Redis are taken from ``TEST_DATABASE_URL``
/ ``TEST_REDIS_URL`` when set, else from 127.0.0.1:5432 / 127.0.0.1:6379 when
they answer, else throwaway ones are started on free ports (PostgreSQL from
/usr/lib/postgresql/<version>/bin, Debian's redis-server; both installed with
apt-get when missing) and stopped afterwards.

The suite runs twice: everything on PostgreSQL + Redis, then again on SQLite
(the embedded default) only the tests that use the database, without the
integration and browser tests, which need PostgreSQL and Redis.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def log(msg: str) -> None:
    print(f"[testenv] {msg}", flush=True)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"[testenv] {what} did not come up within {timeout:.0f}s")


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(
            f"[testenv] need {' '.join(packages)}: install them (sudo apt-get install "
            f"{' '.join(packages)}) or set TEST_DATABASE_URL / TEST_REDIS_URL"
        )
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    if port_open("127.0.0.1", 5432):
        yield "postgres://postgres@127.0.0.1:5432/stackdock"
        return
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs:
        apt_install("postgresql")
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    bindir = Path(bindirs[-1])
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="stackdock-pg-"))
    data = tmp / "data"
    # initdb refuses to run as root: run the throwaway cluster as an unprivileged user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(tmp, user=user)
        as_user = ["runuser", "-u", user, "--"]
    log(f"starting a throwaway PostgreSQL ({bindir}) on port {port}")
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(tmp / "log"),
            "-w",
            "-o",
            f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/stackdock"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def redis() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    if port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/15"
        return
    if not shutil.which("redis-server"):
        apt_install("redis-server")
    port = free_port()
    log(f"starting a throwaway redis-server on port {port}")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for(lambda: port_open("127.0.0.1", port), "redis-server")
    try:
        yield f"redis://127.0.0.1:{port}/15"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- browser tests: Debian's chromium, driven by Playwright (never downloaded) ---------------
CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """tests/browser launch /usr/bin/chromium: install Debian's package when it is missing."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        log(
            "no /usr/bin/chromium and not root: the browser tests will be skipped "
            "(sudo apt-get install chromium)"
        )
        return
    apt_install("chromium")


def pytest(args: list[str], env: dict[str, str]) -> int:
    cmd = [str(VENV_BIN / "python"), "-m", "pytest", *args]
    log(" ".join(cmd))
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str]) -> int:
    base = {**os.environ, "STACKDOCK_ENV": "test", "PYTHONUNBUFFERED": "1"}
    base.pop("DATABASE_URL", None)
    base.pop("REDIS_URL", None)
    ensure_chromium()
    with postgres() as pg_url, redis() as redis_url:
        env = {**base, "DATABASE_URL": pg_url, "STACKDOCK_TEST_REDIS_URL": redis_url}
        log(f"PostgreSQL: {pg_url}  Redis: {redis_url}")
        rc = pytest(["-p", "no:cacheprovider", *argv], env)
        if rc not in (0, 5):
            return rc
        sqlite_args = [
            "-p",
            "no:cacheprovider",
            "-m",
            "not integration and not browser and not postgres",
            *argv,
        ]
        rc2 = pytest(
            sqlite_args,
            {**base, "STACKDOCK_TEST_REDIS_URL": redis_url, "STACKDOCK_TEST_DB_ONLY": "1"},
        )
        if rc2 not in (0, 5):
            return rc2
        if rc == 5 and rc2 == 5:
            log("no tests ran")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
