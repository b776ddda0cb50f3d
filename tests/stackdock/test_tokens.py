"""API tokens: shown once, stored hashed, expiry and revocation, narrowing and rank."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from conftest import actor_of
from stackdock.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from stackdock.invitations import invitation_create
from stackdock.models import AREAS, BUILTIN_ROLES, ApiToken, hash_token
from stackdock.permissions import Actor
from stackdock.services import (
    member_add,
    member_change_role,
    role_create,
    token_authenticate,
    token_create,
    token_revoke,
)
from tests.factories import DockFactory


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
        actor=Actor.system("tests", org), org=org, email="mm@acme.test", role_name=custom.name
    )
    with pytest.raises(PermissionDenied, match="above your own role"):
        invitation_create(
            actor=actor_of(manager), org=org, email="x@acme.test", role_name="admin", link_for=str
        )
    invitation_create(
        actor=actor_of(manager), org=org, email="y@acme.test", role_name=custom.name, link_for=str
    )


@pytest.mark.django_db
def test_tokens_of_a_disabled_user_fail(owner):
    token, secret = token_create(actor=actor_of(owner), membership=owner)
    owner.user.is_active = False
    owner.user.save()
    assert token_authenticate(secret) is None


# --- narrowed tokens and rank (issue 15, rule 1) ------------------------------------------


def _token_actor(secret):
    return Actor.for_membership(token_authenticate(secret).membership, token_authenticate(secret))


@pytest.mark.django_db
def test_a_read_only_token_reads_but_never_writes(owner):
    _, secret = token_create(actor=actor_of(owner), membership=owner, read_only=True)
    actor = _token_actor(secret)
    assert actor.permissions == dict.fromkeys(AREAS, "read")
    assert not actor.is_owner  # a narrowed owner token is not an owner
    with pytest.raises(PermissionDenied):
        role_create(actor=actor, org=owner.org, name="x", permissions={"audit": "read"})


@pytest.mark.django_db
def test_a_token_narrowed_to_a_role_acts_with_that_role(owner):
    _, secret = token_create(actor=actor_of(owner), membership=owner, role_name="viewer")
    assert _token_actor(secret).permissions == BUILTIN_ROLES["viewer"]


@pytest.mark.django_db
def test_a_token_is_never_widened_above_its_member(developer):
    with pytest.raises(ValidationError) as exc:
        token_create(actor=actor_of(developer), membership=developer, role_name="admin")
    assert exc.value.fields == {"role": ["above the member's role"]}


@pytest.mark.django_db
def test_a_token_made_by_a_narrowed_token_is_narrowed_as_far(owner):
    _, secret = token_create(actor=actor_of(owner), membership=owner, role_name="viewer")
    _, child = token_create(actor=_token_actor(secret), membership=owner)
    assert _token_actor(child).permissions == BUILTIN_ROLES["viewer"]


@pytest.mark.django_db
def test_a_token_for_someone_else_does_not_grow_with_their_promotion(org, owner, admin, viewer):
    token, secret = token_create(actor=actor_of(admin), membership=viewer)
    assert token.scope == BUILTIN_ROLES["viewer"]
    member_change_role(actor=actor_of(owner), membership=viewer, role_name="owner")
    actor = _token_actor(secret)
    assert actor.permissions == BUILTIN_ROLES["viewer"] and not actor.is_owner


@pytest.mark.django_db
def test_a_member_manager_cannot_make_a_token_for_the_owner(org, owner):
    manager_role = role_create(
        actor=actor_of(owner), org=org, name="mm", permissions={"members": "full"}
    )
    manager = member_add(
        actor=Actor.system("tests", org), org=org, email="mm@acme.test", role_name="mm"
    )
    with pytest.raises(PermissionDenied, match="only an owner"):
        token_create(actor=actor_of(manager), membership=owner)
    event = AuditEvent.objects.filter(operation="permission.denied").latest("id")
    assert event.metadata["rule"] == "rank"
    assert manager_role.pk  # the manager's own role is untouched


@pytest.mark.django_db
def test_a_token_scope_caps_dock_grants_too(owner, developer):
    from guardian.shortcuts import assign_perm

    dock = DockFactory(org=owner.org)
    assign_perm("docks.provision_dock", developer.user, dock)
    _, secret = token_create(actor=actor_of(developer), membership=developer, read_only=True)
    actor = _token_actor(secret)
    assert actor.granted_dock_ids("provisioning", "full") == set()
    assert actor.granted_dock_ids("provisioning", "read") == {dock.pk}


@pytest.mark.django_db
def test_an_admin_cannot_make_itself_owner(admin):
    with pytest.raises(PermissionDenied, match="only an owner"):
        member_change_role(actor=actor_of(admin), membership=admin, role_name="owner")


@pytest.mark.django_db
def test_whoami_shows_the_effective_permissions(client, owner):
    from rest_framework.test import APIClient

    _, secret = token_create(actor=actor_of(owner), membership=owner, read_only=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = api.get("/api/v1/whoami").json()
    assert body["permissions"] == dict.fromkeys(AREAS, "read")
    assert body["token"]["scope"] == dict.fromkeys(AREAS, "read")
