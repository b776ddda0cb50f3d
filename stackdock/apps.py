from __future__ import annotations

from django.apps import AppConfig


class StackdockConfig(AppConfig):
    name = "stackdock"
    default_auto_field = "django.db.models.BigAutoField"
