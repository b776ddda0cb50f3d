"""Make AWS describe output safe to store as ``full_api_data``.

JSON-safe (datetimes become ISO strings, Decimals numbers, bytes dropped) and
without any key that looks like it holds a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: Keys whose values may be secret (passwords, tokens, keys, credentials).
SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|credential|private.?key|keymaterial", re.IGNORECASE
)

#: Keys that match SECRET_KEY but only point at a secret (an ARN, a status).
SAFE_KEYS = frozenset({"MasterUserSecret", "SecretArn", "SecretStatus"})

#: Keys that are transport noise, not resource data.
NOISE_KEYS = frozenset({"ResponseMetadata"})


def looks_secret(key: str) -> bool:
    """True for a key that may hold a secret value."""
    return key not in SAFE_KEYS and bool(SECRET_KEY.search(key))


def api_data(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with secret-looking keys removed."""
    if isinstance(value, Mapping):
        return {
            str(k): api_data(v)
            for k, v in value.items()
            if str(k) not in NOISE_KEYS and not looks_secret(str(k))
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [api_data(v) for v in value if not isinstance(v, bytes | bytearray)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def tags_to_dict(tags: list[Mapping[str, str]] | None) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` (EC2/S3/RDS style) to ``{k: v}``."""
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def dict_to_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{k: v}`` to ``[{"Key": k, "Value": v}]``, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
