"""``provision <provider> <resource_type> [--FIELD VALUE ...]``: one resource, then wait."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stackdock.cli import errors
from stackdock.cli.client import ApiClient, new_idempotency_key
from stackdock.cli.context import find_provider, find_type, handles_errors, state_of
from stackdock.cli.errors import CliError
from stackdock.cli.fields import fields_of, load_spec_file, parse_field_args, validate_spec
from stackdock.cli.options import JsonOption, NoWaitOption, TimeoutOption
from stackdock.cli.output import Output
from stackdock.cli.watch import Watcher, finish


def resolve_dock(client: ApiClient, provider: str, dock: str | None) -> tuple[str, str]:
    """``(reference sent to the API, name shown)``: ``--dock`` as given, else the
    organization's only dock of ``provider``."""
    if dock:
        return dock, dock
    try:
        docks = [d for d in client.paginate("/docks") if d.get("provider") == provider]
    except CliError as exc:
        if exc.exit_code == errors.AUTH:
            raise errors.usage(
                "Your role cannot list docks, so the dock cannot be guessed: pass --dock NAME.",
                fields={"dock": ["required"]},
            ) from None
        raise
    if len(docks) == 1:
        return str(docks[0]["id"]), str(docks[0].get("name"))
    if not docks:
        raise errors.usage(
            f"Your organization has no {provider} dock: connect one "
            f"(`stackdock docks add NAME {provider}`) or pass --dock.",
            fields={"dock": ["required"]},
        )
    names = ", ".join(sorted(str(d.get("name")) for d in docks))
    raise errors.usage(
        f"Your organization has {len(docks)} {provider} docks; pick one with --dock: {names}.",
        fields={"dock": [f"one of: {names}"]},
    )


def build_spec(
    rtype: dict[str, Any], spec_file: Path | None, args: list[str], *, what: str
) -> dict[str, Any]:
    """``--spec`` file values, overridden by field flags, validated against the schema."""
    schema = rtype.get("schema") or {}
    fields = fields_of(schema)
    spec: dict[str, Any] = load_spec_file(spec_file) if spec_file else {}
    base_dir = spec_file.parent if spec_file else Path.cwd()
    for name, value in list(spec.items()):
        field = fields.get(name)
        if field is not None and field.is_file and isinstance(value, str):
            spec[name] = parse_field_args(
                [f"--{name}={value}"], fields, what=what, base_dir=base_dir
            )[name]
    spec.update(parse_field_args(args, fields, what=what))
    validate_spec(spec, schema, what=what)
    return spec


def show_resource(client: ApiClient, out: Output, op: dict[str, Any]) -> None:
    """One line about the resource a finished provision made (best effort)."""
    resource = op.get("resource") or {}
    if not isinstance(resource, dict) or not resource.get("table"):
        return
    try:
        row = client.get(f"/{resource['table']}/{resource['id']}")
    except CliError:
        return
    out.print(
        f"{resource['table']}/{row.get('id')}  {row.get('name')}  "
        f"{row.get('provisioning_state') or row.get('status') or ''}  "
        f"provider id: {row.get('provider_resource_id') or '-'}"
    )


def register(app: typer.Typer) -> None:
    @app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        epilog="Field flags come from the type's schema: see `stackdock providers PROVIDER`.",
    )
    @handles_errors
    def provision(
        ctx: typer.Context,
        provider: Annotated[str, typer.Argument(help="Provider, e.g. aws, cloudflare, sandbox.")],
        resource_type: Annotated[str, typer.Argument(help="Resource type, e.g. s3-bucket.")],
        dock: Annotated[
            str | None,
            typer.Option("--dock", help="Dock name or id (default: the only dock of PROVIDER)."),
        ] = None,
        spec_file: Annotated[
            Path | None,
            typer.Option("--spec", help="YAML/JSON file of field values (flags override it)."),
        ] = None,
        no_wait: NoWaitOption = False,
        timeout: TimeoutOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Provision one resource: --FIELD VALUE for each field, then wait until it ends.

        Example: stackdock provision aws s3-bucket --name my-bucket --region us-east-1
        """
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        client = state.client(out)
        found = find_provider(state.providers(), provider)
        rtype = find_type(found, resource_type)
        what = f"{provider} {resource_type}"
        spec = build_spec(rtype, spec_file, list(ctx.args), what=what)
        dock_ref, dock_name = resolve_dock(client, provider, dock)
        receipt = client.post(
            "/provision",
            {"dock": dock_ref, "resource_type": resource_type, "spec": spec},
            idempotency_key=new_idempotency_key(),
        )
        op_id = receipt["provision_id"]
        if no_wait:
            if as_json:
                out.json(receipt)
            else:
                out.print(
                    f"Provisioning {what} on dock {dock_name}: queued as operation #{op_id}. "
                    f"Follow it: stackdock status {op_id} --watch"
                )
            return
        label = spec.get("name") or ""
        out.print(f"Provisioning {what} {label} on dock {dock_name}: operation #{op_id}")
        watcher = Watcher(
            client, out, op_id, quiet=as_json, timeout=timeout, resource_name=label or None
        )
        op = watcher.run()
        code = finish(out, op, as_json=as_json)
        if code == errors.OK and not as_json:
            show_resource(client, out, op)
        elif code != errors.OK and not as_json:
            out.note(f"Events and error: stackdock status {op_id}")
        if code:
            raise typer.Exit(code)
