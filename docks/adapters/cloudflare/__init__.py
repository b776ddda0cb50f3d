"""The Cloudflare provider: zones, DNS records, Workers, R2 buckets, D1 databases."""

from __future__ import annotations

from .adapter import RESOURCE_TYPES, CloudflareAdapter
from .specs import (
    CloudflareCredentials,
    D1DatabaseSpec,
    DnsRecordSpec,
    R2BucketSpec,
    WorkerSpec,
    ZoneSpec,
)

__all__ = [
    "RESOURCE_TYPES",
    "CloudflareAdapter",
    "CloudflareCredentials",
    "D1DatabaseSpec",
    "DnsRecordSpec",
    "R2BucketSpec",
    "WorkerSpec",
    "ZoneSpec",
]
