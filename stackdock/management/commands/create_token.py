from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from stackdock.management.commands._base import StackDockCommand
from stackdock.permissions import Actor
from stackdock.services import membership_for, token_create


class Command(StackDockCommand):
    help = "Create an API token for a member; the token is printed alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--user", required=True, help="email")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--expires-days", type=int, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        membership = membership_for(org_slug=opts["org"], email=opts["user"])
        token, secret = token_create(
            actor=Actor.system("create_token", membership.org),
            membership=membership,
            name=opts["name"],
            expires_days=opts["expires_days"],
        )
        self.stdout.write(f"created token {token.name!r} for {membership.user.username}")
        self.stdout.write(secret)
