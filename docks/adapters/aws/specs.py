"""Spec models for the AWS resource types.

Each model encodes AWS's own naming and value rules, so bad input is refused
(with the field and the rule) before anything is queued. AWS still has the
final word: rules that depend on the account (quotas, offered instance types,
engine versions) are left to it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from docks.adapters.base import SpecModel

from .credentials import Region

# --- tags -------------------------------------------------------------------

#: AWS allows 50 tags per resource; StackDock keeps two for itself (Name, token).
MAX_USER_TAGS = 48
TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$")
RESERVED_TAG_PREFIXES = ("aws:", "stackdock:")


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """AWS tag rules: at most 48 user tags, keys 1-128 chars, values 0-256, no reserved prefix."""
    if len(tags) > MAX_USER_TAGS:
        raise ValueError(f"at most {MAX_USER_TAGS} tags (AWS allows 50, StackDock uses 2)")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise ValueError(f"tag key {key!r} must be 1 to 128 characters long")
        if len(value) > 256:
            raise ValueError(f"value of tag {key!r} must be at most 256 characters long")
        if key.lower().startswith(RESERVED_TAG_PREFIXES):
            raise ValueError(f"tag key {key!r} uses a reserved prefix (aws: or stackdock:)")
        if not TAG_CHARS.match(key) or not TAG_CHARS.match(value):
            raise ValueError(
                f"tag {key!r} may contain only letters, digits, spaces and _ . : / = + - @"
            )
    return tags


Tags = Annotated[dict[str, str], AfterValidator(check_tags)]

# --- DNS names ----------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LABEL_UNDERSCORE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalize_dns_name(value: str) -> str:
    """Lowercase, without the trailing dot."""
    return value.strip().lower().rstrip(".")


def check_dns_name(
    value: str, *, min_labels: int = 1, underscores: bool = False, wildcard: bool = False
) -> str:
    """Validate a DNS name (labels 1-63 chars, whole name at most 253); return it normalized."""
    name = normalize_dns_name(value)
    if not name:
        raise ValueError("must not be empty")
    if len(name) > 253:
        raise ValueError("must be at most 253 characters long")
    labels = name.split(".")
    if len(labels) < min_labels:
        raise ValueError(f"must have at least {min_labels} labels (like 'example.com')")
    pattern = _LABEL_UNDERSCORE if underscores else _LABEL
    for index, label in enumerate(labels):
        if wildcard and index == 0 and label == "*":
            continue
        if not pattern.match(label):
            allowed = "letters, digits, hyphens" + (" and underscores" if underscores else "")
            raise ValueError(
                f"label {label!r} must be 1-63 characters of {allowed}, "
                "not starting or ending with a hyphen"
            )
    return name


def _zone_name(value: str) -> str:
    return check_dns_name(value, min_labels=2)


def _hostname(value: str) -> str:
    return check_dns_name(value, underscores=True)


# --- S3 -----------------------------------------------------------------------

_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IP_LIKE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(value: str) -> str:
    """S3 general purpose bucket naming rules."""
    if not 3 <= len(value) <= 63:
        raise ValueError("must be 3 to 63 characters long")
    if not _BUCKET_CHARS.match(value):
        raise ValueError("may contain only lowercase letters, digits, hyphens and dots")
    if not (value[0].isalnum() and value[-1].isalnum()):
        raise ValueError("must start and end with a letter or digit")
    if ".." in value:
        raise ValueError("must not contain two adjacent dots")
    if _IP_LIKE.match(value):
        raise ValueError("must not be formatted as an IP address")
    if value.startswith(_BUCKET_BAD_PREFIXES):
        raise ValueError(f"must not start with {' or '.join(_BUCKET_BAD_PREFIXES)}")
    if value.endswith(_BUCKET_BAD_SUFFIXES):
        raise ValueError(f"must not end with {' or '.join(_BUCKET_BAD_SUFFIXES)}")
    return value


class S3BucketSpec(SpecModel):
    """An S3 general purpose bucket."""

    name: Annotated[str, AfterValidator(check_bucket_name)] = Field(
        description="Globally unique bucket name (3-63 lowercase letters, digits, - and .)."
    )
    region: Region | None = Field(default=None, description="Region; default: the dock's.")
    versioning: bool = Field(default=False, description="Keep every version of every object.")
    tags: Tags = Field(default_factory=dict, description="Tags (key to value).")


# --- EC2 ----------------------------------------------------------------------


class Ec2InstanceSpec(SpecModel):
    """One EC2 instance in the region's default VPC."""

    name: str = Field(min_length=1, max_length=256, description="Name tag.")
    image_id: str = Field(pattern=r"^ami-[0-9a-f]{8,17}$", description="AMI id, ami-...")
    instance_type: str = Field(
        max_length=64,
        pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$",
        description="Instance type, family.size (e.g. t3.micro).",
    )
    region: Region | None = Field(default=None, description="Region; default: the dock's.")
    tags: Tags = Field(default_factory=dict, description="Tags besides Name.")

    @field_validator("tags")
    @classmethod
    def _name_is_its_own_field(cls, tags: dict[str, str]) -> dict[str, str]:
        if "Name" in tags:
            raise ValueError("set the Name tag through the 'name' field")
        return tags


# --- RDS ----------------------------------------------------------------------

_DB_IDENTIFIER = re.compile(r"^[a-zA-Z](-?[a-zA-Z0-9])*$")
#: Per engine: longest master user name AWS accepts.
MASTER_USERNAME_MAX = {"postgres": 63, "mysql": 16, "mariadb": 16}
#: Names AWS or the engines keep for themselves (not exhaustive; AWS has the last word).
RESERVED_USERNAMES = frozenset(
    {"rdsadmin", "rdsrepladmin", "rds_superuser", "rdstopmgr", "rdsproxyadmin"}
    | {"all", "and", "as", "by", "create", "drop", "from", "grant", "group", "in", "insert"}
    | {"not", "null", "or", "order", "public", "select", "table", "to", "user", "where"}
)


class RdsInstanceSpec(SpecModel):
    """An RDS DB instance. The master password is generated and kept by AWS (Secrets Manager)."""

    name: str = Field(
        json_schema_extra={"pattern": _DB_IDENTIFIER.pattern, "minLength": 1, "maxLength": 63},
        description=(
            "DB instance identifier: 1-63 letters, digits and hyphens; starts with a letter; "
            "no '--'; doesn't end with a hyphen."
        ),
    )
    engine: Literal["postgres", "mysql", "mariadb"] = Field(description="Database engine.")
    engine_version: str | None = Field(
        default=None,
        pattern=r"^\d+(\.\d+){0,3}$",
        description="Engine version (e.g. 16.3); default: AWS's default for the engine.",
    )
    instance_class: str = Field(
        max_length=64,
        pattern=r"^db\.[a-z0-9-]+\.[a-z0-9-]+$",
        description="Instance class, db.family.size (e.g. db.t3.micro).",
    )
    allocated_storage: int = Field(ge=20, le=65536, description="Storage in GiB (20-65536).")
    master_username: str = Field(
        min_length=1, max_length=63, description="Master user name (the password stays at AWS)."
    )
    region: Region | None = Field(default=None, description="Region; default: the dock's.")

    @field_validator("name")
    @classmethod
    def _identifier_rules(cls, value: str) -> str:
        if not 1 <= len(value) <= 63:
            raise ValueError("must be 1 to 63 characters long")
        if not value[0].isascii() or not value[0].isalpha():
            raise ValueError("must start with a letter")
        if "--" in value:
            raise ValueError("must not contain two consecutive hyphens")
        if value.endswith("-"):
            raise ValueError("must not end with a hyphen")
        if not _DB_IDENTIFIER.match(value):
            raise ValueError("may contain only letters, digits and hyphens")
        return value.lower()  # AWS stores identifiers in lowercase

    @field_validator("master_username")
    @classmethod
    def _username_rules(cls, value: str, info: ValidationInfo) -> str:
        engine = info.data.get("engine")
        longest = MASTER_USERNAME_MAX.get(str(engine), 16)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise ValueError("must start with a letter and hold only letters, digits and _")
        if len(value) > longest:
            raise ValueError(f"must be at most {longest} characters for {engine}")
        if value.lower() in RESERVED_USERNAMES:
            raise ValueError(f"{value!r} is a reserved word")
        return value


# --- Route 53 -----------------------------------------------------------------


class Route53ZoneSpec(SpecModel):
    """A public Route 53 hosted zone."""

    name: Annotated[str, AfterValidator(_zone_name)] = Field(
        max_length=254, description="Domain name, e.g. example.com."
    )


RecordType = Literal["A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SPF", "SRV", "TXT"]
_ZONE_ID = re.compile(r"^(/hostedzone/)?([A-Z0-9]{1,32})$")
_MX = re.compile(r"^(\d{1,5})\s+(\S+)$")
_SRV = re.compile(r"^(\d{1,5})\s+(\d{1,5})\s+(\d{1,5})\s+(\S+)$")
_CAA = re.compile(
    r'^(\d{1,3})\s+(issue|issuewild|iodef|issuemail|issuevmc|contactemail|contactphone)\s+"[^"]*"$'
)
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
#: Route 53's limit for one value.
MAX_VALUE_LEN = 4000


def _check_port_like(value: str, *numbers: str) -> None:
    for number in numbers:
        if int(number) > 65535:
            raise ValueError(f"{value!r}: {number} is above 65535")


def check_record_value(record_type: str, value: str) -> str:
    """Validate one value of a record of ``record_type``."""
    if not value or len(value) > MAX_VALUE_LEN:
        raise ValueError(f"values must be 1 to {MAX_VALUE_LEN} characters long")
    try:
        if record_type == "A":
            return str(ipaddress.IPv4Address(value))
        if record_type == "AAAA":
            return str(ipaddress.IPv6Address(value))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IPv{4 if record_type == 'A' else 6} address"
        ) from None
    if record_type in ("CNAME", "NS", "PTR"):
        _hostname(value)
        return value
    if record_type == "MX":
        match = _MX.match(value)
        if not match:
            raise ValueError(
                f"{value!r}: an MX value is 'priority host', e.g. '10 mail.example.com'"
            )
        _check_port_like(value, match[1])
        _hostname(match[2])
        return value
    if record_type == "SRV":
        match = _SRV.match(value)
        if not match:
            raise ValueError(f"{value!r}: an SRV value is 'priority weight port target'")
        _check_port_like(value, match[1], match[2], match[3])
        if match[4] != ".":
            _hostname(match[4])
        return value
    if record_type == "CAA":
        match = _CAA.match(value)
        if not match or int(match[1]) > 255:
            raise ValueError(
                f"{value!r}: a CAA value is 'flags tag \"value\"', e.g. '0 issue \"amazon.com\"'"
            )
        return value
    # TXT and SPF: any printable ASCII text; quoting is the adapter's job.
    if not _PRINTABLE.match(value):
        raise ValueError("TXT values may hold only printable ASCII characters")
    return value


class Route53RecordSpec(SpecModel):
    """A record set in a Route 53 hosted zone (simple routing, no alias)."""

    zone: str = Field(
        min_length=1, max_length=254, description="Hosted zone id (Z...) or its domain name."
    )
    name: str = Field(
        min_length=1,
        max_length=254,
        description="Record name: '@' for the apex, a name relative to the zone, or a full name.",
    )
    type: RecordType = Field(description="Record type.")
    values: list[str] = Field(min_length=1, description="Record values (at least one).")
    ttl: int = Field(default=300, ge=0, le=2147483647, description="Time to live, seconds.")

    @field_validator("zone")
    @classmethod
    def _zone_id_or_name(cls, value: str) -> str:
        if "." in value:
            return _zone_name(value)
        match = _ZONE_ID.match(value.strip())
        if not match:
            raise ValueError("must be a hosted zone id (like Z0123456789ABC) or a domain name")
        return match[2]

    @field_validator("name")
    @classmethod
    def _record_name(cls, value: str) -> str:
        if value.strip() == "@":
            return "@"
        return check_dns_name(value, underscores=True, wildcard=True)

    @field_validator("values")
    @classmethod
    def _values_fit_type(cls, values: list[str], info: ValidationInfo) -> list[str]:
        record_type = info.data.get("type")
        if record_type is None:  # the type itself was invalid; that error is reported
            return values
        if record_type == "CNAME" and len(values) != 1:
            raise ValueError("a CNAME record has exactly one value")
        checked = [check_record_value(record_type, v) for v in values]
        if len(set(checked)) != len(checked):
            raise ValueError("values must not repeat")
        return checked
