"""Fixtures for the dashboard's Django-client tests (SQLite or PostgreSQL, no worker)."""

from __future__ import annotations

import pytest
from django.test import Client

from docks.sandbox_store import sandbox_backend
from tests.factories import DockFactory


@pytest.fixture
def sandbox(settings, tmp_path):
    """A fresh sandbox "cloud" for this test."""
    settings.STACKDOCK_SANDBOX_DB = str(tmp_path / "sandbox.sqlite3")
    return sandbox_backend()


@pytest.fixture
def sandbox_dock(org, sandbox):
    return DockFactory(org=org, name="sandbox", provider="sandbox")


@pytest.fixture
def login():
    """``login(membership)`` -> a Django test client logged in as that member."""

    def make(membership) -> Client:
        client = Client()
        client.force_login(membership.user)
        return client

    return make


@pytest.fixture
def htmx():
    """Headers of an htmx request."""
    return {"HTTP_HX_REQUEST": "true"}


from tests.api.conftest import client_for, owner_client  # noqa: E402, F401  (API clients)
