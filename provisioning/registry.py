"""The Django side's provider registry: which adapters this installation offers."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from docks.adapters.aws import AwsAdapter
from docks.adapters.base import Adapter
from docks.adapters.cloudflare import CloudflareAdapter
from provisioning.engine.registry import Registry


@lru_cache(maxsize=1)
def _build(sandbox: bool) -> Registry:
    registry = Registry()
    registry.register(AwsAdapter)
    registry.register(CloudflareAdapter)
    if sandbox:
        from docks.adapters.sandbox import SandboxAdapter

        registry.register(SandboxAdapter)
    return registry


def get_registry() -> Registry:
    """The registry; the sandbox provider exists outside production only."""
    return _build(bool(settings.STACKDOCK_SANDBOX))


def adapter_class(provider: str) -> type[Adapter]:
    return get_registry().adapter_class(provider)
