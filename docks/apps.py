from __future__ import annotations

from django.apps import AppConfig


class DocksConfig(AppConfig):
    name = "docks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from docks.changes import dock_or_org_changed
        from docks.models import Dock
        from stackdock.models import Organization

        for model in (Dock, Organization):
            for signal in (post_save, post_delete):
                signal.connect(
                    dock_or_org_changed, sender=model, dispatch_uid=f"rows-{model.__name__}"
                )

        if settings.STACKDOCK_SANDBOX:
            from docks.adapters.sandbox import SandboxAdapter
            from docks.sandbox_store import sandbox_backend

            SandboxAdapter.backend_factory = staticmethod(sandbox_backend)
