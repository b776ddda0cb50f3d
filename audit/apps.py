from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import auth_events  # noqa: F401 - connects the auth signal receivers
        from audit.keys import audit_keys

        audit_keys()  # a malformed STACKDOCK_AUDIT_KEYS stops the process at start
