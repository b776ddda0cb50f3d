from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import verify_chain
from stackdock.models import Organization


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit non-zero naming the first broken event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every chain)")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = None
        if opts["org"]:
            org = Organization.objects.filter(slug=opts["org"]).first()
            if org is None:
                raise CommandError(f"organization {opts['org']!r} does not exist")
        problem = verify_chain(org=org)
        if problem is not None:
            raise CommandError(f"audit chain broken at {problem}")
        self.stdout.write("audit chain intact")
