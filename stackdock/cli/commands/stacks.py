"""Stacks from ``stackdock.yaml``: ``plan``, ``deploy``, ``destroy-stack``, ``refresh``,
``unlock``, and ``stacks`` (the server's list)."""

from __future__ import annotations

import sys
from typing import Annotated, Any
from urllib.parse import quote

import typer

from stackdock.cli import errors, stackfile
from stackdock.cli.client import ApiClient, new_idempotency_key
from stackdock.cli.context import State, handles_errors, state_of
from stackdock.cli.errors import CliError
from stackdock.cli.options import (
    FileOption,
    JsonOption,
    NoWaitOption,
    StackNameArgument,
    TimeoutOption,
    YesOption,
)
from stackdock.cli.output import Output, cell
from stackdock.cli.watch import Watcher, finish

TargetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        "-t",
        metavar="RESOURCE",
        help="Only this resource (and what it depends on); repeatable.",
    ),
]

ACTION_MARKS = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "replace": ("-/+", "magenta"),
    "delete": ("-", "red"),
    "no-op": ("=", "dim"),
}
SUMMARY_ORDER = ("create", "update", "replace", "delete", "no-op")


def stack_path(name: str, suffix: str = "") -> str:
    return f"/stacks/{quote(name, safe='')}" + (f"/{suffix}" if suffix else "")


def ensure_stack(client: ApiClient, doc: stackfile.StackDoc) -> bool:
    """Create the stack on the server from the file when it is not there yet (a new
    stack manages nothing: saving it applies nothing). True when it was created."""
    try:
        client.get(stack_path(doc.name))
    except CliError as exc:
        if exc.exit_code != errors.NOT_FOUND:
            raise
        client.post("/stacks", {"name": doc.name, "spec": doc.text})
        return True
    return False


def plan_file(
    client: ApiClient, doc: stackfile.StackDoc, targets: list[str] | None
) -> dict[str, Any]:
    """The server's saved plan of the file's spec (the stored spec is not changed)."""
    ensure_stack(client, doc)
    return client.post(stack_path(doc.name, "plan"), {"spec": doc.text, **_targets(targets)})


def has_changes(plan: dict[str, Any]) -> bool:
    summary = plan.get("summary") or {}
    return any(int(summary.get(k) or 0) for k in ("create", "update", "replace", "delete"))


def _targets(targets: list[str] | None) -> dict[str, Any]:
    return {"targets": list(targets)} if targets else {}


def summary_text(summary: dict[str, Any]) -> str:
    counts = {k: int(summary.get(k) or 0) for k in SUMMARY_ORDER}
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['replace']} to replace, {counts['delete']} to delete, "
        f"{counts['no-op']} unchanged."
    )


def _diff_text(value: Any) -> str:
    return cell(value) if not isinstance(value, str) else repr(value)


def show_plan(out: Output, plan: dict[str, Any]) -> None:
    """One line per change (``+ web server create``) and its field diff, coloured."""
    for change in plan.get("changes") or []:
        action = str(change.get("action") or "")
        mark, style = ACTION_MARKS.get(action, ("?", ""))
        line = f"{mark} {change.get('resource')}  {change.get('type')}  {action}"
        if change.get("note"):
            line += f"  ({change['note']})"
        out.print(line, style=style or None)
        if action == "no-op":
            continue
        diff = change.get("diff") or {}
        for field, values in diff.items():
            if isinstance(values, dict) and ("old" in values or "new" in values):
                text = f"{_diff_text(values.get('old'))} -> {_diff_text(values.get('new'))}"
            else:
                text = _diff_text(values)
            out.print(f"    {field}: {text}", style=style or None)
    out.print(summary_text(plan.get("summary") or {}), style="bold")


def on_terminal() -> bool:
    """May we ask the user a question?"""
    return sys.stdin is not None and sys.stdin.isatty()


def _confirm(label: str, yes: bool) -> None:
    if yes:
        return
    if not on_terminal():
        raise errors.usage(
            f"{label} needs confirmation: pass --yes.",
            fields={"yes": ["required when not on a terminal"]},
        )
    if not typer.confirm(f"{label}?", err=True):
        raise CliError("Nothing done.", errors.FAILED, code="aborted")


def _run(
    state: State,
    out: Output,
    receipt: dict[str, Any],
    *,
    no_wait: bool,
    as_json: bool,
    timeout: float | None,
    what: str,
) -> dict[str, Any] | None:
    """Wait for a queued stack operation (unless --no-wait); the final operation."""
    op_id = receipt["provision_id"]
    if no_wait:
        if as_json:
            out.json(receipt)
        else:
            out.print(
                f"{what}: queued as operation #{op_id}. Follow it: stackdock status {op_id} --watch"
            )
        return None
    out.print(f"{what}: operation #{op_id}")
    op = Watcher(state.client(), out, op_id, quiet=as_json, timeout=timeout).run()
    code = finish(out, op, as_json=as_json)
    if code:
        raise typer.Exit(code)
    return op


def _show_stack_resources(client: ApiClient, out: Output, name: str) -> None:
    try:
        stack = client.get(stack_path(name))
    except CliError:
        return
    out.table(
        [
            ("name", "Resource"),
            ("type", "Type"),
            ("dock", "Dock"),
            ("status", "Status"),
            ("provider_resource_id", "Provider id"),
        ],
        stack.get("resources") or [],
        empty="The stack manages no resources.",
    )


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def stacks(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Stacks on the server, with their lock."""
        out = Output(json_mode=as_json)
        items = list(state_of(ctx).client(out).paginate("/stacks"))
        if as_json:
            out.json(items)
            return
        rows = [{**s, "locked": (s.get("lock") or {}).get("holder")} for s in items]
        out.table(
            [
                ("name", "Stack"),
                ("resource_count", "Resources"),
                ("on_failure", "On failure"),
                ("locked", "Locked by"),
                ("updated_at", "Updated"),
            ],
            rows,
            empty="No stacks.",
        )

    @app.command()
    @handles_errors
    def plan(
        ctx: typer.Context,
        name: StackNameArgument = None,
        file: FileOption = None,
        target: TargetOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """What `deploy` would change (no lock, no provider call), as a coloured diff.

        The server saves the plan of the file's spec without changing the stack's
        stored spec; `stackdock deploy --plan ID` applies exactly that plan.
        """
        out = Output(json_mode=as_json)
        client = state_of(ctx).client(out)
        doc = stackfile.pick(stackfile.load(stackfile.find_file(file)), name)
        result = plan_file(client, doc, target)
        if as_json:
            out.json(result)
            return
        show_plan(out, result)
        if has_changes(result):
            out.print(
                f"Saved as plan {result.get('id')}: stackdock deploy --plan {result.get('id')}"
            )

    @app.command()
    @handles_errors
    def deploy(
        ctx: typer.Context,
        name: StackNameArgument = None,
        file: FileOption = None,
        target: TargetOption = None,
        plan_id: Annotated[
            int | None,
            typer.Option(
                "--plan",
                min=1,
                metavar="ID",
                help="Deploy this saved plan (from `stackdock plan`).",
            ),
        ] = None,
        yes: YesOption = False,
        no_wait: NoWaitOption = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Plan the file's spec, show the plan, ask, then apply exactly it with live progress.

        As `terraform apply`: the plan of stackdock.yaml (or -f FILE) is shown and you
        are asked on a terminal (--yes: do not ask, for scripts). --plan ID applies a
        plan saved by `stackdock plan` instead. The file's spec becomes the stack's
        spec once its deploy is queued; a deploy refused (a lock, a stale plan)
        changes nothing.
        """
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        client = state.client(out)
        if plan_id is not None:
            stack_name_ = stackfile.stack_name(name, file)
        else:
            doc = stackfile.pick(stackfile.load(stackfile.find_file(file)), name)
            stack_name_ = doc.name
            planned = plan_file(client, doc, target)
            if not as_json:
                show_plan(out, planned)
            if not has_changes(planned):
                if as_json:
                    out.json({"plan": planned, "deployed": False})
                else:
                    out.print("No changes: the stack's resources match the file.")
                return
            if not yes and (as_json or not on_terminal()):
                raise errors.usage(
                    f"Deploying stack {doc.name} needs confirmation: pass --yes.",
                    fields={"yes": ["required when not on a terminal"]},
                )
            if not yes and not typer.confirm("Deploy these changes?", err=True):
                raise CliError("Nothing deployed.", errors.FAILED, code="aborted")
            plan_id = int(planned["id"])
        receipt = client.post(
            stack_path(stack_name_, "deploy"),
            {"plan": plan_id},
            idempotency_key=new_idempotency_key(),
        )
        op = _run(
            state,
            out,
            receipt,
            no_wait=no_wait,
            as_json=as_json,
            timeout=timeout,
            what=f"Deploying stack {stack_name_} (plan {plan_id})",
        )
        if op is not None and not as_json:
            _show_stack_resources(client, out, stack_name_)

    @app.command("destroy-stack")
    @handles_errors
    def destroy_stack(
        ctx: typer.Context,
        name: StackNameArgument = None,
        file: FileOption = None,
        target: TargetOption = None,
        keep: Annotated[
            bool, typer.Option("--keep", help="Keep the (empty) stack definition on the server.")
        ] = False,
        yes: YesOption = False,
        no_wait: NoWaitOption = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Destroy every resource of the stack, then remove the stack from the server.

        Resources go in reverse dependency order. The stack definition stays
        with --keep or --target.
        """
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        client = state.client(out)
        stack = stackfile.stack_name(name, file)
        _confirm(f"Destroy every resource of stack {stack}", yes)
        receipt = client.post(
            stack_path(stack, "destroy"), _targets(target), idempotency_key=new_idempotency_key()
        )
        op = _run(
            state,
            out,
            receipt,
            no_wait=no_wait,
            as_json=as_json,
            timeout=timeout,
            what=f"Destroying stack {stack}",
        )
        if op is not None and not keep and not target:
            client.delete(stack_path(stack))
            if not as_json:
                out.print(f"Stack {stack} removed from the server.")

    @app.command()
    @handles_errors
    def refresh(
        ctx: typer.Context,
        name: StackNameArgument = None,
        file: FileOption = None,
        no_wait: NoWaitOption = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Read every resource of the stack back from its provider and record drift."""
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        client = state.client(out)
        stack = stackfile.stack_name(name, file)
        receipt = client.post(stack_path(stack, "refresh"), idempotency_key=new_idempotency_key())
        op = _run(
            state,
            out,
            receipt,
            no_wait=no_wait,
            as_json=as_json,
            timeout=timeout,
            what=f"Refreshing stack {stack}",
        )
        if op is not None and not as_json:
            drift = op.get("drift")
            if drift:
                out.print("Drift:", style="yellow")
                items = drift.items() if isinstance(drift, dict) else enumerate(drift)
                for key, value in items:
                    out.print(f"  {key}: {cell(value)}", style="yellow")
            else:
                out.print("No drift.")

    @app.command()
    @handles_errors
    def unlock(
        ctx: typer.Context,
        name: StackNameArgument = None,
        file: FileOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Drop the stack's lock, whoever holds it (admins; audited)."""
        out = Output(json_mode=as_json)
        stack = stackfile.stack_name(name, file)
        result = state_of(ctx).client(out).post(stack_path(stack, "unlock"))
        if as_json:
            out.json(result)
            return
        released = (result or {}).get("released")
        if released:
            out.print(
                f"Released the lock of stack {stack} held by {released.get('holder')} "
                f"since {released.get('since')}."
            )
        else:
            out.print(f"Stack {stack} was not locked.")
