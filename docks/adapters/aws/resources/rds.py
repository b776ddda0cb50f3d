"""``rds-instance``: RDS DB instances (universal table ``databases``).

No password ever passes through StackDock: instances are created with
``ManageMasterUserPassword=True``, so AWS generates the master password and
keeps it in Secrets Manager (its ARN is the ``master_user_secret_arn`` output).
Deleting skips the final snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from docks.adapters.base import (
    AlreadyExists,
    ProviderError,
    ResourceResult,
    ResourceType,
    SyncedResource,
)

from ..apidata import api_data, tags_to_dict
from ..errors import error_code, is_not_found
from ..specs import RdsInstanceSpec
from .base import TOKEN_TAG, ResourceHandler, bounded_token, regional_id, split_regional_id

#: RDS tag values may be up to 256 characters.
TOKEN_MAX = 256


class RdsInstanceHandler(ResourceHandler):
    resource_type = ResourceType(
        name="rds-instance",
        key_fields=("name",),
        table="databases",
        spec_model=RdsInstanceSpec,
        replace_fields=frozenset({"name", "engine", "master_username", "region"}),
        outputs=(
            "id",
            "name",
            "endpoint",
            "port",
            "engine",
            "engine_version",
            "status",
            "arn",
            "master_username",
            "master_user_secret_arn",
        ),
        description=(
            "RDS DB instance; the master password is generated and kept by AWS in Secrets "
            "Manager. instance_class, allocated_storage (grow only) and engine_version change "
            "in place."
        ),
    )

    # --- lifecycle ------------------------------------------------------------
    def create(self, spec: RdsInstanceSpec, token: str) -> ResourceResult:
        region = self.target_region(spec)
        rds = self.clients.client("rds", region)
        if self.find(spec, token) is None:
            try:
                rds.create_db_instance(**self._create_params(spec, token))
            except ClientError as exc:
                if error_code(exc) not in (
                    "DBInstanceAlreadyExists",
                    "DBInstanceAlreadyExistsFault",
                ):
                    raise
                # Ours from a concurrent attempt, or someone else's.
                if self.find(spec, token) is None:
                    raise self._taken(spec, region) from None
        instance = self._describe(region, spec.name)
        if instance.get("DBInstanceStatus") == "creating":  # also when adopting an earlier attempt
            self.clients.wait_for(rds, "db_instance_available", DBInstanceIdentifier=spec.name)
            instance = self._describe(region, spec.name)
        return self._result(region, instance)

    @staticmethod
    def _create_params(spec: RdsInstanceSpec, token: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "DBInstanceIdentifier": spec.name,
            "Engine": spec.engine,
            "DBInstanceClass": spec.instance_class,
            "AllocatedStorage": spec.allocated_storage,
            "MasterUsername": spec.master_username,
            "ManageMasterUserPassword": True,  # AWS generates and keeps the password
            "Tags": [{"Key": TOKEN_TAG, "Value": bounded_token(token, TOKEN_MAX)}],
        }
        if spec.engine_version:
            params["EngineVersion"] = spec.engine_version
        return params

    def find(self, spec: RdsInstanceSpec, token: str) -> ResourceResult | None:
        region = self.region_of(spec)
        try:
            instance = self._describe(region, spec.name)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        if tags_to_dict(instance.get("TagList")).get(TOKEN_TAG) != bounded_token(token, TOKEN_MAX):
            return None  # same name, but not made by this resource
        return self._result(region, instance)

    def read(self, provider_id: str, spec: RdsInstanceSpec | None) -> ResourceResult | None:
        region, identifier = split_regional_id(provider_id, self.region_of(spec))
        try:
            return self._result(region, self._describe(region, identifier))
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    def update(
        self, provider_id: str, old: RdsInstanceSpec, new: RdsInstanceSpec
    ) -> ResourceResult:
        self.refuse_replacement_change(old, new)
        if new.allocated_storage < old.allocated_storage:
            raise ProviderError(
                "allocated_storage can only grow (AWS cannot shrink RDS storage)",
                permanent=True,
                code="storage_shrink",
            )
        region, identifier = split_regional_id(provider_id, self.region_of(new))
        rds = self.clients.client("rds", region)
        current = self._describe(region, identifier)
        changes: dict[str, Any] = {}
        if current["DBInstanceClass"] != new.instance_class:
            changes["DBInstanceClass"] = new.instance_class
        if current["AllocatedStorage"] != new.allocated_storage:
            changes["AllocatedStorage"] = new.allocated_storage
        if new.engine_version and current.get("EngineVersion") != new.engine_version:
            changes["EngineVersion"] = new.engine_version
            major = str(current.get("EngineVersion", "")).split(".")[0]
            changes["AllowMajorVersionUpgrade"] = major != new.engine_version.split(".")[0]
        if changes:
            rds.modify_db_instance(
                DBInstanceIdentifier=identifier, ApplyImmediately=True, **changes
            )
            self.clients.wait_for(rds, "db_instance_available", DBInstanceIdentifier=identifier)
        return self._result(region, self._describe(region, identifier))

    def delete(self, provider_id: str, spec: RdsInstanceSpec | None) -> None:
        region, identifier = split_regional_id(provider_id, self.region_of(spec))
        rds = self.clients.client("rds", region)
        try:
            rds.delete_db_instance(
                DBInstanceIdentifier=identifier,
                SkipFinalSnapshot=True,
                DeleteAutomatedBackups=True,
            )
        except ClientError as exc:
            if is_not_found(exc):
                return
            if error_code(exc) != "InvalidDBInstanceState":  # already being deleted
                raise
        self.clients.wait_for(rds, "db_instance_deleted", DBInstanceIdentifier=identifier)

    def sync(self) -> Iterator[SyncedResource]:
        for region in self.clients.sync_regions():
            paginator = self.clients.client("rds", region).get_paginator("describe_db_instances")
            for page in paginator.paginate():
                for instance in page.get("DBInstances", []):
                    yield self.synced(self._result(region, instance))

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        described = result.full_api_data
        if not (described.get("MasterUserSecret") or {}).get("SecretArn"):
            notes.append(
                "its master password is not kept by AWS Secrets Manager: StackDock leaves "
                "the password as it is and never sees it"
            )
        return {
            "name": result.outputs["name"],
            "engine": described.get("Engine"),
            "engine_version": described.get("EngineVersion"),
            "instance_class": described.get("DBInstanceClass"),
            "allocated_storage": described.get("AllocatedStorage"),
            "master_username": described.get("MasterUsername"),
            "region": split_regional_id(result.provider_resource_id, self.clients.region)[0],
        }

    # --- helpers ----------------------------------------------------------------
    def _describe(self, region: str, identifier: str) -> dict[str, Any]:
        rds = self.clients.client("rds", region)
        response = rds.describe_db_instances(DBInstanceIdentifier=identifier)
        return response["DBInstances"][0]

    @staticmethod
    def _taken(spec: RdsInstanceSpec, region: str) -> ProviderError:
        return AlreadyExists(
            f"a DB instance named {spec.name!r} in {region}", code="DBInstanceAlreadyExists"
        )

    def _result(self, region: str, instance: dict[str, Any]) -> ResourceResult:
        endpoint = instance.get("Endpoint") or {}
        identifier = instance["DBInstanceIdentifier"]
        status = instance.get("DBInstanceStatus", "unknown")
        version = instance.get("EngineVersion")
        return ResourceResult(
            provider_resource_id=regional_id(region, identifier),
            outputs={
                "id": identifier,
                "name": identifier,
                "endpoint": endpoint.get("Address"),
                "port": endpoint.get("Port"),
                "engine": instance.get("Engine"),
                "engine_version": version,
                "status": status,
                "arn": instance.get("DBInstanceArn"),
                "master_username": instance.get("MasterUsername"),
                "master_user_secret_arn": (instance.get("MasterUserSecret") or {}).get("SecretArn"),
            },
            universal={
                "name": identifier,
                "status": status,
                "region": region,
                "engine": instance.get("Engine"),
                "version": version,
                "endpoint": endpoint.get("Address"),
            },
            full_api_data=api_data(instance),
        )
