from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verify import ChainProblem, problems
from stackdock.models import Organization

#: problems printed in full; the rest are counted
SHOWN = 20


class Command(BaseCommand):
    help = (
        "Verify the audit log: every chain, head and lane register of the organization "
        "(default: of every scope). Exits non-zero listing what is wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every scope)")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = None
        if opts["org"]:
            org = Organization.objects.filter(slug=opts["org"]).first()
            if org is None:
                raise CommandError(f"organization {opts['org']!r} does not exist")
        found: list[ChainProblem] = []
        notes: list[ChainProblem] = []
        for problem in problems(org=org):
            (notes if problem.recorded else found).append(problem)
        for note in notes[:SHOWN]:
            self.stdout.write(f"note (recorded when the log was re-keyed): {note}")
        if len(notes) > SHOWN:
            self.stdout.write(f"note: and {len(notes) - SHOWN:,} more recorded problems")
        if found:
            lines = [str(p) for p in found[:SHOWN]]
            if len(found) > SHOWN:
                lines.append(f"and {len(found) - SHOWN:,} more")
            raise CommandError(
                f"audit chain broken: {len(found)} problem(s); first at {lines[0]}\n"
                + "\n".join(f"  - {line}" for line in lines)
            )
        self.stdout.write("audit chain intact")
