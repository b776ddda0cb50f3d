"""``ec2-instance``: EC2 instances (universal table ``servers``).

Idempotency: ``RunInstances`` gets the engine's token as ``ClientToken`` (AWS
returns the same instance for a repeated token), and the instance is tagged
``stackdock:token`` so ``find`` can look it up by tag (moto does not filter by
``client-token``, and a tag filter works everywhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from docks.adapters.base import ProviderError, ResourceResult, ResourceType, SyncedResource

from ..apidata import api_data, dict_to_tags, tags_to_dict
from ..errors import is_not_found
from ..specs import Ec2InstanceSpec
from .base import (
    TOKEN_TAG,
    ResourceHandler,
    bounded_token,
    regional_id,
    split_regional_id,
    user_tags,
)

#: EC2's limit for ClientToken.
CLIENT_TOKEN_MAX = 64
#: States of an instance that still exists (or is about to).
LIVE_STATES = ["pending", "running", "stopping", "stopped"]


class Ec2InstanceHandler(ResourceHandler):
    resource_type = ResourceType(
        name="ec2-instance",
        table="servers",
        spec_model=Ec2InstanceSpec,
        replace_fields=frozenset({"image_id", "region"}),
        outputs=("id", "name", "private_ip", "public_ip", "state", "instance_type", "region"),
        description=(
            "EC2 instance. Tags change in place; an instance_type change stops, "
            "resizes and restarts it."
        ),
    )

    # --- lifecycle ------------------------------------------------------------
    def create(self, spec: Ec2InstanceSpec, token: str) -> ResourceResult:
        region = self.target_region(spec)
        ec2 = self.clients.client("ec2", region)
        existing = self.find(spec, token)
        if existing is not None:  # an earlier attempt launched it
            if existing.outputs["state"] == "pending":
                self.clients.wait_for(ec2, "instance_running", InstanceIds=[existing.outputs["id"]])
                return self._result(region, self._describe(region, existing.outputs["id"]))
            return existing
        client_token = bounded_token(token, CLIENT_TOKEN_MAX)
        tags = {**spec.tags, "Name": spec.name, TOKEN_TAG: client_token}
        response = ec2.run_instances(
            ImageId=spec.image_id,
            InstanceType=spec.instance_type,
            MinCount=1,
            MaxCount=1,
            ClientToken=client_token,
            TagSpecifications=[{"ResourceType": "instance", "Tags": dict_to_tags(tags)}],
        )
        instance_id = response["Instances"][0]["InstanceId"]
        self.clients.wait_for(ec2, "instance_running", InstanceIds=[instance_id])
        return self._result(region, self._describe(region, instance_id))

    def find(self, spec: Ec2InstanceSpec, token: str) -> ResourceResult | None:
        region = self.region_of(spec)
        filters = [
            {"Name": f"tag:{TOKEN_TAG}", "Values": [bounded_token(token, CLIENT_TOKEN_MAX)]},
            {"Name": "instance-state-name", "Values": LIVE_STATES},
        ]
        found = sorted(self._instances(region, Filters=filters), key=lambda i: i["LaunchTime"])
        return self._result(region, found[0]) if found else None

    def read(self, provider_id: str, spec: Ec2InstanceSpec | None) -> ResourceResult | None:
        region, instance_id = split_regional_id(provider_id, self.region_of(spec))
        try:
            instance = self._describe(region, instance_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        if instance["State"]["Name"] == "terminated":
            return None
        return self._result(region, instance)

    def update(
        self, provider_id: str, old: Ec2InstanceSpec, new: Ec2InstanceSpec
    ) -> ResourceResult:
        self.refuse_replacement_change(old, new)
        region, instance_id = split_regional_id(provider_id, self.region_of(new))
        instance = self._describe(region, instance_id)
        self._update_tags(region, instance, {**new.tags, "Name": new.name})
        if instance["InstanceType"] != new.instance_type:
            self._resize(region, instance, new.instance_type)
        return self._result(region, self._describe(region, instance_id))

    def delete(self, provider_id: str, spec: Ec2InstanceSpec | None) -> None:
        region, instance_id = split_regional_id(provider_id, self.region_of(spec))
        ec2 = self.clients.client("ec2", region)
        try:
            ec2.terminate_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise
        self.clients.wait_for(ec2, "instance_terminated", InstanceIds=[instance_id])

    def sync(self) -> Iterator[SyncedResource]:
        filters = [{"Name": "instance-state-name", "Values": LIVE_STATES}]
        for region in self.clients.sync_regions():
            for instance in self._instances(region, Filters=filters):
                yield self.synced(self._result(region, instance))

    def spec_from(self, result: ResourceResult, notes: list[str]) -> dict[str, Any]:
        described = result.full_api_data
        tags = tags_to_dict(described.get("Tags"))
        if "Name" not in tags:
            notes.append(
                "it has no Name tag: its name is its instance id "
                "(an update sets the Name tag to the spec's name)"
            )
        return {
            "name": tags.get("Name") or result.outputs["id"],
            "image_id": described.get("ImageId"),
            "instance_type": result.outputs["instance_type"],
            "region": result.outputs["region"],
            "tags": user_tags(tags, notes, also=("Name",)),
        }

    # --- helpers ----------------------------------------------------------------
    def _instances(self, region: str, **params: Any) -> Iterator[dict[str, Any]]:
        paginator = self.clients.client("ec2", region).get_paginator("describe_instances")
        for page in paginator.paginate(**params):
            for reservation in page.get("Reservations", []):
                yield from reservation.get("Instances", [])

    def _describe(self, region: str, instance_id: str) -> dict[str, Any]:
        found = list(self._instances(region, InstanceIds=[instance_id]))
        if not found:
            raise ProviderError(
                f"instance {instance_id} not found in {region}", permanent=True, code="NotFound"
            )
        return found[0]

    def _update_tags(self, region: str, instance: dict[str, Any], wanted: dict[str, str]) -> None:
        ec2 = self.clients.client("ec2", region)
        current = {
            k: v
            for k, v in tags_to_dict(instance.get("Tags")).items()
            if not k.lower().startswith(("aws:", "stackdock:"))
        }
        changed = {k: v for k, v in wanted.items() if current.get(k) != v}
        removed = sorted(set(current) - set(wanted))
        resources = [instance["InstanceId"]]
        if changed:
            ec2.create_tags(Resources=resources, Tags=dict_to_tags(changed))
        if removed:
            ec2.delete_tags(Resources=resources, Tags=[{"Key": k} for k in removed])

    def _resize(self, region: str, instance: dict[str, Any], instance_type: str) -> None:
        """Stop (if needed), change the type, and start again if it was running."""
        ec2 = self.clients.client("ec2", region)
        ids = [instance["InstanceId"]]
        was_running = instance["State"]["Name"] in ("pending", "running")
        if instance["State"]["Name"] != "stopped":
            ec2.stop_instances(InstanceIds=ids)
            self.clients.wait_for(ec2, "instance_stopped", InstanceIds=ids)
        ec2.modify_instance_attribute(InstanceId=ids[0], InstanceType={"Value": instance_type})
        if was_running:
            ec2.start_instances(InstanceIds=ids)
            self.clients.wait_for(ec2, "instance_running", InstanceIds=ids)

    def _result(self, region: str, instance: dict[str, Any]) -> ResourceResult:
        tags = tags_to_dict(instance.get("Tags"))
        name = tags.get("Name", instance["InstanceId"])
        state = instance["State"]["Name"]
        private_ip = instance.get("PrivateIpAddress")
        public_ip = instance.get("PublicIpAddress")
        return ResourceResult(
            provider_resource_id=regional_id(region, instance["InstanceId"]),
            outputs={
                "id": instance["InstanceId"],
                "name": name,
                "private_ip": private_ip,
                "public_ip": public_ip,
                "state": state,
                "instance_type": instance["InstanceType"],
                "region": region,
            },
            universal={
                "name": name,
                "status": state,
                "region": region,
                "primary_ip": public_ip or private_ip,
                "instance_type": instance["InstanceType"],
            },
            full_api_data=api_data(instance),
        )
