"""``route53-zone`` (universal table ``domains``) and ``route53-record`` (no table).

Zones are made idempotent with the engine's token as ``CallerReference``;
``find`` looks the zone up by name and caller reference (AWS refuses a reused
reference with ``HostedZoneAlreadyExists`` instead of returning the zone).
A record is created only where none exists (a record set already there is
``AlreadyExists``, never overwritten) and updated with ``UPSERT``; its provider
id is ``<zone_id>/<name>/<type>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from docks.adapters.base import (
    AlreadyExists,
    NotImportable,
    ProviderError,
    ResourceResult,
    ResourceType,
    SyncedResource,
)

from ..apidata import api_data
from ..errors import error_code, is_not_found
from ..specs import Route53RecordSpec, Route53ZoneSpec, normalize_dns_name
from .base import ResourceHandler, bounded_token

#: Route 53's limit for CallerReference.
CALLER_REFERENCE_MAX = 128
#: Longest single character-string inside a TXT value.
TXT_CHUNK = 255
_OCTAL_ESCAPE = re.compile(r"\\(\d{3})")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_BACKSLASH_ESCAPE = re.compile(r"\\(\d{3}|.)")


def bare_zone_id(zone_id: str) -> str:
    """``/hostedzone/Z123`` -> ``Z123``."""
    return zone_id.rsplit("/", 1)[-1]


def decode_name(name: str) -> str:
    """A Route 53 name as people write it: octal escapes decoded, lowercase, no final dot."""
    return normalize_dns_name(_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), name))


def encode_txt(value: str) -> str:
    """Plain text to Route 53's TXT form: quoted 255-character strings."""
    chunks = [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)] or [""]
    escaped = (c.replace("\\", "\\\\").replace('"', '\\"') for c in chunks)
    return " ".join(f'"{c}"' for c in escaped)


def decode_txt(value: str) -> str:
    """Route 53's TXT form back to plain text."""
    parts = _QUOTED.findall(value)
    if not parts:
        return value

    def unescape(match: re.Match[str]) -> str:
        token = match[1]
        return chr(int(token, 8)) if token.isdigit() else token

    return "".join(_BACKSLASH_ESCAPE.sub(unescape, p) for p in parts)


class Route53ZoneHandler(ResourceHandler):
    resource_type = ResourceType(
        name="route53-zone",
        table="domains",
        spec_model=Route53ZoneSpec,
        replace_fields=frozenset({"name"}),
        outputs=("id", "name", "name_servers"),
        description="Public Route 53 hosted zone.",
    )

    def create(self, spec: Route53ZoneSpec, token: str) -> ResourceResult:
        existing = self.find(spec, token)
        if existing is not None:
            return existing
        reference = bounded_token(token, CALLER_REFERENCE_MAX)
        route53 = self.clients.client("route53")
        try:
            created = route53.create_hosted_zone(Name=spec.name, CallerReference=reference)
        except ClientError as exc:
            if error_code(exc) != "HostedZoneAlreadyExists":
                raise
            existing = self.find(spec, token)
            if existing is None:
                raise
            return existing
        self.clients.wait_for(
            route53, "resource_record_sets_changed", Id=created["ChangeInfo"]["Id"]
        )
        return self._result(created["HostedZone"], created.get("DelegationSet"))

    def find(self, spec: Route53ZoneSpec, token: str) -> ResourceResult | None:
        reference = bounded_token(token, CALLER_REFERENCE_MAX)
        for zone in zones_named(self.clients.client("route53"), spec.name):
            if zone.get("CallerReference") == reference:
                return self.read(bare_zone_id(zone["Id"]), spec)
        return None

    def read(self, provider_id: str, spec: Route53ZoneSpec | None) -> ResourceResult | None:
        try:
            zone = self.clients.client("route53").get_hosted_zone(Id=provider_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return self._result(zone["HostedZone"], zone.get("DelegationSet"))

    def update(
        self, provider_id: str, old: Route53ZoneSpec, new: Route53ZoneSpec
    ) -> ResourceResult:
        self.refuse_replacement_change(old, new)
        result = self.read(provider_id, new)
        if result is None:
            raise ProviderError(
                f"hosted zone {provider_id} no longer exists", permanent=True, code="NotFound"
            )
        return result

    def delete(self, provider_id: str, spec: Route53ZoneSpec | None) -> None:
        try:
            self.clients.client("route53").delete_hosted_zone(Id=provider_id)
        except ClientError as exc:
            if not is_not_found(exc):
                raise

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        if (result.full_api_data.get("Config") or {}).get("PrivateZone"):
            raise NotImportable(
                f"hosted zone {result.outputs['name']!r} is private: StackDock's route53-zone "
                "is a public zone, so it cannot manage this one"
            )
        return {"name": result.outputs["name"]}

    def sync(self) -> Iterator[SyncedResource]:
        paginator = self.clients.client("route53").get_paginator("list_hosted_zones")
        for page in paginator.paginate():
            for zone in page.get("HostedZones", []):
                yield self.synced(self._result(zone, None))

    def _result(self, zone: dict[str, Any], delegation: dict[str, Any] | None) -> ResourceResult:
        zone_id = bare_zone_id(zone["Id"])
        name = decode_name(zone["Name"])
        name_servers = list((delegation or {}).get("NameServers", []))
        described = {**zone, "NameServers": name_servers} if delegation else dict(zone)
        return ResourceResult(
            provider_resource_id=zone_id,
            outputs={"id": zone_id, "name": name, "name_servers": name_servers},
            universal={
                "name": name,
                "status": "active",
                "region": "global",
                "domain_name": name,
                "expires_at": None,
            },
            full_api_data=api_data(described),
        )


def zones_named(route53: Any, name: str) -> list[dict[str, Any]]:
    """Every hosted zone whose name is exactly ``name``."""
    wanted = normalize_dns_name(name)
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"DNSName": wanted, "MaxItems": "100"}
    while True:
        page = route53.list_hosted_zones_by_name(**params)
        zones = page.get("HostedZones", [])
        matching = [z for z in zones if decode_name(z["Name"]) == wanted]
        found.extend(matching)
        if not page.get("IsTruncated") or len(matching) < len(zones):
            return found
        params = {
            "DNSName": page["NextDNSName"],
            "HostedZoneId": page["NextHostedZoneId"],
            "MaxItems": "100",
        }


class Route53RecordHandler(ResourceHandler):
    resource_type = ResourceType(
        name="route53-record",
        key_fields=("zone", "name", "type"),
        table=None,
        spec_model=Route53RecordSpec,
        replace_fields=frozenset({"zone", "name", "type"}),
        outputs=("id", "zone_id", "name", "fqdn", "type", "values", "ttl"),
        description="Route 53 record set (simple routing). Values and TTL change in place.",
    )

    def create(self, spec: Route53RecordSpec, token: str) -> ResourceResult:
        zone_id, zone_name = self._zone(spec.zone)
        fqdn = self._fqdn(spec.name, zone_name)
        if self._read(zone_id, fqdn, spec.type) is not None:
            raise AlreadyExists(f"record {fqdn} {spec.type}")
        return self._upsert(zone_id, fqdn, spec)

    def find(self, spec: Route53RecordSpec, token: str) -> ResourceResult | None:
        try:
            zone_id, zone_name = self._zone(spec.zone)
        except ProviderError:
            return None
        return self._read(zone_id, self._fqdn(spec.name, zone_name), spec.type)

    def read(self, provider_id: str, spec: Route53RecordSpec | None) -> ResourceResult | None:
        zone_id, fqdn, record_type = self._split(provider_id)
        try:
            return self._read(zone_id, fqdn, record_type)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    def update(
        self, provider_id: str, old: Route53RecordSpec, new: Route53RecordSpec
    ) -> ResourceResult:
        self.refuse_replacement_change(old, new)
        zone_id, fqdn, _ = self._split(provider_id)
        return self._upsert(zone_id, fqdn, new)

    def delete(self, provider_id: str, spec: Route53RecordSpec | None) -> None:
        zone_id, fqdn, record_type = self._split(provider_id)
        try:
            current = self._record_set(zone_id, fqdn, record_type)
            if current is None:
                return
            self._change(zone_id, "DELETE", current)
        except ClientError as exc:
            already_gone = error_code(exc) == "InvalidChangeBatch" and "not found" in str(exc)
            if not (is_not_found(exc) or already_gone):
                raise

    # --- helpers ----------------------------------------------------------------
    def _zone(self, zone: str) -> tuple[str, str]:
        """``(zone id, zone name)`` for a zone given by id or by name."""
        route53 = self.clients.client("route53")
        if "." not in zone:
            try:
                found = route53.get_hosted_zone(Id=zone)["HostedZone"]
            except ClientError as exc:
                if is_not_found(exc):
                    raise ProviderError(
                        f"no hosted zone with id {zone!r} in this account",
                        permanent=True,
                        code="NoSuchHostedZone",
                    ) from None
                raise
            return bare_zone_id(found["Id"]), decode_name(found["Name"])
        matches = zones_named(route53, zone)
        if not matches:
            raise ProviderError(
                f"no hosted zone named {zone!r} in this account",
                permanent=True,
                code="NoSuchHostedZone",
            )
        if len(matches) > 1:
            raise ProviderError(
                f"{len(matches)} hosted zones are named {zone!r}; give the zone id instead",
                permanent=True,
                code="AmbiguousZone",
            )
        return bare_zone_id(matches[0]["Id"]), zone

    @staticmethod
    def _fqdn(name: str, zone_name: str) -> str:
        if name == "@" or name == zone_name:
            return zone_name
        if name.endswith("." + zone_name):
            return name
        return f"{name}.{zone_name}"

    @staticmethod
    def _split(provider_id: str) -> tuple[str, str, str]:
        parts = provider_id.split("/")
        if len(parts) != 3 or not all(parts):
            raise ProviderError(
                f"malformed record id {provider_id!r} (want <zone_id>/<name>/<type>)",
                permanent=True,
                code="bad_id",
            )
        return parts[0], parts[1], parts[2]

    def _upsert(self, zone_id: str, fqdn: str, spec: Route53RecordSpec) -> ResourceResult:
        values = [encode_txt(v) if spec.type in ("TXT", "SPF") else v for v in spec.values]
        record_set = {
            "Name": f"{fqdn}.",
            "Type": spec.type,
            "TTL": spec.ttl,
            "ResourceRecords": [{"Value": v} for v in values],
        }
        self._change(zone_id, "UPSERT", record_set)
        result = self._read(zone_id, fqdn, spec.type)
        if result is None:
            raise ProviderError(
                f"record {fqdn} {spec.type} vanished right after it was written",
                permanent=False,
                code="NotFound",
            )
        return result

    def _change(self, zone_id: str, action: str, record_set: dict[str, Any]) -> None:
        route53 = self.clients.client("route53")
        response = route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Comment": "StackDock",
                "Changes": [{"Action": action, "ResourceRecordSet": record_set}],
            },
        )
        self.clients.wait_for(
            route53, "resource_record_sets_changed", Id=response["ChangeInfo"]["Id"]
        )

    def _record_set(self, zone_id: str, fqdn: str, record_type: str) -> dict[str, Any] | None:
        response = self.clients.client("route53").list_resource_record_sets(
            HostedZoneId=zone_id,
            StartRecordName=f"{fqdn}.",
            StartRecordType=record_type,
            MaxItems="1",
        )
        for record_set in response.get("ResourceRecordSets", []):
            if decode_name(record_set["Name"]) == fqdn and record_set["Type"] == record_type:
                return record_set
        return None

    def _read(self, zone_id: str, fqdn: str, record_type: str) -> ResourceResult | None:
        record_set = self._record_set(zone_id, fqdn, record_type)
        if record_set is None:
            return None
        raw = [r["Value"] for r in record_set.get("ResourceRecords", [])]
        values = [decode_txt(v) for v in raw] if record_type in ("TXT", "SPF") else raw
        provider_id = f"{zone_id}/{fqdn}/{record_type}"
        return ResourceResult(
            provider_resource_id=provider_id,
            outputs={
                "id": provider_id,
                "zone_id": zone_id,
                "name": fqdn,
                "fqdn": fqdn,
                "type": record_type,
                "values": values,
                "ttl": record_set.get("TTL"),
            },
            full_api_data=api_data(record_set),
        )
