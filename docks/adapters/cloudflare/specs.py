"""Credentials and resource specs, encoding Cloudflare's own rules.

Bad input is refused here, naming the field and the rule, before anything is
queued or sent to Cloudflare.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from docks.adapters.base import CredentialsModel, SpecModel

HEX32 = re.compile(r"^[0-9a-f]{32}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RECORD_LABEL = re.compile(r"^(\*|(?!-)[a-z0-9_-]{1,63}(?<!-))$")
_SCRIPT_NAME = re.compile(r"^[a-z0-9_-]{1,63}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_D1_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

#: Record types this adapter manages (the ones whose value is a plain ``content``).
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "PTR")
PROXIABLE_TYPES = frozenset({"A", "AAAA", "CNAME"})
HOSTNAME_CONTENT_TYPES = frozenset({"CNAME", "MX", "NS", "PTR"})
#: A fixed, known-good Workers compatibility date (never "today": specs must be stable).
DEFAULT_COMPATIBILITY_DATE = "2025-09-01"
MAX_SCRIPT_BYTES = 1024 * 1024
LOCATION_HINTS = ("apac", "eeur", "enam", "weur", "wnam", "oc")
LocationHint = Literal["apac", "eeur", "enam", "weur", "wnam", "oc"]


# --- shared rules -------------------------------------------------------------
def check_domain_name(value: str) -> str:
    """A registrable DNS domain name as Cloudflare accepts for a zone."""
    if value != value.lower():
        raise ValueError("must be lowercase")
    if value.endswith("."):
        raise ValueError("must not end with a dot")
    if len(value) > 253:
        raise ValueError("must be at most 253 characters")
    labels = value.split(".")
    if len(labels) < 2:
        raise ValueError("must be a domain with at least two labels, e.g. example.com")
    for label in labels:
        if not _DOMAIN_LABEL.match(label):
            raise ValueError(
                f"label {label!r} must be 1-63 characters of a-z, 0-9 and '-', "
                "not starting or ending with '-'"
            )
    if labels[-1].isdigit():
        raise ValueError("the top-level label must not be all digits")
    return value


def _check_hostname(value: str, *, allow_underscore: bool = True) -> str:
    host = value.rstrip(".")
    if not host or len(host) > 253:
        raise ValueError("must be a hostname of at most 253 characters")
    for label in host.lower().split("."):
        if not _RECORD_LABEL.match(label) or (not allow_underscore and "_" in label):
            raise ValueError(f"label {label!r} is not a valid DNS label")
    return value


# --- credentials ----------------------------------------------------------------
class CloudflareCredentials(CredentialsModel):
    """An API token (never a Global API Key) scoped to one account."""

    api_token: SecretStr = Field(
        min_length=1,
        description="Cloudflare API token (My Profile → API Tokens, or an account-owned token)",
        json_schema_extra={"secret": True},
    )
    account_id: str = Field(
        description="The 32-character hex account ID (dashboard sidebar → Account ID)",
    )

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str) -> str:
        if not HEX32.match(value):
            raise ValueError("must be the 32-character lowercase hex account ID")
        return value


# --- zone ---------------------------------------------------------------------------
class ZoneSpec(SpecModel):
    """A domain added to Cloudflare (a zone)."""

    name: str = Field(description="The domain, e.g. example.com (lowercase)")
    type: Literal["full", "partial"] = Field(
        default="full",
        description="full: Cloudflare hosts the DNS; partial: CNAME setup (Business plans and up)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_domain_name(value)


# --- DNS record ---------------------------------------------------------------------
class DnsRecordSpec(SpecModel):
    """One DNS record in a zone."""

    zone: str = Field(description="The zone's 32-hex id or its domain name")
    type: Literal["A", "AAAA", "CNAME", "TXT", "MX", "NS", "PTR"]
    name: str = Field(description="'@' for the apex, a name relative to the zone, or a full name")
    content: str = Field(description="Record value: IPv4 for A, IPv6 for AAAA, a host for CNAME…")
    ttl: int = Field(default=1, description="Seconds, 60-86400, or 1 for automatic")
    proxied: bool = Field(default=False, description="Proxy through Cloudflare (A/AAAA/CNAME)")
    priority: int | None = Field(
        default=None, validate_default=True, description="MX preference, 0-65535 (MX only)"
    )

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if HEX32.match(value):
            return value
        try:
            return check_domain_name(value)
        except ValueError as exc:
            raise ValueError(f"must be a 32-hex zone id or a zone name: {exc}") from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == "@":
            return value
        if value != value.lower():
            raise ValueError("must be lowercase")
        return _check_hostname(value)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str, info: ValidationInfo) -> str:
        record_type = info.data.get("type")
        if not value:
            raise ValueError("must not be empty")
        if record_type == "A":
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                raise ValueError("an A record's content must be an IPv4 address") from None
        elif record_type == "AAAA":
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                raise ValueError("an AAAA record's content must be an IPv6 address") from None
        elif record_type in HOSTNAME_CONTENT_TYPES:
            try:
                _check_hostname(value)
            except ValueError as exc:
                raise ValueError(
                    f"a {record_type} record's content must be a hostname: {exc}"
                ) from None
        elif record_type == "TXT" and len(value) > 2048:
            raise ValueError("a TXT record's content must be at most 2048 characters")
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: int) -> int:
        if value != 1 and not 60 <= value <= 86400:
            raise ValueError("must be 1 (automatic) or between 60 and 86400 seconds")
        return value

    @field_validator("proxied")
    @classmethod
    def _proxied(cls, value: bool, info: ValidationInfo) -> bool:
        record_type = info.data.get("type")
        if value and record_type is not None and record_type not in PROXIABLE_TYPES:
            raise ValueError(f"only A, AAAA and CNAME records can be proxied, not {record_type}")
        if value and info.data.get("ttl", 1) != 1:
            raise ValueError("proxied records always use automatic TTL: set ttl to 1")
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: int | None, info: ValidationInfo) -> int | None:
        record_type = info.data.get("type")
        if record_type == "MX":
            if value is None:
                raise ValueError("is required for MX records")
            if not 0 <= value <= 65535:
                raise ValueError("must be between 0 and 65535")
        elif value is not None:
            raise ValueError("is only allowed for MX records")
        return value


# --- worker ---------------------------------------------------------------------------
class WorkerSpec(SpecModel):
    """A Workers script (one ES module), served on the account's workers.dev subdomain."""

    name: str = Field(description="Script name: lowercase a-z, 0-9, '-' and '_', at most 63")
    script: str = Field(
        description="ES module source (export default { fetch … }), at most 1 MiB",
        # forms render a textarea; the CLI reads the value from a file path
        json_schema_extra={"x-stackdock-file": True},
    )
    compatibility_date: str = Field(
        default=DEFAULT_COMPATIBILITY_DATE, description="Workers runtime date, YYYY-MM-DD"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SCRIPT_NAME.match(value):
            raise ValueError("must be 1-63 characters of lowercase a-z, 0-9, '-' and '_'")
        if value.startswith("-") or value.endswith("-"):
            raise ValueError("must not start or end with '-'")
        return value

    @field_validator("script")
    @classmethod
    def _script(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        size = len(value.encode("utf-8"))
        if size > MAX_SCRIPT_BYTES:
            raise ValueError(f"must be at most 1 MiB (1048576 bytes), got {size} bytes")
        return value

    @field_validator("compatibility_date")
    @classmethod
    def _compatibility_date(cls, value: str) -> str:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("must be a date written YYYY-MM-DD")
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a real calendar date (YYYY-MM-DD)") from None
        if parsed > (datetime.now(UTC) + timedelta(days=1)).date():
            raise ValueError("must not be in the future")
        return value


# --- R2 bucket -----------------------------------------------------------------------
class R2BucketSpec(SpecModel):
    """An R2 bucket."""

    name: str = Field(description="3-63 characters: lowercase a-z, 0-9 and '-'")
    location_hint: LocationHint | None = Field(
        default=None, description="Where to place the bucket: apac, eeur, enam, weur, wnam, oc"
    )
    storage_class: Literal["Standard", "InfrequentAccess"] | None = Field(
        default=None, description="Default storage class for new objects"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 3 <= len(value) <= 63:
            raise ValueError("must be 3-63 characters long")
        if not _BUCKET_NAME.match(value):
            raise ValueError(
                "must contain only lowercase a-z, 0-9 and '-', and start and end with a letter or digit"
            )
        return value


# --- D1 database ---------------------------------------------------------------------
class D1DatabaseSpec(SpecModel):
    """A D1 (serverless SQLite) database."""

    name: str = Field(description="1-64 characters: letters, digits, '-' and '_'")
    primary_location_hint: LocationHint | None = Field(
        default=None, description="Region for the primary: wnam, enam, weur, eeur, apac, oc"
    )
    read_replication: Literal["auto", "disabled"] | None = Field(
        default=None, description="Read replicas: auto, or disabled"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _D1_NAME.match(value):
            raise ValueError(
                "must be 1-64 characters of letters, digits, '-' and '_', starting with a letter or digit"
            )
        return value
