"""Logins, logouts and failed logins land in the audit log (Django's auth signals are
the only hook the login view offers). A user's event is written to the chain of every
organization they belong to; a failed login for an unknown email goes to the global chain."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.services import audit_log


def _record(user: Any, operation: str, status: str, metadata: dict[str, Any]) -> None:
    from stackdock.models import Membership
    from stackdock.permissions import Actor

    memberships = list(Membership.objects.select_related("org", "role", "user").filter(user=user))
    if not memberships:
        audit_log(
            actor=None,
            org=None,
            operation=operation,
            status=status,
            metadata={**metadata, "user": user.get_username()},
        )
    for membership in memberships:
        audit_log(
            actor=Actor.for_membership(membership),
            org=membership.org,
            operation=operation,
            status=status,
            metadata=metadata,
        )


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record(user, "auth.login", "success", {})


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        _record(user, "auth.logout", "success", {})


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    user = get_user_model().objects.filter(username=username.strip().lower()).first()
    if user is not None:
        _record(user, "auth.login_failed", "failure", {})
    else:
        audit_log(
            actor=None,
            org=None,
            operation="auth.login_failed",
            status="failure",
            metadata={"username": username},
        )
