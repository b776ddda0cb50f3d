from __future__ import annotations

from django.apps import AppConfig


class DocksConfig(AppConfig):
    name = "docks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        if settings.STACKDOCK_SANDBOX:
            from docks.adapters.sandbox import SandboxAdapter
            from docks.sandbox_store import sandbox_backend

            SandboxAdapter.backend_factory = staticmethod(sandbox_backend)
