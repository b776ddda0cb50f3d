"""StackDock: a self-hosted, multi-tenant control plane for infrastructure."""

from __future__ import annotations

from .celery import app as celery_app

__all__ = ("celery_app",)
