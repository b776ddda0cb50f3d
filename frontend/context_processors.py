from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from frontend.tenancy import current_membership, memberships
from stackdock.models import Area, Level


def tenancy(request: HttpRequest) -> dict[str, Any]:
    """The member's organizations, the current one, and which sections the menu offers.

    The menu only hides what the member cannot use; every view checks again.
    """
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = current_membership(request)
    out: dict[str, Any] = {"memberships": memberships(request), "membership": membership}
    actor = getattr(request, "actor", None)  # set by frontend.views.base.dashboard_view
    if actor is not None:
        from frontend.views.base import may_provision_somewhere

        out["nav"] = {
            "docks": actor.allows(Area.DOCKS, Level.READ)
            or bool(actor.granted_dock_ids(Area.DOCKS, Level.READ)),
            "provisioning": actor.allows(Area.PROVISIONING, Level.READ)
            or bool(actor.granted_dock_ids(Area.PROVISIONING, Level.READ)),
            "provision": may_provision_somewhere(actor),
            "audit": actor.allows(Area.AUDIT, Level.READ),
            "members": actor.allows(Area.MEMBERS, Level.READ),
        }
    return out
