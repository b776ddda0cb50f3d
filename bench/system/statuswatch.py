"""The status-latency client (a child process, plain HTTP, no Django).

For each operation it starts two pollers, as a script and a browser would:
one on ``GET /api/v1/operations/{id}``, one on the dashboard's status partial
(``GET /dashboard/operations/{id}/`` with ``HX-Request``), each at the
dashboard's own polling interval (read from the partial's ``hx-trigger``),
each starting at a random phase. An event's latency is the time from its
``at`` (when the worker recorded it) to the first poll that showed it.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bench.system.loadgen import Target, post_json

TERMINAL = ("succeeded", "failed", "cancelled")
#: an event of the partial: its time (the first <time> inside its <li>) and its text
_EVENT = re.compile(
    r'<li class="ev">(?:(?!</li>).)*?<time[^>]*datetime="([^"]+)"[^>]*>(.*?)</li>', re.S
)
_TRIGGER = re.compile(r'hx-trigger="every ([0-9.]+)(ms|s)"')
_TAGS = re.compile(r"<[^>]+>")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def polling_interval(html: str, default: float = 1.0) -> float:
    """The partial's own ``hx-trigger="every Ns"``, in seconds."""
    match = _TRIGGER.search(html)
    if not match:
        return default
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def api_events(body: bytes) -> tuple[dict[str, float], str]:
    """Event key -> ``at`` (epoch) from the JSON answer, and the operation's status."""
    import json

    data = json.loads(body)
    events = {str(e["seq"]): _epoch(e["at"]) for e in data.get("events", [])}
    return events, data.get("status", "")


def partial_events(body: bytes) -> tuple[dict[str, float], str]:
    """Event key -> ``at`` from the partial's HTML, and the status (``data-status``)."""
    html = body.decode("utf-8", errors="replace")
    events = {}
    for stamp, rest in _EVENT.findall(html):
        text = " ".join(_TAGS.sub(" ", rest).split())
        events[f"{stamp} {text}"] = _epoch(stamp)
    status = re.search(r'data-status="([a-z]+)"', html)
    return events, status.group(1) if status else ""


class Poller(threading.Thread):
    """Polls one URL until the operation is terminal, ``interval`` s after each answer."""

    def __init__(
        self,
        target: Target,
        parse: Callable[[bytes], tuple[dict[str, float], str]],
        interval: float,
        timeout: float,
    ) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.parse = parse
        self.interval = interval
        self.timeout = timeout
        self.first_seen: dict[str, float] = {}
        self.at: dict[str, float] = {}
        self.polls = 0
        self.error: str | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        next_poll = time.monotonic() + random.uniform(0, self.interval)  # noqa: S311 - a phase
        while time.monotonic() < deadline:
            time.sleep(max(0.0, next_poll - time.monotonic()))
            try:
                _, status, body = self.target.get()
            except OSError as exc:
                self.error = type(exc).__name__
                continue
            seen = time.time()
            # like htmx's "every": the next poll is armed once this answer is in
            next_poll = time.monotonic() + self.interval
            self.polls += 1
            if status != 200:
                self.error = f"HTTP {status}"
                continue
            events, op_status = self.parse(body)
            for key, at in events.items():
                if key not in self.first_seen:
                    self.first_seen[key] = seen
                    self.at[key] = at
            if op_status in TERMINAL:
                return

    def latencies_ms(self) -> list[float]:
        return [(self.first_seen[k] - self.at[k]) * 1000 for k in self.first_seen]


def chain_stack(name: str, resources: int, latency_ms: int) -> dict[str, Any]:
    """Sandbox buckets in a chain (each waits for the previous): events trickle out."""
    body: dict[str, Any] = {}
    for i in range(resources):
        props: dict[str, Any] = {"name": f"{name}-r{i}", "latency_ms": latency_ms}
        if i:
            props["size"] = f"${{r{i - 1}.id}}"
        body[f"r{i}"] = {"dock": "sandbox", "type": "bucket", "properties": props}
    return {"name": name, "resources": body}


def watch(
    *,
    base_url: str,
    token: str,
    session: str,
    operations: int,
    resources: int,
    latency_ms: int,
    prefix: str,
    timeout: float,
) -> dict[str, Any]:
    """Deploy ``operations`` chain stacks one after another, watching each with both pollers."""
    api_ms: list[float] = []
    partial_ms: list[float] = []
    errors: list[str] = []
    interval = None
    for k in range(operations):
        name = f"{prefix}-{k}"
        status, _, _ = post_json(
            base_url, "/api/v1/stacks", {"spec": chain_stack(name, resources, latency_ms)}, token
        )
        if status != 201:
            raise RuntimeError(f"creating stack {name} answered {status}")
        status, receipt, _ = post_json(base_url, f"/api/v1/stacks/{name}/deploy", {}, token)
        if status != 202:
            raise RuntimeError(f"deploying stack {name} answered {status}")
        op_id = receipt["provision_id"]
        partial = Target(
            base_url,
            {"path": f"/dashboard/operations/{op_id}/", "auth": "session", "htmx": True},
            token,
            session,
        )
        if interval is None:
            _, _, body = partial.get()
            interval = polling_interval(body.decode("utf-8", errors="replace"))
        api = Target(base_url, {"path": f"/api/v1/operations/{op_id}", "auth": "token"}, token, "")
        pollers = [
            Poller(api, api_events, interval, timeout),
            Poller(partial, partial_events, interval, timeout),
        ]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join(timeout + 5)
            if poller.error:
                errors.append(poller.error)
        api_ms.extend(pollers[0].latencies_ms())
        partial_ms.extend(pollers[1].latencies_ms())
    return {"api_ms": api_ms, "partial_ms": partial_ms, "interval": interval, "errors": errors}
