"""Cloudflare's rules, refused in the spec models before anything is queued (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from docks.adapters.base import UNIVERSAL_TABLES
from docks.adapters.cloudflare import (
    RESOURCE_TYPES,
    CloudflareAdapter,
    CloudflareCredentials,
    D1DatabaseSpec,
    DnsRecordSpec,
    R2BucketSpec,
    WorkerSpec,
    ZoneSpec,
)
from docks.adapters.cloudflare.specs import DEFAULT_COMPATIBILITY_DATE

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOMORROW_PLUS = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()


def _refusal(model: type, data: dict) -> tuple[str, str]:
    """(field, message) of the single error the model raises."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return ".".join(str(p) for p in errors[0]["loc"]), errors[0]["msg"]


A_RECORD = {"zone": "example.com", "type": "A", "name": "www", "content": "192.0.2.1"}


@pytest.mark.parametrize(
    ("model", "data", "field", "rule"),
    [
        (ZoneSpec, {"name": "Example.com"}, "name", "lowercase"),
        (ZoneSpec, {"name": "localhost"}, "name", "at least two labels"),
        (ZoneSpec, {"name": "a" * 64 + ".com"}, "name", "1-63 characters"),
        (ZoneSpec, {"name": ".".join(["abcdefghi"] * 26) + ".com"}, "name", "at most 253"),
        (ZoneSpec, {"name": "-bad.com"}, "name", "not starting or ending with '-'"),
        (ZoneSpec, {"name": "example.com", "type": "secondary"}, "type", "'full' or 'partial'"),
        (DnsRecordSpec, {**A_RECORD, "content": "192.0.2"}, "content", "IPv4"),
        (DnsRecordSpec, {**A_RECORD, "type": "AAAA"}, "content", "IPv6"),
        (
            DnsRecordSpec,
            {**A_RECORD, "type": "CNAME", "content": "bad host!"},
            "content",
            "hostname",
        ),
        (DnsRecordSpec, {**A_RECORD, "ttl": 30}, "ttl", "between 60 and 86400"),
        (DnsRecordSpec, {**A_RECORD, "ttl": 86401}, "ttl", "between 60 and 86400"),
        (
            DnsRecordSpec,
            {**A_RECORD, "type": "TXT", "content": "x", "proxied": True},
            "proxied",
            "only A, AAAA and CNAME",
        ),
        (DnsRecordSpec, {**A_RECORD, "ttl": 300, "proxied": True}, "proxied", "automatic TTL"),
        (
            DnsRecordSpec,
            {**A_RECORD, "type": "MX", "content": "mx.example.com"},
            "priority",
            "required for MX",
        ),
        (DnsRecordSpec, {**A_RECORD, "priority": 5}, "priority", "only allowed for MX"),
        (DnsRecordSpec, {**A_RECORD, "type": "SRV"}, "type", "'A'"),
        (
            DnsRecordSpec,
            {**A_RECORD, "zone": "not a zone"},
            "zone",
            "32-hex zone id or a zone name",
        ),
        (DnsRecordSpec, {**A_RECORD, "name": "WWW"}, "name", "lowercase"),
        (DnsRecordSpec, {**A_RECORD, "type": "TXT", "content": "x" * 2049}, "content", "2048"),
        (WorkerSpec, {"name": "My-Worker", "script": "x"}, "name", "lowercase a-z"),
        (WorkerSpec, {"name": "w" * 64, "script": "x"}, "name", "1-63"),
        (WorkerSpec, {"name": "-worker", "script": "x"}, "name", "start or end with '-'"),
        (WorkerSpec, {"name": "w", "script": "x" * (1024 * 1024 + 1)}, "script", "at most 1 MiB"),
        (
            WorkerSpec,
            {"name": "w", "script": "x", "compatibility_date": "2025/01/01"},
            "compatibility_date",
            "YYYY-MM-DD",
        ),
        (
            WorkerSpec,
            {"name": "w", "script": "x", "compatibility_date": "2025-02-30"},
            "compatibility_date",
            "real calendar date",
        ),
        (
            WorkerSpec,
            {"name": "w", "script": "x", "compatibility_date": TOMORROW_PLUS},
            "compatibility_date",
            "future",
        ),
        (WorkerSpec, {"name": "w"}, "script", "required"),
        (R2BucketSpec, {"name": "ab"}, "name", "3-63"),
        (R2BucketSpec, {"name": "b" * 64}, "name", "3-63"),
        (R2BucketSpec, {"name": "Media"}, "name", "lowercase"),
        (R2BucketSpec, {"name": "media_assets"}, "name", "lowercase a-z, 0-9 and '-'"),
        (R2BucketSpec, {"name": "-media"}, "name", "start and end with a letter or digit"),
        (R2BucketSpec, {"name": "media", "location_hint": "mars"}, "location_hint", "'apac'"),
        (D1DatabaseSpec, {"name": "my db"}, "name", "letters, digits"),
        (
            D1DatabaseSpec,
            {"name": "db", "read_replication": "sometimes"},
            "read_replication",
            "'auto'",
        ),
        (
            ZoneSpec,
            {"name": "example.com", "plan": "pro"},
            "plan",
            "Extra inputs are not permitted",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_field_and_the_rule(model, data, field, rule):
    where, message = _refusal(model, data)

    assert where == field
    assert rule in message


def test_good_specs_get_cloudflares_defaults():
    assert ZoneSpec(name="example.com").type == "full"
    record = DnsRecordSpec.model_validate({**A_RECORD, "proxied": True})
    assert (record.ttl, record.proxied) == (1, True)
    assert (
        WorkerSpec(name="hello_world-2", script="x").compatibility_date
        == DEFAULT_COMPATIBILITY_DATE
    )
    assert R2BucketSpec(name="a-1").location_hint is None
    assert D1DatabaseSpec(name="App_DB-1").read_replication is None


@pytest.mark.parametrize(
    "data",
    [
        {**A_RECORD, "name": "@"},
        {**A_RECORD, "name": "*.example.com"},
        {**A_RECORD, "zone": "0123456789abcdef0123456789abcdef"},
        {**A_RECORD, "type": "TXT", "name": "_dmarc", "content": "v=DMARC1; p=none"},
        {**A_RECORD, "type": "MX", "content": "mx.example.com", "priority": 0},
        {**A_RECORD, "type": "AAAA", "content": "2001:db8::1", "ttl": 86400},
        {**A_RECORD, "type": "CNAME", "content": "target.example.net.", "proxied": True},
    ],
)
def test_valid_dns_records_are_accepted(data):
    assert DnsRecordSpec.model_validate(data).type == data["type"]


def test_credentials_mark_the_token_secret_and_never_show_it():
    creds = CloudflareCredentials(api_token="very-secret-token", account_id=ACCOUNT)

    assert CloudflareCredentials.secret_fields() == frozenset({"api_token"})
    assert "very-secret-token" not in repr(creds)
    assert "very-secret-token" not in str(creds.model_dump())


def test_credentials_need_a_32_hex_account_id():
    where, message = _refusal(CloudflareCredentials, {"api_token": "t", "account_id": "ACCOUNT"})

    assert where == "account_id"
    assert "32-character" in message


def test_resource_types_fill_the_universal_tables_the_design_names():
    tables = {name: rt.table for name, rt in RESOURCE_TYPES.items()}

    assert tables == {
        "zone": "domains",
        "dns-record": None,
        "worker": "web-services",
        "r2-bucket": "buckets",
        "d1-database": "databases",
    }
    assert all(t is None or t in UNIVERSAL_TABLES for t in tables.values())
    assert RESOURCE_TYPES["dns-record"].replace_fields == {"zone", "type"}
    assert RESOURCE_TYPES["r2-bucket"].replace_fields == {"name", "location_hint"}
    assert RESOURCE_TYPES["zone"].outputs == ("id", "name", "name_servers", "status")
    assert CloudflareAdapter.provider == "cloudflare"
    assert CloudflareAdapter.label == "Cloudflare"
    assert CloudflareAdapter.resource_types is RESOURCE_TYPES
