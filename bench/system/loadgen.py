"""The load generator: a plain Python HTTP client, run in its own process.

One keep-alive connection per target; targets are requested round-robin, one
request at a time, so every figure sees the same machine load and the
latencies are those of a single client (no queueing in the server). A
latency is the time from sending the request to having read the whole body.
"""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit


class Target:
    """One URL with its headers and a persistent connection to the server."""

    def __init__(self, base_url: str, spec: dict[str, Any], token: str, session: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = spec["path"]
        self.headers = {"Accept": spec.get("accept", "application/json")}
        if spec.get("auth") == "token":
            self.headers["Authorization"] = f"Bearer {token}"
        elif spec.get("auth") == "session":
            self.headers["Cookie"] = f"sessionid={session}"
        if spec.get("htmx"):
            self.headers["HX-Request"] = "true"
        self.conn: http.client.HTTPConnection | None = None

    def get(self) -> tuple[float, int, bytes]:
        """One request: (seconds, status, body). Reconnects once if the server closed."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            started = time.perf_counter()
            try:
                self.conn.request("GET", self.path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return elapsed, response.status, body
        raise AssertionError("unreachable")


def latencies(
    *,
    base_url: str,
    targets: dict[str, dict[str, Any]],
    token: str,
    session: str,
    requests: int,
    warmup: int,
) -> dict[str, Any]:
    """Per target: every latency in ms (after ``warmup`` unmeasured rounds), statuses seen."""
    clients = {name: Target(base_url, spec, token, session) for name, spec in targets.items()}
    out: dict[str, Any] = {name: {"ms": [], "statuses": {}, "bytes": 0} for name in clients}
    for round_ in range(warmup + requests):
        for name, client in clients.items():
            elapsed, status, body = client.get()
            if round_ < warmup:
                continue
            entry = out[name]
            entry["ms"].append(elapsed * 1000)
            entry["statuses"][str(status)] = entry["statuses"].get(str(status), 0) + 1
            entry["bytes"] = len(body)
    return out


def post_json(
    base_url: str, path: str, body: dict[str, Any], token: str
) -> tuple[int, dict[str, Any], float]:
    """One POST with a JSON body and the token: (status, JSON answer, seconds)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    started = time.perf_counter()
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError:
        payload = {}
    return response.status, payload, elapsed


def post_many(
    *, base_url: str, path: str, bodies: list[dict[str, Any]], token: str, threads: int
) -> dict[str, Any]:
    """POST every body (``threads`` at a time); per request: status, id, send time, ms."""

    def one(body: dict[str, Any]) -> dict[str, Any]:
        at = time.time()
        status, payload, seconds = post_json(base_url, path, body, token)
        return {
            "status": status,
            "id": payload.get("provision_id"),
            "sent": at,
            "ms": seconds * 1000,
        }

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one, bodies))
    return {"requests": results, "seconds": time.perf_counter() - started}


class ApiClient:
    """A small JSON client of ``/api/v1`` with the bench's token (one keep-alive connection)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self._get = Target(base_url, {"path": "/", "auth": "token"}, token, "")

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        self._get.path = path
        _, status, body = self._get.get()
        try:
            return status, json.loads(body) if body else {}
        except ValueError:
            return status, {}

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        return post_json(self.base_url, path, body, self.token)

    def count(self, path: str) -> int:
        status, data = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return int(data["count"])

    def unfinished(self) -> int:
        """Operations of the organization still queued or running."""
        return self.count("/api/v1/operations?status=queued&limit=1") + self.count(
            "/api/v1/operations?status=running&limit=1"
        )

    def wait_finished(self, op_id: int, *, timeout: float, interval: float = 0.05) -> str:
        """Poll one operation until it is terminal; its status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, data = self.get(f"/api/v1/operations/{op_id}?events_after=1000000")
            if status == 200 and data.get("status") in ("succeeded", "failed", "cancelled"):
                return str(data["status"])
            time.sleep(interval)
        raise RuntimeError(f"operation {op_id} did not finish within {timeout:.0f}s")

    def wait_all_finished(self, *, timeout: float, interval: float = 0.5) -> int:
        """Poll until nothing is queued or running; how many still were at the deadline."""
        deadline = time.monotonic() + timeout
        left = self.unfinished()
        while left and time.monotonic() < deadline:
            time.sleep(interval)
            left = self.unfinished()
        return left
