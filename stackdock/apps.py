from __future__ import annotations

from django.apps import AppConfig


class StackdockConfig(AppConfig):
    name = "stackdock"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # An API token's authentication depends on these rows; the web processes'
        # verified-token caches must drop what they hold when any of them changes,
        # whoever changes it (services, Django admin's forms, cascades), so this is
        # wired to the models' signals rather than to each writer.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from stackdock.auth_cache import auth_changed
        from stackdock.models import ApiToken, Membership, Organization, Role

        for model in (ApiToken, Membership, Role, Organization, get_user_model()):
            post_save.connect(auth_changed, sender=model, dispatch_uid=f"auth-{model.__name__}")
            post_delete.connect(
                auth_changed, sender=model, dispatch_uid=f"auth-{model.__name__}-del"
            )
