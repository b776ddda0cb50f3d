from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from docks.models import Dock
from docks.services import dock_create, dock_update
from stackdock.management.commands._base import StackDockCommand
from stackdock.models import Organization
from stackdock.permissions import Actor
from stackdock.services import org_create

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@stackdock.local"
#: moto accepts any keys; these are not secrets, just placeholders for the emulator
EMULATED_AWS = {
    "access_key_id": "AKIAEMULATEDDEMO0000",
    "secret_access_key": "emulated",
    "region": "us-east-1",
    "sync_regions": ["us-east-1"],
}


class Command(StackDockCommand):
    help = "Create the demo organization, its owner login and demo docks (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--moto-url", help="endpoint of the local AWS emulator")

    def handle(self, *args: Any, **opts: Any) -> None:
        login_file = Path(settings.VAR_DIR) / "demo_login"
        org = Organization.objects.filter(slug=DEMO_SLUG).first()
        if org is None:
            password = secrets.token_urlsafe(12)
            org, _ = org_create(
                slug=DEMO_SLUG, name="Demo", owner_email=DEMO_EMAIL, password=password
            )
            login_file.write_text(f"{DEMO_EMAIL} {password}\n")
            login_file.chmod(0o600)
        actor = Actor.system("seed_demo", org)
        if settings.STACKDOCK_SANDBOX and not Dock.objects.filter(org=org, name="Sandbox").exists():
            dock_create(actor=actor, org=org, name="Sandbox", provider="sandbox")
        if opts["moto_url"]:
            dock = Dock.objects.filter(org=org, name="AWS (emulated)").first()
            if dock is None:
                dock_create(
                    actor=actor,
                    org=org,
                    name="AWS (emulated)",
                    provider="aws",
                    credentials=EMULATED_AWS,
                    endpoint_url=opts["moto_url"],
                    emulated=True,
                )
            elif dock.endpoint_url != opts["moto_url"]:  # moto came up on another port
                # a new endpoint takes the credentials again, checked live (moto is up)
                dock_update(
                    actor=actor,
                    dock=dock,
                    endpoint_url=opts["moto_url"],
                    credentials=EMULATED_AWS,
                    provisioning_credentials={} if dock.provisioning_credentials else None,
                )
        if login_file.exists():
            email, password = login_file.read_text().split()
            self.stdout.write(f"login: {email} / {password}")
        else:
            self.stdout.write(f"login: {DEMO_EMAIL} (password set earlier)")
