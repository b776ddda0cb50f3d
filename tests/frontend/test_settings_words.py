"""Members and roles say what is true: roles by privilege, the least privilege by
default, a 403 that names what was missing and who can give it."""

from __future__ import annotations

import re
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontend.forms import MemberAddForm, by_privilege
from stackdock.models import AREAS, LEVEL_RANK, Level, Role
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db


def test_roles_are_listed_most_privileged_first_with_one_members_column(login, owner, org):
    Role.objects.create(org=org, name="auditor", permissions={"audit": "read"})
    html = unescape(login(owner).get("/dashboard/settings/roles/").content.decode())
    names = re.findall(r'<th scope="row">([a-z-]+)', html)
    assert names[:2] == ["owner", "admin"] and names[-1] == "auditor", names
    headers = [h.lower() for h in re.findall(r'<th scope="col">([^<]+)</th>', html)]
    assert len(headers) == len(set(headers)), headers


LEVELS = st.sampled_from([Level.NONE, Level.READ, Level.FULL])


class _Role:
    def __init__(self, name, permissions):
        self.name, self.permissions = name, permissions

    def level(self, area):
        return self.permissions.get(area, Level.NONE)


@given(st.lists(st.dictionaries(st.sampled_from(AREAS), LEVELS), min_size=1, max_size=6))
def test_a_role_never_comes_after_one_with_less(perms):
    roles = [_Role(f"r{i}", p) for i, p in enumerate(perms)]
    score = [sum(LEVEL_RANK[r.level(a)] for a in AREAS) for r in by_privilege(roles)]
    assert score == sorted(score, reverse=True)


def test_add_member_starts_at_the_least_privileged_role(login, owner, org):
    roles = list(Role.objects.filter(org=org))
    form = MemberAddForm(roles=roles)
    least = by_privilege(roles)[-1]
    assert form.fields["role"].initial == least.name and least.name not in ("owner", "admin")
    html = login(owner).get("/dashboard/settings/members/").content.decode()
    assert re.search(rf'<option value="{least.name}" selected>', html), "the page preselects it"


def test_a_403_names_the_missing_grant_and_who_can_give_it(login, developer, org, sandbox):
    DockFactory(org=org, name="sandbox", provider="sandbox")
    response = login(developer).get("/dashboard/provision/sandbox/bucket/")
    html = unescape(response.content.decode())
    assert response.status_code == 403
    assert "This needs provisioning: full in your role (yours has provisioning: read)" in html
    assert 'the grant "Provision on this dock"' in html and "owner or admin" in html
