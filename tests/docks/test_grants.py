"""Dock grants die with the membership and with the dock (issue 15, rule 6).

Every way a membership or a dock goes - the member service, Django admin's delete and
bulk delete, the dock service, a deleted user - is tried with both
kinds of grant: afterwards no grant of that member or dock is left, a member added
again gets nothing on the dock, and where the removal is audited its event lists the
grants it ended.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from audit.models import AuditEvent
from conftest import actor_of
from docks.models import Dock, DockGrant
from docks.services import dock_delete, dock_grant
from stackdock.models import Membership
from stackdock.permissions import Actor
from stackdock.services import member_add, member_remove
from tests.factories import DockFactory, MembershipFactory, UserFactory

PERMS = ("view_dock", "provision_dock")


def _grant(owner: Membership, member: Membership, dock: Dock, perm: str) -> None:
    dock_grant(actor=actor_of(owner), dock=dock, membership=member, perm=perm)


def _by_service(staff: Any, member: Membership, dock: Dock, owner: Membership) -> None:
    member_remove(actor=actor_of(owner), membership=member)


def _by_admin(staff: Any, member: Membership, dock: Dock, owner: Membership) -> None:
    response = staff.post(
        f"/admin/stackdock/membership/{member.pk}/delete/", {"post": "yes"}, follow=False
    )
    assert response.status_code == 302


def _by_admin_bulk(staff: Any, member: Membership, dock: Dock, owner: Membership) -> None:
    response = staff.post(
        "/admin/stackdock/membership/",
        {"action": "delete_selected", "_selected_action": [member.pk], "post": "yes"},
    )
    assert response.status_code == 302


def _by_user_deletion(staff: Any, member: Membership, dock: Dock, owner: Membership) -> None:
    member.user.delete()


#: ways a membership ends -> whether the removal is audited with its grants
MEMBERSHIP_ENDS: dict[str, tuple[Callable[..., None], bool]] = {
    "member_remove": (_by_service, True),
    "admin delete": (_by_admin, True),
    "admin bulk delete": (_by_admin_bulk, True),
    "user deleted": (_by_user_deletion, False),
}


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("root@stackdock.test", "r@x.test", "pw")
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("perm", PERMS)
@pytest.mark.parametrize("end", MEMBERSHIP_ENDS, ids=str)
def test_grants_die_with_the_membership(staff, org, owner, perm, end):
    member = MembershipFactory(
        org=org, role_name="viewer", user=UserFactory(username="g@acme.test")
    )
    dock, other = DockFactory(org=org), DockFactory(org=org)
    _grant(owner, member, dock, perm)
    _grant(owner, member, other, "view_dock")
    kept = MembershipFactory(org=org, role_name="viewer")
    _grant(owner, kept, dock, perm)  # someone else's grant is not touched
    remove, audited = MEMBERSHIP_ENDS[end]

    remove(staff, member, dock, owner)

    assert not DockGrant.objects.filter(user__username="g@acme.test").exists()
    assert DockGrant.objects.filter(user=kept.user, content_object=dock).count() == 1
    if audited:
        event = AuditEvent.objects.filter(operation="member.remove").latest("id")
        ended = {(g["dock"], g["perm"]) for g in event.metadata["grants_revoked"]}
        assert ended == {(str(dock.pk), perm), (str(other.pk), "view_dock")}
    if end != "user deleted":  # added again, the member starts with nothing
        again = member_add(
            actor=Actor.system("tests", org), org=org, email="g@acme.test", role_name="viewer"
        )
        assert actor_of(again).granted_dock_ids("docks", "read") == set()


@pytest.mark.django_db
def test_removal_in_one_org_keeps_grants_in_another(org, other_org, owner, outsider):
    user = UserFactory(username="both@acme.test")
    here = MembershipFactory(org=org, role_name="viewer", user=user)
    there = MembershipFactory(org=other_org, role_name="viewer", user=user)
    dock_here, dock_there = DockFactory(org=org), DockFactory(org=other_org)
    _grant(owner, here, dock_here, "view_dock")
    _grant(outsider, there, dock_there, "view_dock")
    member_remove(actor=actor_of(owner), membership=here)
    assert list(DockGrant.objects.filter(user=user).values_list("content_object", flat=True)) == [
        dock_there.pk
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("end", ["dock_delete", "admin delete"])
def test_grants_die_with_the_dock(staff, org, owner, end):
    member = MembershipFactory(org=org, role_name="viewer")
    dock, kept = DockFactory(org=org), DockFactory(org=org)
    for perm in PERMS:
        _grant(owner, member, dock, perm)
    _grant(owner, member, kept, "view_dock")
    if end == "dock_delete":
        dock_delete(actor=actor_of(owner), dock=dock)
        event = AuditEvent.objects.filter(operation="dock.delete").latest("id")
        assert {g["perm"] for g in event.metadata["grants_revoked"]} == set(PERMS)
        assert {g["user"] for g in event.metadata["grants_revoked"]} == {member.user.username}
    else:
        response = staff.post(f"/admin/docks/dock/{dock.pk}/delete/", {"post": "yes"})
        assert response.status_code == 302
    assert not DockGrant.objects.filter(content_object_id=dock.pk).exists()
    assert DockGrant.objects.filter(content_object=kept).count() == 1


@pytest.mark.django_db
def test_grants_are_kept_in_their_own_table_with_foreign_keys(org, owner, developer):
    dock = DockFactory(org=org)
    assign_perm("docks.provision_dock", developer.user, dock)  # guardian picks DockGrant
    assert DockGrant.objects.filter(user=developer.user, content_object=dock).count() == 1
    assert not UserObjectPermission.objects.exists()
    assert actor_of(developer).granted_dock_ids("provisioning", "full") == {dock.pk}


@pytest.mark.django_db
def test_the_migration_moves_live_grants_and_drops_orphans(org, other_org, owner, developer):
    """Grants from before DockGrant (guardian's generic table) move; those whose dock is
    gone or whose user left the dock's organization are dropped."""
    migration = importlib.import_module("docks.migrations.0003_dock_grants")
    dock = DockFactory(org=org)
    dock_type = ContentType.objects.get_for_model(Dock)
    perm = dock_type.permission_set.get(codename="provision_dock")
    left = get_user_model().objects.create(username="left@acme.test")
    UserObjectPermission.objects.bulk_create(  # bulk: guardian's save() wants the object
        UserObjectPermission(
            user=user, permission=perm, content_type=dock_type, object_pk=object_pk
        )
        for user, object_pk in (
            (developer.user, str(dock.pk)),  # live
            (left, str(dock.pk)),  # the user is no member of acme any more
            (developer.user, "00000000-0000-4000-8000-000000000000"),  # the dock is gone
        )
    )

    migration.move_grants(apps, None)

    assert not UserObjectPermission.objects.filter(content_type=dock_type).exists()
    moved = DockGrant.objects.values_list("user__username", "content_object_id")
    assert list(moved) == [(developer.user.username, dock.pk)]
