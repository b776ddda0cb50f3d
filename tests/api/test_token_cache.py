"""The web process's verified-token cache: fast when nothing changed, never stale when
something did (revocation, role change, removal, deactivation, expiry)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stackdock import auth_cache
from stackdock.auth_cache import AUTH_EPOCH_KEY, verified_tokens
from stackdock.models import ApiToken, Membership, Role
from tests.api.conftest import client_with, secret_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _token_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/whoami").status_code == 200
    return sum(
        q["sql"].startswith("SELECT") and '"stackdock_apitoken"' in q["sql"]
        for q in ctx.captured_queries
    )


def test_a_verified_token_is_not_looked_up_again(owner):
    client = client_with(secret_for(owner))
    assert _token_queries(client) == 1
    assert _token_queries(client) == 0
    assert _token_queries(client) == 0


def test_a_wrong_secret_with_a_cached_prefix_is_refused(owner):
    secret = secret_for(owner)
    assert client_with(secret).get("/api/v1/whoami").status_code == 200
    forged = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    assert client_with(forged).get("/api/v1/whoami").status_code == 401


def test_revoking_bites_on_the_next_request(owner):
    secret = secret_for(owner)
    client = client_with(secret)
    assert client.get("/api/v1/whoami").status_code == 200
    token = ApiToken.objects.get(membership=owner)
    assert client.delete(f"/api/v1/tokens/{token.pk}").status_code == 204
    assert client.get("/api/v1/whoami").status_code == 401


def test_a_role_change_bites_on_the_next_request(owner, developer, client_for):
    dev = client_for(developer)
    assert dev.get("/api/v1/whoami").json()["role"] == "developer"
    owner_client = client_for(owner)
    changed = owner_client.patch(
        f"/api/v1/members/{developer.pk}", {"role": "admin"}, format="json"
    )
    assert changed.status_code == 200
    assert dev.get("/api/v1/whoami").json()["role"] == "admin"


def test_a_removed_member_is_out_on_the_next_request(owner, developer, client_for):
    dev = client_for(developer)
    assert dev.get("/api/v1/whoami").status_code == 200
    assert client_for(owner).delete(f"/api/v1/members/{developer.pk}").status_code == 204
    assert dev.get("/api/v1/whoami").status_code == 401


def test_a_deactivated_user_is_out_on_the_next_request(developer, client_for):
    dev = client_for(developer)
    assert dev.get("/api/v1/whoami").status_code == 200
    user = developer.user
    user.is_active = False
    user.save()  # as Django admin's user form does
    assert dev.get("/api/v1/whoami").status_code == 401


def test_a_role_edited_in_place_bites_on_the_next_request(client_for, org):
    role = Role.objects.create(org=org, name="ops", permissions={"docks": "read"})
    member = Membership.objects.create(
        org=org, role=role, user=UserFactory(username="ops@acme.test")
    )
    client = client_for(member)
    assert client.get("/api/v1/whoami").json()["permissions"]["docks"] == "read"
    role.permissions = {"docks": "full"}
    role.save()  # admin's permission-matrix form saves the row
    assert client.get("/api/v1/whoami").json()["permissions"]["docks"] == "full"


def test_an_expired_token_is_refused_even_when_cached(owner, monkeypatch):
    secret = secret_for(owner, expires_days=1)
    client = client_with(secret)
    assert client.get("/api/v1/whoami").status_code == 200
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert client.get("/api/v1/whoami").status_code == 401


def test_a_change_behind_djangos_back_bites_after_the_age_limit(owner, monkeypatch, settings):
    settings.STACKDOCK_TOKEN_CACHE_SECONDS = 30
    secret = secret_for(owner)
    client = client_with(secret)
    assert client.get("/api/v1/whoami").status_code == 200
    ApiToken.objects.filter(membership=owner).update(revoked_at=timezone.now())  # no signal
    assert client.get("/api/v1/whoami").status_code == 200  # within the age limit
    later = time.monotonic() + 31
    monkeypatch.setattr(auth_cache.time, "monotonic", lambda: later)
    assert client.get("/api/v1/whoami").status_code == 401


def test_a_new_epoch_from_another_process_drops_the_cache(owner):
    """Another web process committed a change: it wrote a new epoch to the shared cache."""
    client = client_with(secret_for(owner))
    assert _token_queries(client) == 1
    assert _token_queries(client) == 0
    cache.set(AUTH_EPOCH_KEY, "another-process-changed-something", timeout=None)
    assert _token_queries(client) == 1
    assert _token_queries(client) == 0


def test_the_epoch_changes_only_after_the_commit(owner, django_capture_on_commit_callbacks):
    cache.set(AUTH_EPOCH_KEY, "before", timeout=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner.user.first_name = "Renamed"
        owner.user.save()
    assert cache.get(AUTH_EPOCH_KEY) == "before"
    for callback in callbacks:
        callback()
    assert cache.get(AUTH_EPOCH_KEY) not in (None, "before")


def test_a_login_does_not_drop_the_cache(owner):
    cache.set(AUTH_EPOCH_KEY, "before", timeout=None)
    owner.user.last_login = timezone.now()
    owner.user.save(update_fields=["last_login"])
    assert cache.get(AUTH_EPOCH_KEY) == "before"


def test_the_cache_can_be_turned_off(owner, settings):
    settings.STACKDOCK_TOKEN_CACHE_SECONDS = 0
    client = client_with(secret_for(owner))
    assert _token_queries(client) == 1
    assert _token_queries(client) == 1
    assert not verified_tokens._entries


def test_each_request_gets_its_own_copy_of_the_token(owner):
    secret = secret_for(owner)
    assert client_with(secret).get("/api/v1/whoami").status_code == 200
    entry = verified_tokens.candidate(secret)
    assert entry is not None
    first = verified_tokens.get(entry, cache.get(AUTH_EPOCH_KEY))
    second = verified_tokens.get(entry, cache.get(AUTH_EPOCH_KEY))
    assert first is not None and second is not None
    assert first is not second and first.membership is not second.membership
    assert first.pk == second.pk and first.membership.role.name == "owner"
