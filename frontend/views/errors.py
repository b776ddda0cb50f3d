"""The project's own "not found" page, for every unknown URL.

In production Django calls ``page_not_found`` (``handler404``). In development Django
would answer an unknown URL with its debug page listing every URL pattern; the
middleware below shows this page instead, unless ``STACKDOCK_DEBUG_404=1`` asks for
Django's (the way a debug toolbar is opted into).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from frontend.views.base import cached_actor, ways_out

#: words only Django's debug 404 page contains
DEBUG_PAGE_MARK = b"seeing this error because you have <code>DEBUG = True</code>"


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    """The dashboard's 404 page (with the menu for a member, without it for a stranger)."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        cached_actor(request)  # the menu shows what the member may open
    context = {"error": None, "status": 404, "unknown_url": True, **ways_out(request)}
    return render(request, "frontend/errors/404.html", context, status=404)


class ProjectNotFoundMiddleware:
    """In development, replace Django's debug 404 page with the project's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and settings.DEBUG
            and not getattr(settings, "STACKDOCK_DEBUG_404", False)
            and not response.streaming
            and DEBUG_PAGE_MARK in response.content
        ):
            return page_not_found(request)
        return response
