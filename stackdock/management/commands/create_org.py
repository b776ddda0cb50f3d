from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from stackdock.management.commands._base import StackDockCommand
from stackdock.services import org_create


class Command(StackDockCommand):
    help = "Create an organization with its built-in roles and an owner (created if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--owner", required=True, help="owner's email (the login)")
        parser.add_argument("--password", help="password, when the user is created")
        parser.add_argument("--name", help="display name (defaults to the slug)")

    def handle(self, *args: Any, **opts: Any) -> None:
        org, membership = org_create(
            slug=opts["slug"],
            name=opts["name"],
            owner_email=opts["owner"],
            password=opts["password"],
        )
        self.stdout.write(f"created organization {org.slug} owned by {membership.user.username}")
