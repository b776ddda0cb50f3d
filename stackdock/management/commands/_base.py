"""Shared behaviour of StackDock's management commands: one-line errors, non-zero exit."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from stackdock.exceptions import ApplicationError


class StackDockCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None

    def handle(self, *args: Any, **options: Any) -> str | None:  # pragma: no cover
        raise NotImplementedError
