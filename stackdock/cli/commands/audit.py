"""``audit [--since ...] [--export csv|jsonl]``: the organization's audit log."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from stackdock.cli.context import handles_errors, state_of
from stackdock.cli.options import JsonOption, parse_since
from stackdock.cli.output import Output

AUDIT_COLUMNS = [
    ("created_at", "When"),
    ("actor", "Actor"),
    ("operation", "Operation"),
    ("status", "Status"),
    ("target", "Target"),
    ("ip", "IP"),
]


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def audit_row(event: dict[str, Any]) -> dict[str, Any]:
    """The columns shown, whatever spelling of actor/target the server uses."""
    actor = event.get("actor_repr") or event.get("actor")
    target = event.get("target_repr") or event.get("target")
    if isinstance(actor, dict):
        actor = actor.get("repr") or actor.get("username") or actor.get("id")
    if isinstance(target, dict):
        target = target.get("repr") or target.get("id")
    return {
        **event,
        "actor": actor,
        "target": target,
        "created_at": event.get("created_at") or event.get("at"),
    }


def _write_stdout(chunk: bytes) -> None:
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(chunk)
        buffer.flush()
    else:
        sys.stdout.write(chunk.decode("utf-8", "replace"))


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def audit(
        ctx: typer.Context,
        since: Annotated[
            str | None, typer.Option("--since", help="30m, 2h, 7d, 1w or an ISO date.")
        ] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="30m, 2h, 7d, 1w or an ISO date.")
        ] = None,
        operation: Annotated[
            str | None, typer.Option("--operation", help="e.g. resource.provision.")
        ] = None,
        actor: Annotated[str | None, typer.Option("--actor", help="User (id or email).")] = None,
        status: Annotated[
            str | None, typer.Option("--status", help="e.g. success, failure, denied.")
        ] = None,
        target_type: Annotated[
            str | None, typer.Option("--target-type", help="e.g. docks.dock, provisioning.stack.")
        ] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, metavar="N", help="At most this many.")
        ] = 50,
        export: Annotated[
            ExportFormat | None,
            typer.Option("--export", help="Stream the whole (filtered) log as csv or jsonl."),
        ] = None,
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="With --export: write to this file, not stdout."),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """The audit log (needs audit: read), newest first; --export streams all of it."""
        out = Output(json_mode=as_json)
        client = state_of(ctx).client(out)
        params = {
            "since": parse_since(since),
            "until": parse_since(until, flag="--until"),
            "operation": operation,
            "actor": actor,
            "status": status,
            "target_type": target_type,
        }
        params = {k: v for k, v in params.items() if v}
        if export is not None:
            with client.stream("/audit/export", format=export.value, **params) as response:
                if output is not None:
                    with output.open("wb") as handle:
                        for chunk in response.iter_bytes():
                            handle.write(chunk)
                    out.note(f"Audit log written to {output}.")
                else:
                    for chunk in response.iter_bytes():
                        _write_stdout(chunk)
                    sys.stdout.flush()
            return
        items = list(client.paginate("/audit", params, limit=limit))
        if as_json:
            out.json(items)
            return
        out.table(AUDIT_COLUMNS, [audit_row(e) for e in items], empty="No audit events.")
