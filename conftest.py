"""Root fixtures: an organization with an owner, admin, developer and viewer, and an
outsider who belongs to another organization."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.moto_server",
    "tests.fixtures.workers",
    "tests.fixtures.listener",
    "tests.fakes.cloudflare.fixtures",
]


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """On the SQLite pass of `make test`, run only the tests that use the database."""
    if os.environ.get("STACKDOCK_TEST_DB_ONLY") != "1":
        return
    db_fixtures = {
        "db",
        "transactional_db",
        "django_db_setup",
        "live_server",
        "client",
        "admin_client",
    }
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") is not None or bool(
            db_fixtures & set(getattr(item, "fixturenames", ()))
        )
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counts live in the cache (the test process's own, which in-process live
    servers share): every test starts with none, whatever the tests before it sent
    from 127.0.0.1 in the same fixed window."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_list_pages_between_tests():
    """Rows a test wrote are rolled back without a marker change: start each test on
    fresh markers, so no cached list page of an earlier test is ever served."""
    from docks.changes import all_tables, rows_changed

    rows_changed(*all_tables())


@pytest.fixture(autouse=True)
def _no_verified_tokens_between_tests():
    """A web process's verified-token cache outlives requests, not tests."""
    from stackdock.auth_cache import verified_tokens

    verified_tokens.clear()
    yield
    verified_tokens.clear()


@pytest.fixture
def org(db):
    from tests.factories import OrganizationFactory

    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def other_org(db):
    from tests.factories import OrganizationFactory

    return OrganizationFactory(slug="globex", name="Globex")


def _member(org, role_name, email):
    from tests.factories import MembershipFactory, UserFactory

    return MembershipFactory(org=org, role_name=role_name, user=UserFactory(username=email))


@pytest.fixture
def owner(org):
    return _member(org, "owner", "owner@acme.test")


@pytest.fixture
def admin(org):
    return _member(org, "admin", "admin@acme.test")


@pytest.fixture
def developer(org):
    return _member(org, "developer", "dev@acme.test")


@pytest.fixture
def viewer(org):
    return _member(org, "viewer", "viewer@acme.test")


@pytest.fixture
def outsider(other_org):
    return _member(other_org, "owner", "boss@globex.test")


def actor_of(membership):
    from stackdock.permissions import Actor

    return Actor.for_membership(membership)
