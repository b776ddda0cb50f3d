"""``s3-bucket``: S3 general purpose buckets (universal table ``buckets``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from docks.adapters.base import (
    AlreadyExists,
    ResourceResult,
    ResourceType,
    SyncedResource,
)

from ..apidata import api_data, dict_to_tags, tags_to_dict
from ..errors import error_code, is_not_found
from ..regions import partition_for
from ..specs import S3BucketSpec
from .base import ResourceHandler, user_tags

#: get_bucket_location's answers that are not region names.
_LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


class S3BucketHandler(ResourceHandler):
    resource_type = ResourceType(
        name="s3-bucket",
        key_fields=("name",),
        table="buckets",
        spec_model=S3BucketSpec,
        replace_fields=frozenset({"name", "region"}),
        outputs=("id", "name", "arn", "region", "endpoint", "versioning"),
        description="S3 bucket. Versioning and tags change in place.",
    )

    # --- lifecycle ------------------------------------------------------------
    def create(self, spec: S3BucketSpec, token: str) -> ResourceResult:
        region = self.region_of(spec)
        s3 = self.clients.client("s3", region)
        params: dict[str, Any] = {"Bucket": spec.name}
        if region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        # us-east-1 answers 200 to creating a bucket this account already owns, so
        # look first: an existing bucket is never taken over by a create.
        if self.find(spec, token) is not None:
            raise AlreadyExists(f"bucket {spec.name!r}", code="BucketAlreadyOwnedByYou")
        try:
            s3.create_bucket(**params)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyOwnedByYou":
                raise AlreadyExists(
                    f"bucket {spec.name!r}", code="BucketAlreadyOwnedByYou"
                ) from None
            raise
        status = s3.get_bucket_versioning(Bucket=spec.name).get("Status")
        current = None if status is None else status == "Enabled"
        self._apply_versioning(spec.name, region, spec.versioning, currently=current)
        self._apply_tags(spec.name, region, spec.tags)
        return self._result(spec.name, region)

    def find(self, spec: S3BucketSpec, token: str) -> ResourceResult | None:
        """The bucket, if this account owns it.

        Bucket names are global, so a name alone may be another account's:
        look in the account's own list.
        """
        listed = self.clients.client("s3").list_buckets(Prefix=spec.name)
        for bucket in listed.get("Buckets", []):
            if bucket["Name"] == spec.name:
                return self.read(spec.name, spec)
        return None

    def read(self, provider_id: str, spec: S3BucketSpec | None) -> ResourceResult | None:
        try:
            region = self._region(provider_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return self._result(provider_id, region)

    def update(self, provider_id: str, old: S3BucketSpec, new: S3BucketSpec) -> ResourceResult:
        self.refuse_replacement_change(old, new)
        region = self._region(provider_id)
        self._apply_versioning(provider_id, region, new.versioning, currently=old.versioning)
        if new.tags != old.tags:
            self._apply_tags(provider_id, region, new.tags, clear=True)
        return self._result(provider_id, region)

    def delete(self, provider_id: str, spec: S3BucketSpec | None) -> None:
        try:
            self.clients.client("s3", self.region_of(spec)).delete_bucket(Bucket=provider_id)
        except ClientError as exc:
            if not is_not_found(exc):
                raise

    def sync(self) -> Iterator[SyncedResource]:
        s3 = self.clients.client("s3")
        for page in s3.get_paginator("list_buckets").paginate():
            for bucket in page.get("Buckets", []):
                name = bucket["Name"]
                region = bucket.get("BucketRegion") or self._region(name)
                yield self.synced(self._result_from(name, region, bucket))

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        name, region = result.outputs["name"], result.outputs["region"]
        # the tags as S3 has them: full_api_data drops keys that look secret
        tags = self._tags(name, region)
        return {
            "name": name,
            "region": region,
            "versioning": result.full_api_data.get("Versioning") == "Enabled",
            "tags": user_tags(tags, notes),
        }

    # --- helpers ----------------------------------------------------------------
    def _region(self, name: str) -> str:
        location = self.clients.client("s3").get_bucket_location(Bucket=name)
        constraint = location.get("LocationConstraint")
        return _LEGACY_LOCATIONS.get(constraint, constraint)

    def _apply_versioning(
        self, name: str, region: str, enabled: bool, currently: bool | None
    ) -> None:
        if enabled == currently or (not enabled and currently is None):
            return  # a new bucket is unversioned already
        self.clients.client("s3", region).put_bucket_versioning(
            Bucket=name,
            VersioningConfiguration={"Status": "Enabled" if enabled else "Suspended"},
        )

    def _apply_tags(
        self, name: str, region: str, tags: dict[str, str], clear: bool = False
    ) -> None:
        s3 = self.clients.client("s3", region)
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": dict_to_tags(tags)})
        elif clear:
            s3.delete_bucket_tagging(Bucket=name)

    def _endpoint(self, name: str, region: str) -> str:
        if self.clients.endpoint_url:
            return f"{self.clients.endpoint_url.rstrip('/')}/{name}"
        return f"https://{name}.s3.{region}.{partition_for(region).dns_suffix}"

    def _result(self, name: str, region: str) -> ResourceResult:
        s3 = self.clients.client("s3", region)
        versioning = s3.get_bucket_versioning(Bucket=name)
        tags = self._tags(name, region)
        described = {
            "Name": name,
            "Region": region,
            "Versioning": versioning.get("Status") or "Disabled",
            "Tags": tags,
        }
        return self._result_from(name, region, described)

    def _tags(self, name: str, region: str) -> dict[str, str]:
        try:
            tagging = self.clients.client("s3", region).get_bucket_tagging(Bucket=name)
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                raise
            return {}
        return tags_to_dict(tagging.get("TagSet"))

    def _result_from(self, name: str, region: str, described: dict[str, Any]) -> ResourceResult:
        endpoint = self._endpoint(name, region)
        outputs: dict[str, Any] = {
            "id": name,
            "name": name,
            "arn": f"arn:{partition_for(region).id}:s3:::{name}",
            "region": region,
            "endpoint": endpoint,
        }
        if "Versioning" in described:
            outputs["versioning"] = described["Versioning"] == "Enabled"
        return ResourceResult(
            provider_resource_id=name,
            outputs=outputs,
            universal={"name": name, "status": "active", "region": region, "endpoint": endpoint},
            full_api_data=api_data({**described, "Region": region}),
        )
