"""AWS regions and partitions, read from botocore's own bundled data.

Using botocore's ``partitions.json`` keeps the list current with the SDK
version instead of a hand-kept copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import botocore.session

#: Shape of every AWS region name (``us-east-1``, ``us-gov-west-1``, ``eusc-de-east-1``).
REGION_PATTERN = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")


@dataclass(frozen=True)
class Partition:
    """An AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``...)."""

    id: str
    dns_suffix: str
    regions: frozenset[str]


@lru_cache(maxsize=1)
def partitions() -> tuple[Partition, ...]:
    """Every partition botocore knows, with its regions."""
    data = botocore.session.get_session().get_data("partitions")
    out = []
    for part in data["partitions"]:
        regions = frozenset(name for name in part["regions"] if not name.endswith("-global"))
        out.append(
            Partition(id=part["id"], dns_suffix=part["outputs"]["dnsSuffix"], regions=regions)
        )
    return tuple(out)


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region name of every partition."""
    return frozenset().union(*(p.regions for p in partitions()))


def partition_for(region: str) -> Partition:
    """The partition a region belongs to (``aws`` when unknown)."""
    for part in partitions():
        if region in part.regions:
            return part
    return next(p for p in partitions() if p.id == "aws")


def check_region(value: str) -> str:
    """Return ``value`` if it names a known AWS region, else raise ValueError."""
    region = value.strip().lower()
    if not REGION_PATTERN.match(region):
        raise ValueError(f"{value!r} is not an AWS region name (like 'us-east-1')")
    if region not in known_regions():
        raise ValueError(f"unknown AWS region {value!r}")
    return region
