"""What every resource handler shares: the SDK client, the account, small caches."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import cloudflare

from docks.adapters.base import NotImportable, ProviderError, ReadBack, ResourceResult, SpecModel

_UNKNOWN = object()


def api_dict(model: Any) -> dict[str, Any]:
    """An SDK model as the JSON the API sent (keys it set, no nulls)."""
    if model is None:
        return {}
    return dict(model.to_dict(mode="json", exclude_none=True))


def gone(resource: str, provider_resource_id: str) -> ProviderError:
    return ProviderError(
        f"{resource} {provider_resource_id!r} no longer exists at Cloudflare",
        permanent=True,
        code="not_found",
    )


class Context:
    """One account's client plus lookups worth remembering for this adapter's life."""

    def __init__(self, client: cloudflare.Cloudflare, account_id: str) -> None:
        self.client = client
        self.account_id = account_id
        self._lock = threading.Lock()
        self._workers_subdomain: object = _UNKNOWN
        self._zone_names: dict[str, str] = {}

    def workers_subdomain(self) -> str | None:
        """The account's ``<sub>.workers.dev`` subdomain, or None if it has none."""
        with self._lock:
            cached = self._workers_subdomain
        if cached is not _UNKNOWN:
            return cached  # type: ignore[return-value]
        try:
            subdomain: str | None = self.client.workers.subdomains.get(
                account_id=self.account_id
            ).subdomain
        except cloudflare.NotFoundError:
            subdomain = None
        with self._lock:
            self._workers_subdomain = subdomain
        return subdomain

    def zone_name(self, zone_id: str) -> str:
        """A zone's domain name (an id never changes name, so this is cached)."""
        with self._lock:
            name = self._zone_names.get(zone_id)
        if name is not None:
            return name
        try:
            zone = self.client.zones.get(zone_id=zone_id)
        except cloudflare.NotFoundError:
            zone = None
        if zone is None:
            raise gone("zone", zone_id)
        self.remember_zone(zone.id, zone.name)
        return zone.name

    def remember_zone(self, zone_id: str, name: str) -> None:
        with self._lock:
            self._zone_names[zone_id] = name


class Handler:
    """The lifecycle of one resource type. Subclasses implement every method."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.account_id = ctx.account_id

    def create(self, spec: Any) -> ResourceResult:
        raise NotImplementedError

    def find(self, spec: Any) -> ResourceResult | None:
        raise NotImplementedError

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        raise NotImplementedError

    def update(self, provider_resource_id: str, old: Any, new: Any) -> ResourceResult:
        raise NotImplementedError

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        raise NotImplementedError

    def sync(self) -> Iterator[ResourceResult]:
        return iter(())

    # --- import ---------------------------------------------------------------
    def read_back(self, provider_resource_id: str) -> ReadBack | None:
        """``read``, and the spec properties that describe what it read."""
        result = self.read(provider_resource_id, None)
        if result is None:
            return None
        notes: list[str] = []
        properties = self.spec_from(result, notes)
        return ReadBack(result=result, properties=properties, notes=notes)

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        """The spec properties of a resource as ``read`` described it."""
        raise NotImportable("StackDock cannot import this kind of Cloudflare resource")
