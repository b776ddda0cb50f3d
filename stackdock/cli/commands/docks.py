"""``docks [list|add|rotate|set-endpoint|sync|remove]``: the organization's provider accounts.

Credentials are never taken from the command line for secret fields (they
would land in the shell history and the process list): they come from
``--credentials-file``, from ``STACKDOCK_CREDENTIAL_<FIELD>`` environment
variables, or from a hidden prompt. No command prints a credential.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from stackdock.cli import errors
from stackdock.cli.client import ApiClient, new_idempotency_key
from stackdock.cli.context import find_provider, handles_errors, state_of
from stackdock.cli.fields import Field, fields_of, load_spec_file, parse_field_args, validate_spec
from stackdock.cli.options import JsonOption, NoWaitOption, TimeoutOption, YesOption
from stackdock.cli.output import Output
from stackdock.cli.watch import Watcher, finish

CREDENTIAL_ENV_PREFIX = "STACKDOCK_CREDENTIAL_"
_UUID_LEN = 36

docks_app = typer.Typer(
    help="The organization's docks (connected provider accounts).",
    no_args_is_help=False,
)

DOCK_COLUMNS = [
    ("name", "Name"),
    ("provider", "Provider"),
    ("id", "Id"),
    ("endpoint_url", "Endpoint"),
    ("sync_status", "Sync"),
    ("last_sync_at", "Last sync"),
    ("credential_fields", "Credentials set"),
]
DockArgument = Annotated[str, typer.Argument(help="Dock name or id.")]
CredentialsFileOption = Annotated[
    Path | None,
    typer.Option("--credentials-file", help="YAML/JSON file with the credential fields."),
]


def dock_path(dock_id: str, suffix: str = "") -> str:
    return f"/docks/{quote(dock_id, safe='')}" + (f"/{suffix}" if suffix else "")


def find_dock(client: ApiClient, ref: str) -> dict[str, Any]:
    """A dock by id or name (exit 4 when there is none)."""
    if len(ref) == _UUID_LEN and ref.count("-") == 4:
        return client.get(dock_path(ref))
    for dock in client.paginate("/docks"):
        if dock.get("name") == ref or str(dock.get("id")) == ref:
            return dock
    raise errors.CliError(f"Dock {ref!r} not found.", errors.NOT_FOUND, code="not_found")


def _secret_flag_error(field: Field) -> errors.CliError:
    env = CREDENTIAL_ENV_PREFIX + field.name.upper()
    return errors.usage(
        f"{field.flag} is a secret: leave it off the command line and type it at the prompt, "
        f"set {env}, or put it in --credentials-file.",
        fields={f"credentials.{field.name}": ["secret: not accepted as a flag"]},
    )


def collect_credentials(
    schema: dict[str, Any], args: list[str], file: Path | None, *, what: str, out: Output
) -> dict[str, Any]:
    """Credentials from the file, then environment variables, then flags (non-secret
    fields only), then a prompt for what is still missing (hidden for secrets)."""
    fields = fields_of(schema)
    creds: dict[str, Any] = load_spec_file(file, flag="--credentials-file") if file else {}
    for field in fields.values():
        value = os.environ.get(CREDENTIAL_ENV_PREFIX + field.name.upper())
        if value:
            creds[field.name] = value
    for arg in args:
        name = arg[2:].partition("=")[0].replace("-", "_") if arg.startswith("--") else ""
        if name in fields and fields[name].secret:
            raise _secret_flag_error(fields[name])
    creds.update(parse_field_args(args, fields, what=what))
    interactive = sys.stdin is not None and sys.stdin.isatty()
    for field in fields.values():
        if field.name in creds or not field.required:
            continue
        if not interactive:
            continue  # reported by validation below, naming the field
        label = field.name.replace("_", " ")
        creds[field.name] = typer.prompt(label, hide_input=field.secret, err=True)
    validate_spec(creds, schema, what=what, prefix="credentials")
    return creds


def _show(out: Output, docks: list[dict[str, Any]]) -> None:
    out.table(DOCK_COLUMNS, docks, status_key="sync_status", empty="No docks.")


@docks_app.callback(invoke_without_command=True)
@handles_errors
def docks(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List docks (the default), or add, rotate, sync or remove one."""
    if ctx.invoked_subcommand is not None:
        return
    out = Output(json_mode=as_json)
    items = list(state_of(ctx).client(out).paginate("/docks"))
    if as_json:
        out.json(items)
    else:
        _show(out, items)


@docks_app.command("list")
@handles_errors
def list_docks(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List docks: provider, endpoint, sync status, which credential fields are set."""
    out = Output(json_mode=as_json)
    items = list(state_of(ctx).client(out).paginate("/docks"))
    if as_json:
        out.json(items)
    else:
        _show(out, items)


@docks_app.command(
    "add",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Credential fields per provider: `stackdock providers PROVIDER --json`.",
)
@handles_errors
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the dock, e.g. aws-main.")],
    provider: Annotated[str, typer.Argument(help="aws, cloudflare, sandbox...")],
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", help="Endpoint override (LocalStack, MinIO, moto...)."),
    ] = None,
    credentials_file: CredentialsFileOption = None,
    provisioning_credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--provisioning-credentials-file",
            help="Separate credentials for provisioning (YAML/JSON file).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Connect a provider account; the server checks the credentials live first.

    Non-secret credential fields may be flags (--account-id X); secrets come from
    --credentials-file, STACKDOCK_CREDENTIAL_<FIELD> or a hidden prompt.
    """
    out = Output(json_mode=as_json)
    state = state_of(ctx)
    client = state.client(out)
    found = find_provider(state.providers(), provider)
    schema = found.get("credentials") or {}
    creds = collect_credentials(schema, list(ctx.args), credentials_file, what=provider, out=out)
    body: dict[str, Any] = {"name": name, "provider": provider, "credentials": creds}
    if endpoint_url:
        body["endpoint_url"] = endpoint_url
    if provisioning_credentials_file:
        prov = load_spec_file(provisioning_credentials_file, flag="--provisioning-credentials-file")
        validate_spec(prov, schema, what=provider, prefix="provisioning_credentials")
        body["provisioning_credentials"] = prov
    dock = client.post("/docks", body)
    if as_json:
        out.json(dock)
        return
    out.print(f"Dock {dock.get('name')} ({dock.get('provider')}) connected: id {dock.get('id')}.")


@docks_app.command(
    "rotate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@handles_errors
def rotate(
    ctx: typer.Context,
    dock: DockArgument,
    grace: Annotated[
        int,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="Seconds the previous credentials stay (encrypted) before they are erased.",
        ),
    ] = 3600,
    credentials_file: CredentialsFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rotate a dock's provisioning credentials (checked live first).

    The old ones are kept if the new ones fail, and erased after --grace seconds.
    """
    out = Output(json_mode=as_json)
    state = state_of(ctx)
    client = state.client(out)
    target = find_dock(client, dock)
    found = find_provider(state.providers(), str(target.get("provider")))
    creds = collect_credentials(
        found.get("credentials") or {},
        list(ctx.args),
        credentials_file,
        what=str(target.get("provider")),
        out=out,
    )
    result = client.post(
        dock_path(str(target["id"]), "rotate-credentials"),
        {"credentials": creds, "grace_seconds": grace},
    )
    if as_json:
        out.json(result)
        return
    out.print(
        f"Credentials of dock {result.get('name')} rotated; the previous ones are erased "
        f"at {result.get('previous_credentials_expire_at') or 'once unused'}."
    )


@docks_app.command(
    "set-endpoint",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
@handles_errors
def set_endpoint(
    ctx: typer.Context,
    dock: DockArgument,
    endpoint_url: Annotated[
        str,
        typer.Argument(help="The new endpoint; an empty string for the provider's own."),
    ],
    credentials_file: CredentialsFileOption = None,
    provisioning_credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--provisioning-credentials-file",
            help="The separate provisioning credentials, when the dock keeps them "
            "(a file holding {} drops them).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Move a dock to a new endpoint. Its stored credentials are never sent there: you
    enter them again (checked live at the new endpoint; needs credentials: full)."""
    out = Output(json_mode=as_json)
    state = state_of(ctx)
    client = state.client(out)
    target = find_dock(client, dock)
    provider = str(target.get("provider"))
    schema = find_provider(state.providers(), provider).get("credentials") or {}
    creds = collect_credentials(schema, list(ctx.args), credentials_file, what=provider, out=out)
    body: dict[str, Any] = {"endpoint_url": endpoint_url, "credentials": creds}
    if provisioning_credentials_file:
        prov = load_spec_file(provisioning_credentials_file, flag="--provisioning-credentials-file")
        if prov:
            validate_spec(prov, schema, what=provider, prefix="provisioning_credentials")
        body["provisioning_credentials"] = prov
    result = client.patch(dock_path(str(target["id"])), body)
    if as_json:
        out.json(result)
        return
    where = result.get("endpoint_url") or "the provider's own endpoint"
    out.print(f"Dock {result.get('name')} now talks to {where}, with the credentials entered.")


@docks_app.command("sync")
@handles_errors
def sync(
    ctx: typer.Context,
    dock: DockArgument,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sync a dock now: every resource of the account into the universal tables."""
    out = Output(json_mode=as_json)
    client = state_of(ctx).client(out)
    target = find_dock(client, dock)
    receipt = client.post(
        dock_path(str(target["id"]), "sync"), idempotency_key=new_idempotency_key()
    )
    op_id = receipt["provision_id"]
    if no_wait:
        if as_json:
            out.json(receipt)
        else:
            out.print(f"Queued sync of {target.get('name')}: operation #{op_id}.")
        return
    out.print(f"Syncing dock {target.get('name')}: operation #{op_id}")
    op = Watcher(client, out, op_id, quiet=as_json, timeout=timeout).run()
    code = finish(out, op, as_json=as_json)
    if code:
        raise typer.Exit(code)


@docks_app.command("remove")
@handles_errors
def remove(
    ctx: typer.Context,
    dock: DockArgument,
    orphan: Annotated[
        bool,
        typer.Option(
            "--orphan",
            help="Remove it even though StackDock-provisioned "
            "resources exist (they stay, untracked).",
        ),
    ] = False,
    yes: YesOption = False,
) -> None:
    """Remove a dock from StackDock (nothing is deleted at the provider)."""
    out = Output()
    client = state_of(ctx).client(out)
    target = find_dock(client, dock)
    if not yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise errors.usage(
                "Removing a dock needs confirmation: pass --yes.",
                fields={"yes": ["required when not on a terminal"]},
            )
        if not typer.confirm(f"Remove dock {target.get('name')}?", err=True):
            raise errors.CliError("Nothing removed.", errors.FAILED, code="aborted")
    client.delete(dock_path(str(target["id"])), orphan="true" if orphan else None)
    out.print(f"Dock {target.get('name')} removed.")
