"""The members page offers only what your rank allows (the services refuse the rest:
tests/security/test_authority_matrix.py)."""

from __future__ import annotations

import re

import pytest
from django.test import Client


def _page(membership) -> str:
    client = Client()
    client.force_login(membership.user)
    return client.get("/dashboard/settings/members/").content.decode()


@pytest.mark.django_db
def test_an_admin_is_offered_nothing_on_the_owner_and_never_the_owner_role(owner, admin, viewer):
    page = _page(admin)
    assert f"/settings/members/{owner.pk}/role/" not in page
    assert f"/settings/members/{owner.pk}/remove/" not in page
    assert f"/settings/members/{viewer.pk}/role/" in page
    assert f"/settings/members/{viewer.pk}/remove/" in page
    options = set(re.findall(r'<option value="([^"]+)"', page))
    assert "owner" not in options and {"admin", "viewer"} <= options


@pytest.mark.django_db
def test_an_owner_is_offered_everything(owner, admin):
    page = _page(owner)
    assert f"/settings/members/{admin.pk}/role/" in page
    assert '<option value="owner"' in page
