from __future__ import annotations

import pytest

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
