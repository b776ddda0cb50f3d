from __future__ import annotations

from django.apps import AppConfig


class DocksConfig(AppConfig):
    name = "docks"
    default_auto_field = "django.db.models.BigAutoField"
