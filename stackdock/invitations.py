"""Invitations: how someone joins an organization (issue 15, rule 4). Writes, audited.

Accounts belong to their owners. Adding someone by email creates an invitation -
single-use, expiring, only its secret's SHA-256 stored - whose link is shown once
to the inviter and mailed to the address. It is accepted by whoever is signed in as
that address; someone without an account (or without a password) asks the
invitation page for a set-password link, which goes to the address only, through
Django's own password-reset tokens. So the inviter never sets or learns a password,
and nothing the inviter sees depends on whether the address has an account.

The inviter's authority is checked twice: when inviting (``members: full`` and a
rank at or above the role, ``require_rank``) and when the invitation is accepted
(the inviter must still be a member who ranks at or above the role).

The operator's ``manage.py add_member`` (``services.member_add`` as the system)
stays: the shell is the operator's authority.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.services import audit_log
from stackdock.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from stackdock.models import INVITATION_PREFIX, Area, Invitation, Level, Membership, Organization
from stackdock.permissions import Actor, rank_shortfall, require, require_rank, standing_of
from stackdock.services import clean_email, role_get

log = logging.getLogger(__name__)
User = get_user_model()

#: what every invalid link answers: unknown, used, withdrawn and expired look the same
INVALID = "This invitation is not valid: it was used, withdrawn or has expired."


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _open() -> Q:
    return Q(accepted_at__isnull=True, revoked_at__isnull=True)


def invitation_create(
    *,
    actor: Actor,
    org: Organization,
    email: str,
    role_name: str,
    link_for: Callable[[str], str],
) -> tuple[Invitation, str]:
    """Invite ``email`` to ``org`` as ``role_name``; returns the invitation and its link
    (shown once). An open invitation to the same address is withdrawn. The link is
    mailed once the transaction commits. ``link_for(secret)`` makes the absolute URL."""
    require(actor, org, Area.MEMBERS, Level.FULL)
    role = role_get(org=org, name=role_name)
    require_rank(actor, new=role)
    if actor.membership is None:
        raise ValidationError("The operator adds members with manage.py add_member.")
    email = clean_email(email)
    if Membership.objects.filter(org=org, user__username=email).exists():
        raise Conflict(f"{email} is already a member.", fields={"email": ["already a member"]})
    secret = f"{INVITATION_PREFIX}_{secrets.token_urlsafe(32)}"
    link = link_for(secret)
    with transaction.atomic():
        Invitation.objects.filter(_open(), org=org, email=email).update(revoked_at=timezone.now())
        invitation = Invitation.objects.create(
            org=org,
            email=email,
            role=role,
            invited_by=actor.membership,
            inviter_repr=actor.membership.user.get_username()[:255],
            token_hash=_hash(secret),
            expires_at=timezone.now() + timedelta(days=settings.STACKDOCK_INVITATION_DAYS),
        )
        audit_log(
            actor=actor,
            org=org,
            operation="member.invite",
            target=invitation,
            metadata={"email": email, "role": role.name, "expires_at": invitation.expires_at},
        )
        transaction.on_commit(lambda: _mail_invitation(invitation, link))
    return invitation, link


def _mail(to: str, subject: str, body: str) -> None:
    """Send one mail; a failure is logged (never with the body: it holds a link) and
    does not undo what was committed - the inviter has the link too."""
    try:
        send_mail(subject, body, None, [to])
    except Exception as exc:  # noqa: BLE001 - any backend error: report, do not fail
        log.warning("could not send mail to %s (%s): %s", to, subject, type(exc).__name__)


def _mail_invitation(invitation: Invitation, link: str) -> None:
    _mail(
        invitation.email,
        f"You are invited to {invitation.org.name} on StackDock",
        f"{invitation.inviter_repr} invited you to join {invitation.org.name} on StackDock "
        f"as {invitation.role.name}.\n\nAccept: {link}\n\nThe link works once, until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC. If you did not expect it, ignore this mail.",
    )


def invitations_for(*, actor: Actor) -> QuerySet[Invitation]:
    """The organization's open, unexpired invitations. Needs ``members: read``."""
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    return (
        Invitation.objects.filter(_open(), org=actor.org, expires_at__gt=timezone.now())
        .select_related("role", "org")
        .order_by("-created_at", "-pk")
    )


def invitation_get_for(*, actor: Actor, invitation_id: Any) -> Invitation:
    try:
        return Invitation.objects.select_related("role", "org").get(
            org=actor.org, pk=int(invitation_id)
        )
    except (Invitation.DoesNotExist, TypeError, ValueError):
        raise NotFound("Invitation not found.") from None


def invitation_revoke(*, actor: Actor, invitation: Invitation) -> Invitation:
    """Withdraw an open invitation (``members: full`` and a rank at or above its role)."""
    require(actor, invitation.org, Area.MEMBERS, Level.FULL, obj=invitation)
    require_rank(actor, invitation.role)
    with transaction.atomic():
        if not Invitation.objects.filter(_open(), pk=invitation.pk).update(
            revoked_at=timezone.now()
        ):
            raise Conflict("The invitation was already used or withdrawn.")
        invitation.refresh_from_db()
        audit_log(
            actor=actor,
            org=invitation.org,
            operation="member.invite_withdraw",
            target=invitation,
            metadata={"email": invitation.email, "role": invitation.role.name},
        )
    return invitation


def invitation_by_secret(secret: str) -> Invitation:
    """The open, unexpired invitation of ``secret``, else NotFound (the same for all)."""
    invitation = (
        Invitation.objects.select_related("org", "role")
        .filter(_open(), token_hash=_hash(secret or ""), expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None or not (secret or "").startswith(f"{INVITATION_PREFIX}_"):
        raise NotFound(INVALID)
    return invitation


def is_for(invitation: Invitation, user: Any) -> bool:
    """Whether ``user`` is the account the invitation was sent to."""
    return bool(user.is_authenticated) and user.get_username().lower() == invitation.email


def invitation_accept(*, user: Any, secret: str) -> Membership:
    """Join the invitation's organization as ``user``, who must be signed in as the
    invited address. The inviter must still rank at or above the role."""
    invitation = invitation_by_secret(secret)
    if not is_for(invitation, user):
        raise PermissionDenied(
            f"This invitation is for {invitation.email}; sign in as that address to accept it.",
            fields={"user": ["not the invited address"]},
        )
    inviter = invitation.invited_by
    if inviter is None or rank_shortfall(
        Actor.for_membership(inviter), standing_of(invitation.role)
    ):
        raise NotFound(INVALID)  # the inviter left, or no longer holds what they offered
    with transaction.atomic():
        if not Invitation.objects.filter(_open(), pk=invitation.pk).update(
            accepted_at=timezone.now(), accepted_by=user
        ):
            raise NotFound(INVALID)  # accepted or withdrawn meanwhile
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, org=invitation.org, role=invitation.role
                )
        except IntegrityError:
            raise Conflict(f"You are already a member of {invitation.org.name}.") from None
        audit_log(
            actor=Actor.for_membership(membership),
            org=invitation.org,
            operation="member.add",
            target=membership,
            metadata={
                "user": user.get_username(),
                "role": invitation.role.name,
                "invitation": invitation.pk,
                "invited_by": invitation.inviter_repr,
            },
        )
    return membership


def invitation_send_password_link(
    *, secret: str, reset_link_for: Callable[[str, str], str], invitation_link: str
) -> None:
    """Mail the invited address a link to set its password (Django's password-reset
    token), creating its account - with no usable password - if there is none. The
    caller answers the same either way; only the mailbox learns which it was."""
    invitation = invitation_by_secret(secret)
    if not cache.add(f"stackdock:invitation-mail:{invitation.pk}", 1, timeout=60):
        return  # one such mail a minute per invitation: the link cannot flood a mailbox
    user = User.objects.filter(username=invitation.email).first()
    if user is None:
        user = User(username=invitation.email, email=invitation.email)
        user.set_unusable_password()
        user.save()
    link = reset_link_for(
        urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)
    )
    _mail(
        invitation.email,
        "Set your StackDock password",
        f"Someone opened your invitation to {invitation.org.name} and asked for a link to "
        f"set the password of {invitation.email}.\n\nSet it: {link}\n\nThen accept the "
        f"invitation: {invitation_link}\n\nIf it was not you, ignore this mail: nothing "
        "changes until the link is used.",
    )


def reset_path(uidb64: str, token: str) -> str:
    return reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})


def invitation_path(secret: str) -> str:
    return reverse("invitation", kwargs={"secret": secret})
