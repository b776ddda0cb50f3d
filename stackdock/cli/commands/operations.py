"""``status <id> [--watch]``, ``ops``, ``cancel <id>``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stackdock.cli import errors
from stackdock.cli.context import handles_errors, state_of
from stackdock.cli.options import JsonOption, TimeoutOption, parse_since
from stackdock.cli.output import Output
from stackdock.cli.watch import (
    TERMINAL,
    Watcher,
    event_line,
    finish,
    operation_title,
    single_label,
)

OpId = Annotated[
    int, typer.Argument(help="The operation's number (see `stackdock ops`).", metavar="ID")
]

OP_COLUMNS = [
    ("id", "Id"),
    ("kind", "Kind"),
    ("status", "Status"),
    ("progress_text", "Progress"),
    ("target", "Target"),
    ("actor", "Actor"),
    ("created_at", "Created"),
]


def op_row(op: dict[str, Any]) -> dict[str, Any]:
    progress = op.get("progress") or {}
    resource = op.get("resource") or {}
    target = op.get("stack") or (
        f"{resource.get('table')}/{resource.get('id')}"
        if isinstance(resource, dict) and resource.get("table")
        else None
    )
    return {
        **op,
        "progress_text": f"{progress.get('done', 0)}/{progress.get('total', 0)}",
        "target": target,
    }


def show_operation(out: Output, op: dict[str, Any]) -> None:
    row = op_row(op)
    pairs: list[tuple[str, Any]] = [
        ("operation", operation_title(op)),
        ("status", op.get("status")),
        ("progress", row["progress_text"]),
        ("target", row["target"]),
        ("actor", op.get("actor")),
        ("created", op.get("created_at")),
        ("started", op.get("started_at")),
        ("finished", op.get("finished_at")),
    ]
    if op.get("error"):
        pairs.append(("error", op.get("error")))
    out.fields(pairs)
    events = op.get("events") or []
    if events:
        out.print("")
        for event in events:
            out.print(event_line(event, single=single_label(op)))


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def status(
        ctx: typer.Context,
        op_id: OpId,
        watch: Annotated[
            bool,
            typer.Option(
                "--watch",
                "-w",
                help="Follow it until it ends (Ctrl-C stops watching, not the operation).",
            ),
        ] = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """An operation's status, progress and events. Exit 1 when it failed or was cancelled."""
        out = Output(json_mode=as_json)
        client = state_of(ctx).client(out)
        if not watch:
            op = client.get(f"/operations/{op_id}")
            if as_json:
                out.json(op)
            else:
                show_operation(out, op)
            if op.get("status") in ("failed", "cancelled"):
                raise typer.Exit(errors.FAILED)
            return
        watcher = Watcher(client, out, op_id, json_lines=as_json, timeout=timeout)
        if not as_json:
            out.print(
                f"Watching operation #{op_id} (Ctrl-C stops watching; the operation goes on)."
            )
        op = watcher.run()
        code = finish(out, op, as_json=False, json_lines=as_json)
        if code:
            raise typer.Exit(code)

    @app.command()
    @handles_errors
    def ops(
        ctx: typer.Context,
        status: Annotated[
            str | None,
            typer.Option("--status", help="queued, running, succeeded, failed or cancelled."),
        ] = None,
        kind: Annotated[
            str | None,
            typer.Option(
                "--kind", help="provision, update, delete, deploy, destroy, refresh, plan, sync..."
            ),
        ] = None,
        dock: Annotated[str | None, typer.Option("--dock", help="Dock name or id.")] = None,
        stack: Annotated[str | None, typer.Option("--stack", help="Stack name.")] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="30m, 2h, 7d, 1w or an ISO date.")
        ] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, metavar="N", help="At most this many.")
        ] = 50,
        as_json: JsonOption = False,
    ) -> None:
        """Recent operations, newest first."""
        out = Output(json_mode=as_json)
        params = {
            "status": status,
            "kind": kind,
            "dock": dock,
            "stack": stack,
            "since": parse_since(since),
        }
        client = state_of(ctx).client(out)
        items = list(
            client.paginate("/operations", {k: v for k, v in params.items() if v}, limit=limit)
        )
        if as_json:
            out.json(items)
            return
        out.table(OP_COLUMNS, [op_row(op) for op in items], empty="No operations.")

    @app.command()
    @handles_errors
    def cancel(ctx: typer.Context, op_id: OpId, as_json: JsonOption = False) -> None:
        """Cancel an operation: a queued one at once, a running one between steps."""
        out = Output(json_mode=as_json)
        op = state_of(ctx).client(out).post(f"/operations/{op_id}/cancel")
        if as_json:
            out.json(op)
            return
        if op.get("status") in TERMINAL:
            out.print(f"{operation_title(op)} is {op.get('status')}.")
        else:
            out.print(
                f"Cancel requested for {operation_title(op)} ({op.get('status')}); it stops "
                f"between steps. Follow it: stackdock status {op_id} --watch"
            )
