from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from stackdock.exceptions import NotFound
from stackdock.management.commands._base import StackDockCommand
from stackdock.models import Organization
from stackdock.permissions import Actor
from stackdock.services import member_add


class Command(StackDockCommand):
    help = "Add a user (created if needed) to an organization with a role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--user", required=True, help="email")
        parser.add_argument("--role", required=True)
        parser.add_argument("--password")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise NotFound(f"organization {opts['org']!r} does not exist")
        membership = member_add(
            actor=Actor.system("add_member", org),
            org=org,
            email=opts["user"],
            role_name=opts["role"],
            password=opts["password"],
        )
        self.stdout.write(
            f"added {membership.user.username} to {org.slug} as {membership.role.name}"
        )
