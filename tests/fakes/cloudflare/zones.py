"""Zones and their DNS records."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any

from .api import Call, Reply, bad_request, forbidden, not_found, paginate
from .state import new_id, now_iso

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RECORD_LABEL = re.compile(r"^(\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_NAMESERVERS = ("ada", "bob", "cruz", "dana", "elsa", "fred", "gina", "hugo")
SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "PTR")
PROXIABLE_TYPES = ("A", "AAAA", "CNAME")


def _valid_zone_name(name: str) -> bool:
    if not name or len(name) > 253 or name != name.lower():
        return False
    labels = name.split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def _valid_hostname(value: str) -> bool:
    labels = value.lower().rstrip(".").split(".")
    return len(value) <= 253 and all(_RECORD_LABEL.match(label) for label in labels)


def _route_error(call: Call) -> Exception:
    return bad_request(
        7003, f"Could not route to {call.path}, perhaps your object identifier is invalid?"
    )


def get_zone(call: Call, zone_id: str) -> dict[str, Any]:
    """The zone, or the error Cloudflare gives: 400 bad id, 404 gone, 403 not yours."""
    if not _HEX32.match(zone_id):
        raise _route_error(call)
    zone = call.state.zones.get(zone_id)
    if zone is None:
        raise not_found(1001, "Invalid zone identifier")
    if zone["account"]["id"] != call.token.account_id:
        raise forbidden()
    return zone


# --- zones ------------------------------------------------------------------
def list_zones(call: Call) -> Reply:
    zones = [z for z in call.state.zones.values() if z["account"]["id"] == call.token.account_id]
    name = call.arg("name")
    if name is not None:
        zones = [z for z in zones if z["name"] == name.lower()]
    account_id = call.arg("account.id")
    if account_id is not None:
        zones = [z for z in zones if z["account"]["id"] == account_id]
    status = call.arg("status")
    if status is not None:
        zones = [z for z in zones if z["status"] == status]
    zones.sort(key=lambda z: z["name"])
    return paginate(call, zones, default_per_page=20, min_per_page=5, max_per_page=50)


def create_zone(call: Call) -> Reply:
    body = call.json()
    name = body.get("name")
    account_id = (body.get("account") or {}).get("id")
    zone_type = body.get("type", "full")
    if not account_id:
        raise bad_request(1001, "account.id is required")
    call.check_account(account_id)
    if not isinstance(name, str) or not _valid_zone_name(name):
        raise bad_request(1097, "Invalid zone name: it must be a registrable domain name")
    if zone_type not in ("full", "partial", "secondary"):
        raise bad_request(1001, "type must be one of full, partial, secondary")
    for zone in call.state.zones.values():
        if zone["name"] == name and zone["account"]["id"] == account_id:
            raise bad_request(1061, f"{name} already exists")
    zone_id = new_id()
    stamp = now_iso()
    seed = int(hashlib.sha256(zone_id.encode()).hexdigest(), 16)
    first = _NAMESERVERS[seed % len(_NAMESERVERS)]
    second = _NAMESERVERS[(seed // 7 + 1 + seed % len(_NAMESERVERS)) % len(_NAMESERVERS)]
    if second == first:
        second = _NAMESERVERS[(_NAMESERVERS.index(first) + 1) % len(_NAMESERVERS)]
    account = call.state.accounts[account_id]
    zone = {
        "id": zone_id,
        "name": name,
        "status": "pending",
        "paused": False,
        "type": zone_type,
        "development_mode": 0,
        "name_servers": [f"{first}.ns.cloudflare.com", f"{second}.ns.cloudflare.com"],
        "original_name_servers": None,
        "original_registrar": None,
        "original_dnshost": None,
        "vanity_name_servers": [],
        "created_on": stamp,
        "modified_on": stamp,
        "activated_on": None,
        "meta": {
            "step": 2,
            "custom_certificate_quota": 0,
            "page_rule_quota": 3,
            "phishing_detected": False,
            "cdn_only": False,
            "dns_only": False,
            "foundation_dns": False,
        },
        "owner": {"id": None, "type": "user", "name": None},
        "account": {"id": account_id, "name": account.name},
        "tenant": {"id": None, "name": None},
        "tenant_unit": {"id": None},
        "permissions": ["#zone:read", "#zone:edit", "#dns_records:read", "#dns_records:edit"],
        "plan": {
            "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            "name": "Free Website",
            "price": 0,
            "currency": "USD",
            "frequency": "",
            "is_subscribed": False,
            "can_subscribe": False,
            "legacy_id": "free",
            "legacy_discount": False,
            "externally_managed": False,
        },
    }
    if zone_type == "partial":
        zone["verification_key"] = f"{seed % 10**9}-{new_id()[:12]}"
    call.state.zones[zone_id] = zone
    call.state.records[zone_id] = {}
    return Reply(result=zone)


def read_zone(call: Call, zone_id: str) -> Reply:
    return Reply(result=get_zone(call, zone_id))


def edit_zone(call: Call, zone_id: str) -> Reply:
    zone = get_zone(call, zone_id)
    body = {k: v for k, v in call.json().items() if k in ("paused", "type", "vanity_name_servers")}
    if len(body) != 1:
        raise bad_request(1001, "Only one zone property can be changed at a time")
    if "type" in body and body["type"] not in ("full", "partial", "secondary"):
        raise bad_request(1001, "type must be one of full, partial, secondary")
    zone.update(body)
    if body.get("type") == "partial" and "verification_key" not in zone:
        zone["verification_key"] = new_id()[:20]
    zone["modified_on"] = now_iso()
    return Reply(result=zone)


def delete_zone(call: Call, zone_id: str) -> Reply:
    get_zone(call, zone_id)
    del call.state.zones[zone_id]
    call.state.records.pop(zone_id, None)
    return Reply(result={"id": zone_id})


# --- DNS records --------------------------------------------------------------
def _absolute_name(zone: dict[str, Any], name: str) -> str:
    name = name.strip().lower().rstrip(".")
    zone_name = zone["name"]
    if name in ("@", ""):
        return zone_name
    if name == zone_name or name.endswith("." + zone_name):
        return name
    return f"{name}.{zone_name}"


def _validate_record(zone: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The record fields after Cloudflare's checks, or a 400 with its codes."""
    rtype = body.get("type")
    if rtype not in SUPPORTED_TYPES:
        raise bad_request(9000, f"DNS record type {rtype!r} is invalid or not supported here")
    raw_name = body.get("name")
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise bad_request(9007, "DNS record name is required")
    name = _absolute_name(zone, raw_name)
    if not _valid_hostname(name):
        raise bad_request(9008, "DNS record name is invalid")
    content = body.get("content")
    if not isinstance(content, str) or not content:
        raise bad_request(9005, f"Content for {rtype} record is required")
    ttl = body.get("ttl", 1)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or int(ttl) != ttl:
        raise bad_request(
            9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."
        )
    ttl = int(ttl)
    if ttl != 1 and not 60 <= ttl <= 86400:
        raise bad_request(
            9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."
        )
    proxied = bool(body.get("proxied", False))
    if proxied and rtype not in PROXIABLE_TYPES:
        raise bad_request(9004, "This record type cannot be proxied.")
    if rtype == "A":
        try:
            ipaddress.IPv4Address(content)
        except ValueError:
            raise bad_request(9005, "Content for A record must be a valid IPv4 address.") from None
    elif rtype == "AAAA":
        try:
            content = str(ipaddress.IPv6Address(content))
        except ValueError:
            raise bad_request(
                9006, "Content for AAAA record must be a valid IPv6 address."
            ) from None
    elif rtype in ("CNAME", "MX", "NS", "PTR"):
        content = content.rstrip(".")
        if not _valid_hostname(content):
            raise bad_request(9007, f"Content for {rtype} record is invalid.")
    elif rtype == "TXT" and len(content) > 2048:
        raise bad_request(9100, "TXT content must be at most 2048 characters.")
    fields: dict[str, Any] = {
        "type": rtype,
        "name": name,
        "content": content,
        "ttl": 1 if proxied else ttl,  # proxied records always use automatic TTL
        "proxied": proxied,
        "proxiable": rtype in PROXIABLE_TYPES,
        "comment": body.get("comment"),
        "tags": list(body.get("tags") or []),
    }
    if rtype == "MX":
        priority = body.get("priority")
        if not isinstance(priority, int | float) or not 0 <= priority <= 65535:
            raise bad_request(9101, "MX records require a priority between 0 and 65535.")
        fields["priority"] = int(priority)
    return fields


def _check_conflicts(
    records: dict[str, dict[str, Any]], fields: dict[str, Any], own_id: str | None
) -> None:
    for record in records.values():
        if record["id"] == own_id or record["name"] != fields["name"]:
            continue
        if record["type"] == fields["type"] and record["content"] == fields["content"]:
            raise bad_request(81058, "An identical record already exists.")
        types = {record["type"], fields["type"]}
        if "CNAME" in types and types <= {"A", "AAAA", "CNAME"}:
            raise bad_request(81053, "An A, AAAA, or CNAME record with that host already exists.")


def _record_view(record: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in record.items() if not (k == "priority" and record["type"] != "MX")}
    if view.get("comment") is None:
        view.pop("comment", None)
    return view


def _name_filter(
    call: Call, records: list[dict[str, Any]], field_name: str
) -> list[dict[str, Any]]:
    plain = call.arg(field_name)
    if plain is not None:
        records = [r for r in records if r[field_name].lower() == plain.lower().rstrip(".")]
    for op in ("exact", "contains", "startswith", "endswith"):
        value = call.arg(f"{field_name}.{op}")
        if value is None:
            continue
        value = value.lower()
        if op == "exact":
            records = [r for r in records if r[field_name].lower() == value.rstrip(".")]
        elif op == "contains":
            records = [r for r in records if value in r[field_name].lower()]
        elif op == "startswith":
            records = [r for r in records if r[field_name].lower().startswith(value)]
        else:
            records = [r for r in records if r[field_name].lower().endswith(value)]
    return records


def list_records(call: Call, zone_id: str) -> Reply:
    get_zone(call, zone_id)
    records = list(call.state.records[zone_id].values())
    rtype = call.arg("type")
    if rtype is not None:
        records = [r for r in records if r["type"] == rtype]
    records = _name_filter(call, records, "name")
    records = _name_filter(call, records, "content")
    proxied = call.bool_arg("proxied")
    if proxied is not None:
        records = [r for r in records if r["proxied"] == proxied]
    records.sort(key=lambda r: (r["name"], r["type"], r["content"]))
    reply = paginate(call, records, default_per_page=100, min_per_page=5, max_per_page=5_000_000)
    reply.result = [_record_view(r) for r in reply.result]
    return reply


def create_record(call: Call, zone_id: str) -> Reply:
    zone = get_zone(call, zone_id)
    fields = _validate_record(zone, call.json())
    records = call.state.records[zone_id]
    _check_conflicts(records, fields, None)
    stamp = now_iso()
    record = {
        "id": new_id(),
        **fields,
        "settings": {},
        "meta": {},
        "created_on": stamp,
        "modified_on": stamp,
    }
    records[record["id"]] = record
    return Reply(result=_record_view(record))


def _get_record(call: Call, zone_id: str, record_id: str) -> dict[str, Any]:
    get_zone(call, zone_id)
    if not _HEX32.match(record_id):
        raise _route_error(call)
    record = call.state.records[zone_id].get(record_id)
    if record is None:
        raise not_found(81044, "Record does not exist.")
    return record


def read_record(call: Call, zone_id: str, record_id: str) -> Reply:
    return Reply(result=_record_view(_get_record(call, zone_id, record_id)))


def _overwrite_record(call: Call, zone_id: str, record_id: str, *, merge: bool) -> Reply:
    record = _get_record(call, zone_id, record_id)
    zone = call.state.zones[zone_id]
    body = call.json()
    if merge:
        current = {
            k: record.get(k)
            for k in ("type", "name", "content", "ttl", "proxied", "comment", "tags", "priority")
        }
        body = {**{k: v for k, v in current.items() if v is not None}, **body}
    fields = _validate_record(zone, body)
    _check_conflicts(call.state.records[zone_id], fields, record_id)
    record.pop("priority", None)
    record.update(fields)
    record["modified_on"] = now_iso()
    return Reply(result=_record_view(record))


def update_record(call: Call, zone_id: str, record_id: str) -> Reply:
    return _overwrite_record(call, zone_id, record_id, merge=False)


def edit_record(call: Call, zone_id: str, record_id: str) -> Reply:
    return _overwrite_record(call, zone_id, record_id, merge=True)


def delete_record(call: Call, zone_id: str, record_id: str) -> Reply:
    _get_record(call, zone_id, record_id)
    del call.state.records[zone_id][record_id]
    return Reply(result={"id": record_id})
