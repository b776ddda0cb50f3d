"""Service accounts: memberships for automation (issue 15, rule 1). Writes, audited.

Tokens are for people to make for themselves; a script or CI job gets a service
account - a membership whose user has no password (nobody can sign in as it) - made
by someone who holds the role it is given (``require_rank``). Its maker then makes
its tokens (``POST /tokens`` with ``member``: a rank at or above it), which are pinned
to what it holds.

A service account's user is ``<name>@<org>.service.invalid``: the reserved ``.invalid``
domain receives no mail, so no invitation or password reset can ever reach it.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from audit.services import audit_log
from stackdock.exceptions import Conflict, ValidationError
from stackdock.models import Area, Level, Membership, Organization
from stackdock.permissions import Actor, require, require_rank
from stackdock.services import role_get

SERVICE_DOMAIN = "service.invalid"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
User = get_user_model()


def service_username(org: Organization, name: str) -> str:
    return f"{name}@{org.slug}.{SERVICE_DOMAIN}"


def is_service_account(membership: Any) -> bool:
    return str(membership.user.get_username()).endswith(f".{SERVICE_DOMAIN}")


def service_account_create(
    *, actor: Actor, org: Organization, name: str, role_name: str
) -> Membership:
    """A membership for automation, with ``role_name`` at or below the actor's."""
    require(actor, org, Area.MEMBERS, Level.FULL)
    role = role_get(org=org, name=role_name)
    require_rank(actor, new=role)
    name = (name or "").strip().lower()
    if not _NAME.match(name):
        raise ValidationError(
            "name: 1-40 lowercase letters, digits or hyphens, starting with a letter or digit.",
            fields={"name": ["invalid name"]},
        )
    username = service_username(org, name)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User(username=username, email="")
                user.set_unusable_password()
                user.save()
                membership = Membership.objects.create(user=user, org=org, role=role)
        except IntegrityError:
            raise Conflict(
                f"A service account {name!r} already exists.", fields={"name": ["taken"]}
            ) from None
        audit_log(
            actor=actor,
            org=org,
            operation="member.add",
            target=membership,
            metadata={"user": username, "role": role.name, "service_account": True},
        )
    return membership
