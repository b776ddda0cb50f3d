"""Pytest fixtures for the Cloudflare emulator.

Import the fixtures you use into a test module
(``from tests.fakes.cloudflare.fixtures import cf_emulator  # noqa: F401``),
or register this module once in the root conftest's ``pytest_plugins``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cloudflare import Cloudflare

from docks.adapters.cloudflare import CloudflareAdapter

from .server import CloudflareEmulator

CF_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
CF_TOKEN = "cf-test-token-Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4"


@pytest.fixture(scope="session")
def cf_emulator_server() -> Iterator[CloudflareEmulator]:
    """One emulator per test session, on a free loopback port."""
    emulator = CloudflareEmulator(port=0).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def cf_emulator(cf_emulator_server: CloudflareEmulator) -> CloudflareEmulator:
    """The emulator, emptied, with one all-permission token ``CF_TOKEN`` for ``CF_ACCOUNT_ID``."""
    cf_emulator_server.state.clear_tokens()
    cf_emulator_server.reset()
    cf_emulator_server.add_token(CF_TOKEN, CF_ACCOUNT_ID)
    return cf_emulator_server


@pytest.fixture
def cf_client(cf_emulator: CloudflareEmulator) -> Iterator[Cloudflare]:
    """The official SDK pointed at the emulator, validating every response strictly."""
    client = Cloudflare(
        api_token=CF_TOKEN,
        base_url=cf_emulator.base_url,
        _strict_response_validation=True,
        max_retries=0,
    )
    yield client
    client.close()


@pytest.fixture
def cf_adapter(cf_emulator: CloudflareEmulator) -> CloudflareAdapter:
    """A CloudflareAdapter for the emulator's account (strict SDK validation, no SDK retries)."""
    return CloudflareAdapter(
        {"api_token": CF_TOKEN, "account_id": CF_ACCOUNT_ID},
        endpoint_url=cf_emulator.base_url,
        max_retries=0,
        strict_validation=True,
    )
