"""API tokens: shown once, stored hashed, expiry and revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import actor_of
from stackdock.exceptions import Conflict, NotFound, PermissionDenied
from stackdock.models import ApiToken, hash_token
from stackdock.services import (
    member_add,
    role_create,
    token_authenticate,
    token_create,
    token_revoke,
)


@pytest.mark.django_db
def test_token_is_stored_hashed_with_a_public_prefix(owner):
    token, secret = token_create(actor=actor_of(owner), membership=owner, name="ci")
    assert secret.startswith(f"sdk_{token.prefix}_")
    assert token.token_hash == hash_token(secret)
    assert token_authenticate(secret).pk == token.pk
    assert token_authenticate(secret + "x") is None
    assert token_authenticate("garbage") is None


@pytest.mark.django_db
def test_revoked_token_fails_at_once(owner):
    token, secret = token_create(actor=actor_of(owner), membership=owner)
    token_revoke(actor=actor_of(owner), token=token)
    assert token_authenticate(secret) is None
    with pytest.raises(Conflict):
        token_revoke(actor=actor_of(owner), token=token)


@pytest.mark.django_db
def test_expired_token_fails(owner):
    token, secret = token_create(actor=actor_of(owner), membership=owner, expires_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert token_authenticate(secret) is None


@pytest.mark.django_db
def test_viewer_cannot_create_tokens_for_others(owner, viewer):
    token_create(actor=actor_of(viewer), membership=viewer)  # own token: fine
    with pytest.raises(PermissionDenied):
        token_create(actor=actor_of(viewer), membership=owner)


@pytest.mark.django_db
def test_outsider_cannot_touch_our_tokens(owner, outsider):
    with pytest.raises(NotFound):
        token_create(actor=actor_of(outsider), membership=owner)


@pytest.mark.django_db
def test_nobody_grants_a_role_above_their_own(org, owner):
    custom = role_create(
        actor=actor_of(owner), org=org, name="member-manager", permissions={"members": "full"}
    )
    manager = member_add(
        actor=actor_of(owner), org=org, email="mm@acme.test", role_name=custom.name
    )
    with pytest.raises(PermissionDenied, match="above your own role"):
        member_add(actor=actor_of(manager), org=org, email="x@acme.test", role_name="admin")
    member_add(actor=actor_of(manager), org=org, email="y@acme.test", role_name="member-manager")


@pytest.mark.django_db
def test_tokens_of_a_disabled_user_fail(owner):
    token, secret = token_create(actor=actor_of(owner), membership=owner)
    owner.user.is_active = False
    owner.user.save()
    assert token_authenticate(secret) is None
