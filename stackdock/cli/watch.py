"""Following an operation until it ends: ``GET /operations/{id}?events_after=N``.

On a terminal: a progress bar (resources done / total) with a line per event
above it. Not a terminal: one plain line per event. JSON lines (``--watch
--json``): one ``{"type": "event", ...}`` per event, then one
``{"type": "operation", ...}`` with the final state.

Ctrl-C stops watching only: the operation goes on on the server, and the
message says how to resume (``stackdock status ID --watch``) or cancel it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from stackdock.cli import errors
from stackdock.cli.client import ApiClient
from stackdock.cli.errors import CliError
from stackdock.cli.output import Output, short_time

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
POLL_ENV = "STACKDOCK_POLL_INTERVAL"
DEFAULT_INTERVAL = 0.5  # as often as the dashboard polls an operation


def poll_interval() -> float:
    """Seconds between polls (``STACKDOCK_POLL_INTERVAL``, default 0.5)."""
    try:
        return max(0.0, float(os.environ.get(POLL_ENV, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def resume_hint(op_id: Any) -> str:
    return (
        f"Resume watching: stackdock status {op_id} --watch   Cancel it: stackdock cancel {op_id}"
    )


#: the stack a single-resource operation runs in, named by the server for itself
_SINGLE_STACK = re.compile(r"\bstack _single-[a-z0-9-]+")
#: the engine's summary keys as words, in the closing line ("created 3, rolled_back 3")
_RAW_WORDS = {"rolled_back": "rolled back"}


def single_label(op: dict[str, Any], name: str | None = None) -> str | None:
    """What to call the one resource of a single-resource operation (None for a stack's):
    its name when known, else ``table/id``."""
    resource = op.get("resource") or {}
    if op.get("stack") or not isinstance(resource, dict) or not resource.get("table"):
        return None
    return name or f"{resource['table']}/{resource.get('id')}"


def event_line(event: dict[str, Any], *, single: str | None = None) -> str:
    """``05:02:11  web  create  succeeded  (1.2 s)  message`` for one event.

    For a single-resource operation (``single``: its label) the step is named by the
    resource, not by the engine's key ``resource`` or the server's internal stack name.
    """
    at = short_time(event.get("at"))[11:] or "--:--:--"
    resource = event.get("resource") or "*"
    message = str(event.get("message") or "")
    if single is not None:
        resource = single if resource == "resource" else resource
        message = _SINGLE_STACK.sub(single, message)
    for raw, words in _RAW_WORDS.items():
        message = message.replace(raw, words)
    parts = [at, str(resource), str(event.get("action") or ""), str(event.get("status") or "")]
    duration = event.get("duration_ms")
    if isinstance(duration, int | float):
        parts.append(f"({duration / 1000:.1f} s)")
    if message:
        parts.append(message)
    return "  ".join(p for p in parts if p)


def operation_title(op: dict[str, Any]) -> str:
    target = op.get("stack") or ""
    resource = op.get("resource") or {}
    if not target and isinstance(resource, dict) and resource.get("table"):
        target = f"{resource['table']}/{resource.get('id')}"
    return f"{op.get('kind', 'operation')} #{op.get('id')}" + (f" ({target})" if target else "")


class Watcher:
    """Polls one operation and shows what happens; ``run()`` returns the final document."""

    def __init__(
        self,
        client: ApiClient,
        out: Output,
        op_id: Any,
        *,
        json_lines: bool = False,
        quiet: bool = False,
        interval: float | None = None,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        resource_name: str | None = None,
    ) -> None:
        self.client = client
        self.out = out
        self.op_id = op_id
        self.json_lines = json_lines
        self.quiet = quiet  # --json without --watch: print nothing until the end
        self.interval = poll_interval() if interval is None else interval
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self._after = 0
        self.resource_name = resource_name  # a single resource's name, for its steps
        self._single: str | None = None

    def poll(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The operation now, and the events not seen before."""
        params = {"events_after": self._after} if self._after else {}
        op = self.client.get(f"/operations/{self.op_id}", **params)
        self._single = single_label(op, self.resource_name)
        new = [e for e in op.get("events") or [] if int(e.get("seq") or 0) > self._after]
        for event in new:
            self._after = max(self._after, int(event.get("seq") or 0))
        self.events.extend(new)
        return op, new

    def run(self) -> dict[str, Any]:
        deadline = None if self.timeout is None else self.clock() + self.timeout
        try:
            if self.out.tty and not self.out.json_mode and not self.quiet:
                op = self._run_with_bar(deadline)
            else:
                op = self._run_plain(deadline)
        except KeyboardInterrupt:
            raise CliError(
                f"Stopped watching operation {self.op_id}; it goes on on the server.",
                errors.INTERRUPTED,
                code="interrupted",
                hint=resume_hint(self.op_id),
            ) from None
        op["events"] = self.events
        return op

    def _check_deadline(self, deadline: float | None) -> None:
        if deadline is not None and self.clock() >= deadline:
            raise CliError(
                f"Timed out after {self.timeout:g} s waiting for operation {self.op_id}; "
                "it goes on on the server.",
                errors.UNREACHABLE,
                code="timeout",
                hint=resume_hint(self.op_id),
            )

    def _emit(self, event: dict[str, Any], printer: Callable[[str], None]) -> None:
        if self.json_lines:
            self.out.json_line({"type": "event", "operation": self.op_id, **event})
        elif not self.quiet:
            printer(event_line(event, single=self._single))

    def _run_plain(self, deadline: float | None) -> dict[str, Any]:
        while True:
            op, new = self.poll()
            for event in new:
                self._emit(event, self.out.print)
            if op.get("status") in TERMINAL:
                return op
            self._check_deadline(deadline)
            self.sleep(self.interval)

    def _run_with_bar(self, deadline: float | None) -> dict[str, Any]:
        console = self.out.console()
        columns = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"operation #{self.op_id}", total=None)
            while True:
                op, new = self.poll()
                for event in new:
                    self._emit(
                        event, lambda line: bar.console.print(line, highlight=False, markup=False)
                    )
                progress = op.get("progress") or {}
                total = progress.get("total") or None
                bar.update(
                    task,
                    description=f"{operation_title(op)} {op.get('status', '')}",
                    completed=progress.get("done") or 0,
                    total=total,
                )
                if op.get("status") in TERMINAL:
                    return op
                self._check_deadline(deadline)
                self.sleep(self.interval)


def finish(out: Output, op: dict[str, Any], *, as_json: bool, json_lines: bool = False) -> int:
    """Print the outcome of a finished operation; its exit code (0 succeeded, else 1)."""
    status = op.get("status")
    if json_lines:
        out.json_line({"type": "operation", **op})
    elif as_json:
        out.json(op)
    elif status == "succeeded":
        out.print(f"{operation_title(op)} succeeded.", style="green")
    elif status == "cancelled":
        out.print(f"{operation_title(op)} was cancelled.", style="magenta")
    else:
        error = op.get("error") or "see the events above"
        out.print(f"{operation_title(op)} {status}: {error}", style="red")
    return errors.OK if status == "succeeded" else errors.FAILED
