"""``dns-record``: one record in a zone (no universal table)."""

from __future__ import annotations

import ipaddress
from typing import Any

import cloudflare

from docks.adapters.base import AlreadyExists, ProviderError, ResourceResult, SpecModel

from .context import Handler, api_dict, gone
from .errors import error_codes
from .specs import HEX32, HOSTNAME_CONTENT_TYPES, PROXIABLE_TYPES, DnsRecordSpec

#: "An identical record already exists" (two spellings across API versions)
RECORD_EXISTS = frozenset({81057, 81058})


def absolute_name(name: str, zone_name: str) -> str:
    """The record's full name, as Cloudflare stores it: '@' and relative names expanded."""
    name = name.rstrip(".").lower()
    if name in ("@", ""):
        return zone_name
    if name == zone_name or name.endswith("." + zone_name):
        return name
    return f"{name}.{zone_name}"


def same_content(record_type: str, a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    if record_type == "AAAA":
        try:
            return ipaddress.IPv6Address(a) == ipaddress.IPv6Address(b)
        except ValueError:
            return False
    if record_type in HOSTNAME_CONTENT_TYPES:
        return a.rstrip(".").lower() == b.rstrip(".").lower()
    return a == b


def _split_id(provider_resource_id: str) -> tuple[str, str]:
    zone_id, _, record_id = provider_resource_id.partition("/")
    if not (HEX32.match(zone_id) and record_id):
        raise ProviderError(
            f"malformed DNS record id {provider_resource_id!r}: expected '<zone id>/<record id>'",
            permanent=True,
            code="invalid_id",
        )
    return zone_id, record_id


def record_result(zone_id: str, record: Any) -> ResourceResult:
    return ResourceResult(
        provider_resource_id=f"{zone_id}/{record.id}",
        outputs={
            "id": record.id,
            "name": record.name,
            "content": record.content,
            "zone_id": zone_id,
        },
        universal={"name": record.name, "status": "active", "region": None},
        full_api_data={**api_dict(record), "zone_id": zone_id},
    )


class DnsRecordHandler(Handler):
    def _zone(self, ref: str) -> tuple[str, str]:
        """(zone id, zone name) for a zone given by id or by name."""
        if HEX32.match(ref):
            return ref, self.ctx.zone_name(ref)
        for zone in self.client.zones.list(account={"id": self.account_id}, name=ref, per_page=50):
            if zone.name == ref:
                self.ctx.remember_zone(zone.id, zone.name)
                return zone.id, zone.name
        raise ProviderError(
            f"zone {ref!r} is not in this Cloudflare account (or the API token cannot see it)",
            permanent=True,
            code="not_found",
        )

    def _fields(self, spec: DnsRecordSpec, zone_name: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "name": absolute_name(spec.name, zone_name),
            "type": spec.type,
            "content": spec.content,
            "ttl": spec.ttl,
        }
        if spec.type in PROXIABLE_TYPES:
            fields["proxied"] = spec.proxied
        if spec.priority is not None:
            fields["priority"] = spec.priority
        return fields

    def _matching(self, zone_id: str, fields: dict[str, Any]) -> Any | None:
        records = self.client.dns.records.list(
            zone_id=zone_id, type=fields["type"], name={"exact": fields["name"]}, per_page=100
        )
        for record in records:
            if same_content(fields["type"], record.content, fields["content"]):
                return record
        return None

    def _differs(self, record: Any, fields: dict[str, Any]) -> bool:
        if int(record.ttl) != fields["ttl"]:
            return True
        if "proxied" in fields and bool(record.proxied) != fields["proxied"]:
            return True
        return "priority" in fields and getattr(record, "priority", None) != fields["priority"]

    def create(self, spec: DnsRecordSpec) -> ResourceResult:
        zone_id, zone_name = self._zone(spec.zone)
        fields = self._fields(spec, zone_name)
        what = f"DNS record {fields.get('type')} {fields.get('name')!r}"
        if self._matching(zone_id, fields) is not None:
            raise AlreadyExists(what)
        try:
            record = self.client.dns.records.create(zone_id=zone_id, **fields)
        except cloudflare.BadRequestError as exc:
            if RECORD_EXISTS & error_codes(exc):
                raise AlreadyExists(what) from None
            raise
        if record is None:
            raise ProviderError(
                "Cloudflare created the DNS record but returned no record",
                permanent=True,
                code="unexpected_response",
            )
        if self._differs(record, fields):
            record = self.client.dns.records.update(record.id, zone_id=zone_id, **fields)
        return record_result(zone_id, record)

    def find(self, spec: DnsRecordSpec) -> ResourceResult | None:
        zone_id, zone_name = self._zone(spec.zone)
        record = self._matching(zone_id, self._fields(spec, zone_name))
        return record_result(zone_id, record) if record is not None else None

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        zone_id, record_id = _split_id(provider_resource_id)
        try:
            record = self.client.dns.records.get(record_id, zone_id=zone_id)
        except cloudflare.NotFoundError:  # the record, or its whole zone, is gone
            return None
        return record_result(zone_id, record) if record is not None else None

    def update(
        self, provider_resource_id: str, old: DnsRecordSpec, new: DnsRecordSpec
    ) -> ResourceResult:
        zone_id, record_id = _split_id(provider_resource_id)
        fields = self._fields(new, self.ctx.zone_name(zone_id))
        try:
            record = self.client.dns.records.update(record_id, zone_id=zone_id, **fields)
        except cloudflare.NotFoundError:
            record = None
        if record is None:
            raise gone("DNS record", provider_resource_id)
        return record_result(zone_id, record)

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        zone_id, record_id = _split_id(provider_resource_id)
        try:
            self.client.dns.records.delete(record_id, zone_id=zone_id)
        except cloudflare.NotFoundError:
            return
