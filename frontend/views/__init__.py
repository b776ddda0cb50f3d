"""Dashboard views, one module per area. ``LoginView`` is wired in stackdock/urls.py."""

from __future__ import annotations

from frontend.views.overview import LoginView

__all__ = ["LoginView"]
