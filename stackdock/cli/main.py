"""``stackdock``: provision, deploy, watch and script StackDock from a terminal.

The console script (``stackdock = "stackdock.cli.main:app"``). It talks only
to the REST API (``/api/v1/``) over HTTP, so it works against any StackDock
server; see docs/CLI.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

from stackdock.cli.commands import (
    audit,
    auth,
    docks,
    members,
    operations,
    providers,
    provision,
    resources,
    stacks,
)
from stackdock.cli.context import State

app = typer.Typer(
    name="stackdock",
    help="Provision, deploy, watch and script StackDock from a terminal.",
    no_args_is_help=True,
    epilog="Exit codes: 0 ok; 1 the operation failed or was cancelled; 2 bad usage or "
    "validation; 3 authentication or permission; 4 not found; 5 server unreachable or "
    "timed out. Docs: docs/CLI.md.",
    add_completion=False,
    rich_markup_mode=None,
    # tracebacks must never show local variables: one of them may be the token
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"stackdock {version('stackdock')}")
        except PackageNotFoundError:
            typer.echo("stackdock (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Server URL for this command (default: STACKDOCK_URL, then the config file).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Talks to a StackDock server's REST API. Log in first: `stackdock login --url URL`."""
    state = State(url_option=url)
    ctx.obj = state
    ctx.call_on_close(state.close)


auth.register(app)
providers.register(app)
provision.register(app)
operations.register(app)
resources.register(app)
stacks.register(app)
app.add_typer(docks.docks_app, name="docks")
audit.register(app)
members.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
