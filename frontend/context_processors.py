from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from frontend.tenancy import current_membership, memberships


def tenancy(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"memberships": memberships(request), "membership": current_membership(request)}
