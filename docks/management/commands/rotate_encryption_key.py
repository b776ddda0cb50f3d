from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from docks.crypto import CryptoError, get_keyring
from docks.services import dock_reencrypt, docks_needing_reencryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the active (first) key of "
        "STACKDOCK_ENCRYPTION_KEYS, in batches. Safe to interrupt and re-run; "
        "the application keeps serving meanwhile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            active = get_keyring().active_id
            docks = fields = 0
            for batch in docks_needing_reencryption(opts["batch_size"]):
                for dock_id in batch:
                    changed = dock_reencrypt(dock_id=dock_id)
                    docks += bool(changed)
                    fields += changed
        except CryptoError as exc:
            raise CommandError(f"re-encryption stopped: {exc}") from None
        self.stdout.write(
            f"re-encrypted {fields} secret(s) on {docks} dock(s) under key {active!r}"
        )
