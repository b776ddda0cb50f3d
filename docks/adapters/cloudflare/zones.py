"""``zone``: a domain on Cloudflare (fills the ``domains`` table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudflare

from docks.adapters.base import AlreadyExists, ResourceResult, SpecModel

from .context import Handler, api_dict, gone
from .errors import error_codes
from .specs import ZoneSpec

#: "example.com already exists", and "could not route: object identifier invalid"
ZONE_EXISTS = 1061
BAD_IDENTIFIER = 7003


def zone_result(zone: Any) -> ResourceResult:
    status = zone.status or "pending"
    return ResourceResult(
        provider_resource_id=zone.id,
        outputs={
            "id": zone.id,
            "name": zone.name,
            "name_servers": list(zone.name_servers),
            "status": status,
        },
        universal={
            "name": zone.name,
            "status": status,
            "region": None,
            "domain_name": zone.name,
            "expires_at": None,
        },
        full_api_data=api_dict(zone),
    )


class ZoneHandler(Handler):
    def _by_name(self, name: str) -> Any | None:
        zones = self.client.zones.list(account={"id": self.account_id}, name=name, per_page=50)
        for zone in zones:
            if zone.name == name:
                self.ctx.remember_zone(zone.id, zone.name)
                return zone
        return None

    def _get(self, zone_id: str) -> Any | None:
        try:
            return self.client.zones.get(zone_id=zone_id)
        except cloudflare.NotFoundError:
            return None
        except cloudflare.BadRequestError as exc:
            if BAD_IDENTIFIER in error_codes(exc):
                return None
            raise

    def _reconcile(self, zone: Any, spec: ZoneSpec) -> Any:
        if (zone.type or "full") != spec.type:
            zone = self.client.zones.edit(zone_id=zone.id, type=spec.type)
        return zone

    def create(self, spec: ZoneSpec) -> ResourceResult:
        if self._by_name(spec.name) is not None:
            raise AlreadyExists(f"zone {spec.name!r}")
        try:
            zone = self.client.zones.create(
                account={"id": self.account_id}, name=spec.name, type=spec.type
            )
        except cloudflare.BadRequestError as exc:
            if ZONE_EXISTS in error_codes(exc):
                raise AlreadyExists(f"zone {spec.name!r}") from None
            raise
        return zone_result(self._reconcile(zone, spec))

    def find(self, spec: ZoneSpec) -> ResourceResult | None:
        zone = self._by_name(spec.name)
        return zone_result(zone) if zone is not None else None

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        zone = self._get(provider_resource_id)
        return zone_result(zone) if zone is not None else None

    def update(self, provider_resource_id: str, old: ZoneSpec, new: ZoneSpec) -> ResourceResult:
        zone = self._get(provider_resource_id)
        if zone is None:
            raise gone("zone", provider_resource_id)
        return zone_result(self._reconcile(zone, new))

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        try:
            self.client.zones.delete(zone_id=provider_resource_id)
        except cloudflare.NotFoundError:
            return
        except cloudflare.BadRequestError as exc:
            if BAD_IDENTIFIER not in error_codes(exc):
                raise

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        return {"name": result.outputs["name"], "type": result.full_api_data.get("type", "full")}

    def sync(self) -> Iterator[ResourceResult]:
        for zone in self.client.zones.list(account={"id": self.account_id}, per_page=50):
            yield zone_result(zone)
