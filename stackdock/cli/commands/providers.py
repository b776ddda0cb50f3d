"""``providers [PROVIDER]``: resource types and their fields, from ``GET /providers``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stackdock.cli.context import find_provider, handles_errors, state_of
from stackdock.cli.fields import fields_of
from stackdock.cli.options import JsonOption
from stackdock.cli.output import Output, cell


def _field_rows(schema: dict[str, Any], replace: set[str]) -> list[dict[str, Any]]:
    rows = []
    for field in fields_of(schema).values():
        default = field.schema.get("default")
        rows.append(
            {
                "flag": field.flag,
                "type": field.type_label,
                "required": field.required,
                "default": None if default is None else cell(default),
                "replace": field.name in replace,
                "description": field.description,
            }
        )
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def providers(
        ctx: typer.Context,
        provider: Annotated[
            str | None, typer.Argument(help="Show this provider's resource types and fields.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Providers, their resource types, and each type's fields (the flags of `provision`)."""
        out = Output(json_mode=as_json)
        items = state_of(ctx).providers()
        if provider is None:
            if as_json:
                out.json(items)
                return
            rows = [
                {
                    "name": p.get("name"),
                    "label": p.get("label"),
                    "types": ", ".join(t.get("name", "") for t in p.get("resource_types") or []),
                }
                for p in items
            ]
            out.table([("name", "Provider"), ("label", "Label"), ("types", "Resource types")], rows)
            out.note("Fields of a provider's types: stackdock providers PROVIDER")
            return
        found = find_provider(items, provider)
        if as_json:
            out.json(found)
            return
        out.print(f"{found.get('label')} ({found.get('name')})", style="bold")
        for rtype in found.get("resource_types") or []:
            out.print("")
            table = rtype.get("table") or "no table"
            out.print(f"{found.get('name')} {rtype.get('name')}  ->  {table}", style="bold")
            if rtype.get("description"):
                out.print(f"  {rtype['description']}")
            out.table(
                [
                    ("flag", "Flag"),
                    ("type", "Type"),
                    ("required", "Required"),
                    ("default", "Default"),
                    ("replace", "Replaces"),
                    ("description", "Description"),
                ],
                _field_rows(rtype.get("schema") or {}, set(rtype.get("replace_fields") or [])),
                status_key=None,
                empty="  (no fields)",
            )
