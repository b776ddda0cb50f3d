"""``resources [TABLE]``, ``update <table> <id> --FIELD VALUE``, ``destroy <table> <id>``,
``import <table> <id> [--stack NAME --as RESOURCE]``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from stackdock.cli import errors
from stackdock.cli.client import ApiClient, new_idempotency_key
from stackdock.cli.context import State, handles_errors, state_of, type_for_row
from stackdock.cli.fields import Field, fields_of, parse_field_args, validate_spec
from stackdock.cli.options import JsonOption, NoWaitOption, TimeoutOption, YesOption
from stackdock.cli.output import Output
from stackdock.cli.watch import Watcher, finish


def on_terminal() -> bool:
    """May we ask the user a question?"""
    return sys.stdin is not None and sys.stdin.isatty()


TABLES = ("servers", "web-services", "domains", "databases", "buckets")
_SINGULAR = {t[:-1]: t for t in TABLES}

RESOURCE_COLUMNS = [
    ("table", "Table"),
    ("id", "Id"),
    ("name", "Name"),
    ("provider", "Provider"),
    ("dock_name", "Dock"),
    ("resource_type", "Type"),
    ("status", "Status"),
    ("provisioning_state", "State"),
    ("provisioning_source", "Source"),
    ("region", "Region"),
]


def table_name(value: str) -> str:
    """``buckets`` (or ``bucket``) -> ``buckets``; unknown: exit 2 listing the tables."""
    value = value.strip().lower()
    if value in TABLES:
        return value
    if value in _SINGULAR:
        return _SINGULAR[value]
    raise errors.usage(
        f"Unknown table {value!r}; valid tables: {', '.join(TABLES)}.",
        fields={"table": [f"must be one of: {', '.join(TABLES)}"]},
    )


def _loose_fields(args: list[str]) -> dict[str, Field]:
    """Fields for a resource whose type the server does not describe: every flag taken
    as given (JSON when it parses), and the server decides."""
    names = [a[2:].partition("=")[0].replace("-", "_") for a in args if a.startswith("--")]
    return {n: Field(n, {}, "any", False, False, False, False) for n in names}


def _get_row(client: ApiClient, table: str, resource_id: int) -> dict[str, Any]:
    return client.get(f"/{table}/{resource_id}")


def _wait(
    state: State,
    out: Output,
    receipt: dict[str, Any],
    *,
    no_wait: bool,
    as_json: bool,
    timeout: float | None,
    what: str,
) -> None:
    op_id = receipt["provision_id"]
    if no_wait:
        if as_json:
            out.json(receipt)
        else:
            out.print(
                f"{what}: queued as operation #{op_id}. Follow it: stackdock status {op_id} --watch"
            )
        return
    out.print(f"{what}: operation #{op_id}")
    op = Watcher(state.client(), out, op_id, quiet=as_json, timeout=timeout).run()
    code = finish(out, op, as_json=as_json)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def resources(
        ctx: typer.Context,
        table: Annotated[
            str | None,
            typer.Argument(
                help="servers, web-services, domains, databases or buckets (default: all)."
            ),
        ] = None,
        dock: Annotated[str | None, typer.Option("--dock", help="Dock name or id.")] = None,
        provider: Annotated[
            str | None, typer.Option("--provider", help="aws, cloudflare, sandbox...")
        ] = None,
        source: Annotated[
            str | None,
            typer.Option(
                "--source",
                help="sst (managed by a stack), api (provisioned alone) or manual (discovered).",
            ),
        ] = None,
        state_filter: Annotated[
            str | None,
            typer.Option("--state", help="provisioning, provisioned, failed or deprovisioning."),
        ] = None,
        search: Annotated[str | None, typer.Option("--search", help="Part of a name.")] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, metavar="N", help="At most this many per table.")
        ] = 200,
        as_json: JsonOption = False,
    ) -> None:
        """Resources in the universal tables (every provider, one list)."""
        out = Output(json_mode=as_json)
        client = state_of(ctx).client(out)
        tables = [table_name(table)] if table else list(TABLES)
        params = {
            "dock": dock,
            "provider": provider,
            "provisioning_source": source,
            "provisioning_state": state_filter,
            "search": search,
        }
        params = {k: v for k, v in params.items() if v}
        rows: list[dict[str, Any]] = []
        for name in tables:
            rows += [
                {"table": name, **row} for row in client.paginate(f"/{name}", params, limit=limit)
            ]
        if as_json:
            out.json(rows)
            return
        out.table(RESOURCE_COLUMNS, rows, status_key="provisioning_state", empty="No resources.")

    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    @handles_errors
    def update(
        ctx: typer.Context,
        table: Annotated[
            str, typer.Argument(help="servers, web-services, domains, databases or buckets.")
        ],
        resource_id: Annotated[
            int, typer.Argument(help="The resource's id (see `stackdock resources`).", metavar="ID")
        ],
        yes: YesOption = False,
        no_wait: NoWaitOption = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Change a StackDock-provisioned resource: --FIELD VALUE for each changed field.

        A change that cannot happen in place (a bucket's name) replaces the resource:
        the plan is shown and you are asked first (--yes: do not ask).

        Example: stackdock update buckets 12 --versioning true
        """
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        client = state.client(out)
        name = table_name(table)
        row = _get_row(client, name, resource_id)
        args = list(ctx.args)
        if not args:
            raise errors.usage("Nothing to change: give --FIELD VALUE for each field to change.")
        rtype = type_for_row(state.providers(), row)
        what = f"{row.get('provider')} {row.get('resource_type')}"
        if rtype is not None:
            schema = rtype.get("schema") or {}
            changes = parse_field_args(args, fields_of(schema), what=what)
            validate_spec(changes, schema, what=what, partial=True)
        else:
            changes = parse_field_args(args, _loose_fields(args), what=what)
        receipt = _patch_confirmed(
            client, out, f"/{name}/{resource_id}", changes, yes=yes, label=row.get("name")
        )
        _wait(
            state,
            out,
            receipt,
            no_wait=no_wait,
            as_json=as_json,
            timeout=timeout,
            what=f"Updating {name}/{resource_id} {row.get('name')}",
        )

    def _patch_confirmed(
        client: ApiClient, out: Output, path: str, changes: dict, *, yes: bool, label: Any
    ) -> Any:
        """PATCH; when the server answers that the change replaces the resource, show its
        plan and ask (on a terminal; --yes sends the confirmation at once)."""
        body: dict[str, Any] = {"spec": changes}
        if yes:
            body["confirm"] = "replace"
        try:
            return client.patch(path, body, idempotency_key=new_idempotency_key())
        except errors.CliError as exc:
            if exc.code != "confirmation_required" or exc.plan is None:
                raise
            if out.json_mode or not on_terminal():
                raise errors.usage(
                    f"{exc.message.split(' Send confirm')[0]} Pass --yes to replace it.",
                    fields={"yes": ["required: this update replaces the resource"]},
                ) from None
            from stackdock.cli.commands.stacks import show_plan

            show_plan(out, exc.plan)
            if not typer.confirm(f"Replace {label}?", err=True):
                raise errors.CliError("Nothing changed.", errors.FAILED, code="aborted") from None
        return client.patch(
            path, {"spec": changes, "confirm": "replace"}, idempotency_key=new_idempotency_key()
        )

    @app.command()
    @handles_errors
    def destroy(
        ctx: typer.Context,
        table: Annotated[
            str, typer.Argument(help="servers, web-services, domains, databases or buckets.")
        ],
        resource_id: Annotated[
            int, typer.Argument(help="The resource's id (see `stackdock resources`).", metavar="ID")
        ],
        yes: YesOption = False,
        no_wait: NoWaitOption = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Delete a StackDock-provisioned resource at its provider (asks first; --yes)."""
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        client = state.client(out)
        name = table_name(table)
        row = _get_row(client, name, resource_id)
        label = f"{name}/{resource_id} {row.get('name')} ({row.get('provider')})"
        if not yes:
            if sys.stdin is None or not sys.stdin.isatty():
                raise errors.usage(
                    f"Destroying {label} needs confirmation: pass --yes.",
                    fields={"yes": ["required when not on a terminal"]},
                )
            if not typer.confirm(f"Destroy {label} at the provider?", err=True):
                raise errors.CliError("Nothing destroyed.", errors.FAILED, code="aborted")
        receipt = client.delete(f"/{name}/{resource_id}", idempotency_key=new_idempotency_key())
        _wait(
            state,
            out,
            receipt,
            no_wait=no_wait,
            as_json=as_json,
            timeout=timeout,
            what=f"Destroying {label}",
        )

    @app.command("import")
    @handles_errors
    def import_(
        ctx: typer.Context,
        table: Annotated[
            str, typer.Argument(help="servers, web-services, domains, databases or buckets.")
        ],
        resource_id: Annotated[
            int,
            typer.Argument(
                help="The discovered row's id (see `stackdock resources --source manual`).",
                metavar="ID",
            ),
        ],
        stack: Annotated[
            str | None,
            typer.Option(
                "--stack", metavar="NAME", help="Add it to this stack (with --as) instead of alone."
            ),
        ] = None,
        resource: Annotated[
            str | None,
            typer.Option(
                "--as", metavar="RESOURCE", help="Its name in the stack's spec (with --stack)."
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Bring a resource sync discovered under StackDock's management.

        StackDock reads it from its provider (nothing there changes) and from then on
        manages it: alone (like a provisioned one: update, destroy), or, with --stack
        and --as, as a resource of that stack (its spec gains it as read).

        Example: stackdock import buckets 12 --stack site --as assets
        """
        out = Output(json_mode=as_json)
        client = state_of(ctx).client(out)
        name = table_name(table)
        if (stack is None) != (resource is None):
            given, needed = ("--stack", "--as") if resource is None else ("--as", "--stack")
            raise errors.usage(
                "Importing into a stack needs both --stack NAME and --as RESOURCE.",
                fields={needed.lstrip("-"): [f"required with {given}"]},
            )
        if stack is None:
            imported = client.post(f"/{name}/{resource_id}/import")
        else:
            body = {"table": name, "id": resource_id, "resource": resource}
            imported = client.post(f"/stacks/{stack}/import", body)
        if as_json:
            out.json(imported)
            return
        kind = f"{imported['resource_type']} on {imported['dock']}"
        what = f"{name}/{resource_id} {imported['name']} ({kind})"
        if imported.get("stack"):
            out.print(f"Imported {what} into stack {imported['stack']} as {imported['resource']}.")
        else:
            out.print(f"Imported {what}: StackDock manages it now (update, destroy).")
        for key, value in imported.get("properties", {}).items():
            out.print(f"  {key}: {_short(value)}")
        for note in imported.get("notes", []):
            out.note(f"Note: {note}")


def _short(value: Any) -> str:
    """A property for one line: text over several lines shows its size."""
    if isinstance(value, str):
        return value if "\n" not in value else f"({len(value.splitlines())} lines)"
    return json.dumps(value, sort_keys=True)
