"""``members``, ``invite``, ``invitations``, ``accept`` and ``service-account``.

Members join by invitation: ``invite EMAIL --role ROLE`` prints the link once (it
is mailed too); whoever is signed in as that address accepts it, here with
``accept LINK`` or on the link's page. See docs/CLI.md.
"""

from __future__ import annotations

from typing import Annotated

import typer

from stackdock.cli.context import handles_errors, state_of
from stackdock.cli.options import JsonOption
from stackdock.cli.output import Output

MEMBER_COLUMNS = [("id", "Id"), ("user.username", "User"), ("role", "Role")]
INVITATION_COLUMNS = [
    ("id", "Id"),
    ("email", "Email"),
    ("role", "Role"),
    ("invited_by", "Invited by"),
    ("expires_at", "Expires"),
]


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def members(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """The organization's members (members: read)."""
        out = Output(json_mode=as_json)
        page = state_of(ctx).client(out).get("/members")
        if as_json:
            out.json(page)
            return
        out.table(MEMBER_COLUMNS, page.get("results", []))

    @app.command()
    @handles_errors
    def invite(
        ctx: typer.Context,
        email: Annotated[str, typer.Argument(help="The address to invite.")],
        role: Annotated[str, typer.Option("--role", help="The role they get.")] = "viewer",
        as_json: JsonOption = False,
    ) -> None:
        """Invite EMAIL to the organization as ROLE; prints the link, shown this once."""
        out = Output(json_mode=as_json)
        body = state_of(ctx).client(out).post("/invitations", {"email": email, "role": role})
        if as_json:
            out.json(body)
            return
        out.fields([("invited", body.get("email")), ("role", body.get("role"))])
        out.note("Mailed to the address. The link, shown only this once:")
        out.print(str(body.get("link", "")))

    @app.command()
    @handles_errors
    def invitations(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Open invitations (members: read)."""
        out = Output(json_mode=as_json)
        page = state_of(ctx).client(out).get("/invitations")
        if as_json:
            out.json(page)
            return
        out.table(INVITATION_COLUMNS, page.get("results", []))

    @app.command("service-account")
    @handles_errors
    def service_account(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Lowercase letters, digits, hyphens.")],
        role: Annotated[str, typer.Option("--role", help="Its role (at or below yours).")] = (
            "viewer"
        ),
        as_json: JsonOption = False,
    ) -> None:
        """Create a service account for automation; then make its token in the dashboard or
        with POST /tokens and its member id."""
        out = Output(json_mode=as_json)
        body = state_of(ctx).client(out).post("/service-accounts", {"name": name, "role": role})
        if as_json:
            out.json(body)
            return
        out.fields([("member", body.get("id")), ("user", (body.get("user") or {}).get("username"))])

    @app.command()
    @handles_errors
    def accept(
        ctx: typer.Context,
        link: Annotated[str, typer.Argument(help="The invitation's link (or its secret).")],
        as_json: JsonOption = False,
    ) -> None:
        """Accept an invitation sent to the address you are signed in as."""
        out = Output(json_mode=as_json)
        body = state_of(ctx).client(out).post("/invitations/accept", {"token": link})
        if as_json:
            out.json(body)
            return
        out.print(f"Joined as {body.get('role')}. Your token still acts in its own organization;")
        out.print("make one in the new organization's dashboard to act there.")
