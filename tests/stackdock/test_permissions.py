"""The one choke point: require() and visible_to() over every built-in role and area."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from audit.models import AuditEvent
from conftest import actor_of
from docks.models import Dock, Server
from stackdock.exceptions import NotFound, PermissionDenied
from stackdock.models import AREAS, BUILTIN_ROLES, Level
from stackdock.permissions import Actor, require
from tests.factories import DockFactory, MembershipFactory, ServerFactory, UserFactory

EXPECTED = {
    "owner": dict.fromkeys(AREAS, "full"),
    "admin": dict.fromkeys(AREAS, "full"),
    "developer": {**dict.fromkeys(AREAS, "none"), "resources": "read", "provisioning": "read"},
    "viewer": {
        **dict.fromkeys(AREAS, "none"),
        "resources": "read",
        "docks": "read",
        "provisioning": "read",
    },
}
MATRIX = [
    (role, area, level)
    for role in BUILTIN_ROLES
    for area in AREAS
    for level in (Level.READ, Level.FULL)
]


def _allowed(role: str, area: str, level: str) -> bool:
    granted = EXPECTED[role][area]
    return granted == "full" or (granted == "read" and level == "read")


def test_builtin_roles_match_the_documented_matrix():
    assert {name: dict(perms) for name, perms in BUILTIN_ROLES.items()} == EXPECTED


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "area", "level"), MATRIX)
def test_require_follows_the_role_matrix(org, role, area, level):
    membership = MembershipFactory(org=org, role_name=role)
    actor = actor_of(membership)
    if _allowed(role, area, level):
        require(actor, org, area, level)
    else:
        with pytest.raises(PermissionDenied):
            require(actor, org, area, level)


@pytest.mark.django_db
def test_denial_is_audited(org, viewer):
    with pytest.raises(PermissionDenied):
        require(actor_of(viewer), org, "credentials", "full")
    event = AuditEvent.objects.get(operation="permission.denied")
    assert event.status == "denied"
    assert event.actor_repr == viewer.user.username
    assert event.metadata == {"area": "credentials", "level": "full"}


@pytest.mark.django_db
def test_outsider_gets_not_found_for_the_org_and_its_objects(org, outsider):
    dock = DockFactory(org=org)
    actor = actor_of(outsider)
    with pytest.raises(NotFound):
        require(actor, org, "resources", "read")
    with pytest.raises(NotFound):
        require(actor, org, "docks", "read", obj=dock)
    assert not Dock.objects.visible_to(actor, "docks").filter(pk=dock.pk).exists()
    with pytest.raises(NotFound):
        Dock.objects.get_visible(actor, "docks", pk=dock.pk)


@pytest.mark.django_db
def test_object_of_another_org_is_not_found_even_for_an_owner(org, owner, other_org):
    foreign = DockFactory(org=other_org)
    with pytest.raises(NotFound):
        require(actor_of(owner), org, "docks", "read", obj=foreign)


@pytest.mark.django_db
def test_visible_to_filters_by_org_and_role(org, other_org, developer, viewer):
    mine = DockFactory(org=org)
    DockFactory(org=other_org)
    server = ServerFactory(dock=mine)
    ServerFactory(dock=DockFactory(org=other_org))
    # developers have docks: none, viewers docks: read
    assert list(Dock.objects.visible_to(actor_of(developer), "docks")) == []
    assert list(Dock.objects.visible_to(actor_of(viewer), "docks")) == [mine]
    assert list(Server.objects.visible_to(actor_of(developer), "resources")) == [server]


@pytest.mark.django_db
def test_dock_grant_gives_provisioning_on_that_dock_only(org, developer):
    granted, other = DockFactory(org=org), DockFactory(org=org)
    assign_perm("docks.provision_dock", developer.user, granted)
    actor = actor_of(developer)
    require(actor, org, "provisioning", "full", obj=granted)
    with pytest.raises(PermissionDenied):
        require(actor, org, "provisioning", "full", obj=other)
    with pytest.raises(PermissionDenied):
        require(actor, org, "provisioning", "full")
    assert list(Dock.objects.visible_to(actor_of(developer), "docks")) == [granted]


@pytest.mark.django_db
def test_view_grant_does_not_allow_provisioning(org, developer):
    dock = DockFactory(org=org)
    assign_perm("docks.view_dock", developer.user, dock)
    actor = actor_of(developer)
    require(actor, org, "docks", "read", obj=dock)
    with pytest.raises(PermissionDenied):
        require(actor, org, "provisioning", "full", obj=dock)


@pytest.mark.django_db
def test_grant_in_another_org_gives_nothing(org, other_org):
    user = UserFactory()
    MembershipFactory(org=org, role_name="developer", user=user)
    foreign = DockFactory(org=other_org)
    assign_perm("docks.provision_dock", user, foreign)
    actor = Actor.for_user(user, org)
    assert not Dock.objects.visible_to(actor, "docks").exists()


@pytest.mark.django_db
def test_custom_role_missing_area_means_none(org):
    from stackdock.models import Role

    role = Role.objects.create(org=org, name="auditor", permissions={"audit": "read"})
    membership = MembershipFactory(org=org, role_name="auditor")
    assert membership.role == role
    actor = actor_of(membership)
    require(actor, org, "audit", "read")
    with pytest.raises(PermissionDenied):
        require(actor, org, "resources", "read")


@pytest.mark.django_db
def test_non_member_user_gets_not_found(org):
    actor = Actor.for_user(UserFactory(), org)
    with pytest.raises(NotFound):
        require(actor, org, "resources", "read")
    assert not Dock.objects.visible_to(actor, "docks").exists()
