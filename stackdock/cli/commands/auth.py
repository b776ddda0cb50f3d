"""``login``, ``logout``, ``whoami``."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from stackdock.cli import config as config_module
from stackdock.cli import context, errors
from stackdock.cli.client import ApiClient
from stackdock.cli.config import Config
from stackdock.cli.context import handles_errors, state_of
from stackdock.cli.errors import CliError
from stackdock.cli.options import JsonOption
from stackdock.cli.output import Output


def _read_token(out: Output) -> str:
    """The token: a hidden prompt on a terminal, else the first line of stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        token = typer.prompt("API token", hide_input=True, err=True)
    else:
        token = (sys.stdin.readline() if sys.stdin is not None else "").strip()
    token = token.strip()
    if not token:
        raise errors.usage(
            "No token given: type it at the prompt, or pipe it in "
            "(`stackdock login --url URL < token-file`).",
            fields={"token": ["required"]},
        )
    return token


def _resolve_url(ctx: typer.Context, url: str | None) -> str:
    state = state_of(ctx)
    chosen = (url or state.url_option or os.environ.get(config_module.URL_ENV, "")).strip()
    if not chosen:
        try:
            chosen = config_module.read_file().get("url", "")
        except CliError:
            chosen = ""  # an unreadable config file is about to be rewritten
    if not chosen and sys.stdin is not None and sys.stdin.isatty():
        chosen = typer.prompt("StackDock URL", default="http://127.0.0.1:8000", err=True)
    if not chosen:
        raise errors.usage(
            "Which server? Pass --url URL (or set STACKDOCK_URL).", fields={"url": ["required"]}
        )
    return config_module.normalize_url(chosen)


def whoami_lines(me: dict[str, Any]) -> list[tuple[str, Any]]:
    user = me.get("user") or {}
    org = me.get("org") or {}
    token = me.get("token") or {}
    perms = me.get("permissions") or {}
    lines: list[tuple[str, Any]] = [
        ("user", user.get("username")),
        ("organization", f"{org.get('name')} ({org.get('slug')})"),
        ("role", me.get("role")),
        ("permissions", ", ".join(f"{k}: {v}" for k, v in perms.items())),
    ]
    if token:
        lines.append(("token", f"{token.get('name')} (prefix {token.get('prefix')})"))
        if token.get("expires_at"):
            lines.append(("token expires", token.get("expires_at")))
    return lines


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def login(
        ctx: typer.Context,
        url: Annotated[
            str | None,
            typer.Option("--url", help="The StackDock server, e.g. https://stackdock.example.com."),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Ask for an API token, check it with the server, and store URL and token.

        The token is read from a hidden prompt (or the first line of stdin when
        it is not a terminal) and saved in ~/.config/stackdock/config.toml with
        mode 0600. STACKDOCK_URL / STACKDOCK_TOKEN override the file.
        """
        out = Output(json_mode=as_json)
        server = _resolve_url(ctx, url)
        if config_module.is_plain_http_to_remote(server):
            out.warn(f"{server} is plain HTTP: the token travels unencrypted.")
        token = _read_token(out)
        with ApiClient(Config(url=server, token=token), transport=context.TRANSPORT) as client:
            try:
                me = client.get("/whoami")
            except CliError as exc:
                if exc.exit_code == errors.AUTH:
                    raise CliError(
                        "The server rejected this token; nothing was saved.",
                        errors.AUTH,
                        code=exc.code,
                    ) from None
                raise
        path = config_module.write_file(server, token)
        if as_json:
            out.json({"url": server, "config": str(path), "whoami": me})
            return
        user = (me.get("user") or {}).get("username")
        org = (me.get("org") or {}).get("slug")
        out.print(f"Logged in to {server} as {user} in {org} (role {me.get('role')}).")
        out.note(f"Saved to {path} (mode 0600).")

    @app.command()
    @handles_errors
    def logout() -> None:
        """Forget the stored token (the URL is kept).

        The token stays valid on the server: revoke it there if it leaked.
        """
        out = Output()
        stored = config_module.read_file()
        if not stored.get("token"):
            out.print("Not logged in.")
            return
        path = config_module.write_file(stored.get("url", ""), "")
        out.print(f"Token removed from {path}.")

    @app.command()
    @handles_errors
    def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Who the token acts as: user, organization, role and permissions."""
        out = Output(json_mode=as_json)
        state = state_of(ctx)
        me = state.client(out).get("/whoami")
        if as_json:
            out.json(me)
            return
        config = state.config()
        out.fields([*whoami_lines(me), ("server", config.url), ("token from", config.source)])
