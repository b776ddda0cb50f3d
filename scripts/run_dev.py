"""`make run`: migrate, seed the demo organization, start moto server, a Celery worker
with beat, and the web server; print the URL and the login. Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = os.environ.get("STACKDOCK_HOST", "127.0.0.1")
PORT = int(os.environ.get("STACKDOCK_PORT", "8000"))


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {timeout:.0f}s")


def main() -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("STACKDOCK_ENV", "dev")
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    manage = [str(BIN / "python"), str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    procs: list[subprocess.Popen] = []
    try:
        moto_port = free_port(int(os.environ.get("STACKDOCK_MOTO_PORT", "5055")))
        moto = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            cwd=ROOT,
            env=env,
            stdout=open(var / "moto.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        procs.append(moto)
        wait_port(moto_port, moto, "moto server")
        moto_url = f"http://127.0.0.1:{moto_port}"
        seeded = subprocess.run(
            [*manage, "seed_demo", "--moto-url", moto_url],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        login = seeded.stdout.strip().splitlines()[-1]
        worker = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "stackdock",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--schedule",
                str(var / "celerybeat-schedule"),
            ],
            cwd=ROOT,
            env=env,
            stdout=open(var / "worker.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        procs.append(worker)
        port = free_port(PORT)
        web = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"{HOST}:{port}"],
            cwd=ROOT,
            env=env,
        )
        procs.append(web)
        wait_port(port, web, "web server")
        print(
            "\n  StackDock is running\n"
            f"  dashboard: http://{HOST}:{port}/dashboard/\n"
            f"  API:       http://{HOST}:{port}/api/v1/  (docs at /api/docs/)\n"
            f"  {login}\n"
            f"  AWS (emulated) at {moto_url}; worker log: var/worker.log\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        dead = next(p for p in procs if p.poll() is not None)
        print(f"a process exited ({dead.args[0]}), stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
