"""``r2-bucket``: an R2 bucket (fills the ``buckets`` table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudflare

from docks.adapters.base import AlreadyExists, ResourceResult, SpecModel

from .context import Handler, api_dict, gone
from .errors import error_codes
from .specs import R2BucketSpec

#: "The bucket you tried to create already exists, and you own it."
BUCKET_EXISTS = 10004
#: R2 pages with an opaque cursor; 1000 is the largest page it serves
PAGE_SIZE = 1000


def r2_endpoint(account_id: str, name: str) -> str:
    return f"https://{account_id}.r2.cloudflarestorage.com/{name}"


def bucket_result(account_id: str, bucket: Any) -> ResourceResult:
    endpoint = r2_endpoint(account_id, bucket.name)
    return ResourceResult(
        provider_resource_id=bucket.name,
        outputs={"id": bucket.name, "name": bucket.name, "endpoint": endpoint},
        universal={
            "name": bucket.name,
            "status": "active",
            "region": bucket.location,
            "endpoint": endpoint,
        },
        full_api_data=api_dict(bucket),
    )


class R2BucketHandler(Handler):
    def _get(self, name: str) -> Any | None:
        try:
            return self.client.r2.buckets.get(name, account_id=self.account_id)
        except cloudflare.NotFoundError:
            return None

    def _reconcile(self, bucket: Any, spec: R2BucketSpec) -> Any:
        if spec.storage_class and bucket.storage_class != spec.storage_class:
            bucket = self.client.r2.buckets.edit(
                spec.name, account_id=self.account_id, storage_class=spec.storage_class
            )
        return bucket

    def create(self, spec: R2BucketSpec) -> ResourceResult:
        if self._get(spec.name) is not None:
            raise AlreadyExists(f"R2 bucket {spec.name!r}")
        options: dict[str, Any] = {}
        if spec.location_hint:
            options["location_hint"] = spec.location_hint
        if spec.storage_class:
            options["storage_class"] = spec.storage_class
        try:
            bucket = self.client.r2.buckets.create(
                account_id=self.account_id, name=spec.name, **options
            )
        except (cloudflare.ConflictError, cloudflare.BadRequestError) as exc:
            if BUCKET_EXISTS in error_codes(exc):
                raise AlreadyExists(f"R2 bucket {spec.name!r}") from None
            raise
        return bucket_result(self.account_id, self._reconcile(bucket, spec))

    def find(self, spec: R2BucketSpec) -> ResourceResult | None:
        bucket = self._get(spec.name)
        return bucket_result(self.account_id, bucket) if bucket is not None else None

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        bucket = self._get(provider_resource_id)
        return bucket_result(self.account_id, bucket) if bucket is not None else None

    def update(
        self, provider_resource_id: str, old: R2BucketSpec, new: R2BucketSpec
    ) -> ResourceResult:
        bucket = self._get(provider_resource_id)
        if bucket is None:
            raise gone("R2 bucket", provider_resource_id)
        return bucket_result(self.account_id, self._reconcile(bucket, new))

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        try:
            self.client.r2.buckets.delete(provider_resource_id, account_id=self.account_id)
        except cloudflare.NotFoundError:
            return

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        described = result.full_api_data
        return {
            "name": result.outputs["name"],
            "location_hint": described.get("location"),
            "storage_class": described.get("storage_class"),
        }

    def sync(self) -> Iterator[ResourceResult]:
        # The SDK returns only ``result``; the cursor is in ``result_info``, so read
        # the raw response for it.
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            options: dict[str, Any] = {"account_id": self.account_id, "per_page": PAGE_SIZE}
            if cursor:
                options["cursor"] = cursor
            raw = self.client.r2.buckets.with_raw_response.list(**options)
            buckets = raw.parse().buckets or []
            for bucket in buckets:
                yield bucket_result(self.account_id, bucket)
            body = raw.http_response.json()
            info = body.get("result_info") if isinstance(body, dict) else None
            cursor = (info or {}).get("cursor") or None
            if not buckets or cursor is None or cursor in seen:
                return
            seen.add(cursor)
