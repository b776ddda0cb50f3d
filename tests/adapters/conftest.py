"""Adapter tests: each test builds its AWS clients afresh."""

from __future__ import annotations

import pytest

from docks.adapters.aws.session import shared_clients


@pytest.fixture(autouse=True)
def _fresh_aws_clients() -> None:
    """Clients kept across operations (``SharedClients``) must not carry one
    test's session into the next, or a test of how sessions are built would
    pass on one built before it ran."""
    shared_clients.clear()
