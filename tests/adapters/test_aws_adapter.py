"""AwsAdapter lifecycle against a real moto server process.

Every created resource is checked with a separate, plain boto3 client, not
through the adapter that made it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

from docks.adapters.aws import AwsAdapter
from docks.adapters.aws.session import WaitPolicy
from docks.adapters.aws.specs import (
    Ec2InstanceSpec,
    RdsInstanceSpec,
    Route53RecordSpec,
    Route53ZoneSpec,
    S3BucketSpec,
)
from docks.adapters.base import AlreadyExists, ProviderError
from tests.fixtures.moto_server import moto, moto_server  # noqa: F401

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FAST = WaitPolicy(delay=0.05, max_attempts=100)

Plain = Callable[..., Any]


def make_adapter(url: str, **credentials: Any) -> AwsAdapter:
    creds = {"access_key_id": KEY_ID, "secret_access_key": SECRET, "region": "us-east-1"}
    adapter = AwsAdapter({**creds, **credentials}, endpoint_url=url)
    adapter.wait_policy = FAST
    return adapter


@pytest.fixture
def adapter(moto: str) -> AwsAdapter:  # noqa: F811
    return make_adapter(moto)


@pytest.fixture
def plain(moto: str) -> Plain:  # noqa: F811
    """Factory of independent boto3 clients against the same moto server."""

    def make(service: str, region: str = "us-east-1") -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=moto,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )

    return make


def first_ami(plain: Plain, region: str = "us-east-1") -> str:
    """A real AMI id from moto's bundled images (filtered: the full list is slow)."""
    images = plain("ec2", region).describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}]
    )["Images"]
    return images[0]["ImageId"]


@pytest.fixture
def ami(plain: Plain) -> str:
    return first_ami(plain)


def instances(plain: Plain, region: str = "us-east-1", **params: Any) -> list[dict[str, Any]]:
    pages = plain("ec2", region).get_paginator("describe_instances").paginate(**params)
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


# --- S3 ---------------------------------------------------------------------------


def test_bucket_create_sets_region_versioning_and_tags(adapter: AwsAdapter, plain: Plain) -> None:
    spec = S3BucketSpec(name="sd-data", region="eu-west-1", versioning=True, tags={"env": "prod"})

    result = adapter.create("s3-bucket", spec, token="tok-1")

    s3 = plain("s3", "eu-west-1")
    assert s3.get_bucket_location(Bucket="sd-data")["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_versioning(Bucket="sd-data")["Status"] == "Enabled"
    assert tag_dict(s3.get_bucket_tagging(Bucket="sd-data")["TagSet"]) == {"env": "prod"}
    assert result.provider_resource_id == "sd-data"
    assert result.outputs == {
        "id": "sd-data",
        "name": "sd-data",
        "arn": "arn:aws:s3:::sd-data",
        "region": "eu-west-1",
        "endpoint": f"{adapter.endpoint_url}/sd-data",
        "versioning": True,
    }
    assert result.universal["region"] == "eu-west-1"


def test_bucket_without_region_goes_to_the_dock_region(moto: str, plain: Plain) -> None:  # noqa: F811
    adapter = make_adapter(moto, region="us-west-2")

    result = adapter.create("s3-bucket", S3BucketSpec(name="sd-default"), token="t")

    location = plain("s3").get_bucket_location(Bucket="sd-default")["LocationConstraint"]
    assert location == "us-west-2"
    assert result.outputs["region"] == "us-west-2"


def test_bucket_in_us_east_1_is_created_without_location_constraint(
    adapter: AwsAdapter, plain: Plain
) -> None:
    adapter.create("s3-bucket", S3BucketSpec(name="sd-east", region="us-east-1"), token="t")

    assert plain("s3").get_bucket_location(Bucket="sd-east")["LocationConstraint"] is None
    assert adapter.read("s3-bucket", "sd-east", None).outputs["region"] == "us-east-1"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_second_create_of_a_bucket_is_refused_not_adopted(
    adapter: AwsAdapter, plain: Plain, region: str
) -> None:
    # us-east-1 answers 200 to creating a bucket this account owns: the adapter looks first
    spec = S3BucketSpec(name=f"sd-again-{region}", region=region)
    adapter.create("s3-bucket", spec, token="tok")

    with pytest.raises(AlreadyExists) as info:
        adapter.create("s3-bucket", spec, token="tok-2")

    assert info.value.permanent and "import it" in info.value.message
    names = [b["Name"] for b in plain("s3").list_buckets()["Buckets"]]
    assert names == [spec.name]


def test_bucket_find_sees_own_bucket_and_not_missing_one(adapter: AwsAdapter, plain: Plain) -> None:
    plain("s3").create_bucket(Bucket="sd-found")

    found = adapter.find("s3-bucket", S3BucketSpec(name="sd-found"), token="t")
    missing = adapter.find("s3-bucket", S3BucketSpec(name="sd-missing"), token="t")

    assert found is not None and found.provider_resource_id == "sd-found"
    assert missing is None


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "eu-central-1"])
def test_a_bucket_made_outside_stackdock_is_left_exactly_as_it_was(
    adapter: AwsAdapter, plain: Plain, region: str
) -> None:
    s3 = plain("s3", "eu-west-1")
    s3.create_bucket(
        Bucket="sd-theirs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_bucket_versioning(Bucket="sd-theirs", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket="sd-theirs", Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})

    with pytest.raises(AlreadyExists) as info:
        adapter.create(
            "s3-bucket", S3BucketSpec(name="sd-theirs", region=region, tags={"new": "2"}), token="t"
        )

    assert info.value.permanent and "already exists" in info.value.message
    assert s3.get_bucket_versioning(Bucket="sd-theirs")["Status"] == "Enabled"
    assert tag_dict(s3.get_bucket_tagging(Bucket="sd-theirs")["TagSet"]) == {"old": "1"}


def test_bucket_name_taken_by_another_account_is_permanent_and_explained(
    adapter: AwsAdapter, plain: Plain
) -> None:
    other = plain("sts").assume_role(
        RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other"
    )["Credentials"]
    boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=adapter.endpoint_url,
        aws_access_key_id=other["AccessKeyId"],
        aws_secret_access_key=other["SecretAccessKey"],
        aws_session_token=other["SessionToken"],
    ).create_bucket(Bucket="sd-taken")

    with pytest.raises(ProviderError) as info:
        adapter.create("s3-bucket", S3BucketSpec(name="sd-taken"), token="t")

    assert info.value.permanent
    assert info.value.code == "BucketAlreadyExists"
    assert "bucket name already taken by another account" in info.value.message


def test_bucket_update_changes_versioning_and_tags_in_place(
    adapter: AwsAdapter, plain: Plain
) -> None:
    old = S3BucketSpec(name="sd-upd", versioning=True, tags={"a": "1", "b": "2"})
    adapter.create("s3-bucket", old, token="t")
    new = old.model_copy(update={"versioning": False, "tags": {"b": "3"}})

    result = adapter.update("s3-bucket", "sd-upd", old, new)

    s3 = plain("s3")
    assert s3.get_bucket_versioning(Bucket="sd-upd")["Status"] == "Suspended"
    assert tag_dict(s3.get_bucket_tagging(Bucket="sd-upd")["TagSet"]) == {"b": "3"}
    assert result.outputs["versioning"] is False


def test_bucket_update_removing_all_tags_clears_them(adapter: AwsAdapter, plain: Plain) -> None:
    old = S3BucketSpec(name="sd-untag", tags={"a": "1"})
    adapter.create("s3-bucket", old, token="t")

    adapter.update("s3-bucket", "sd-untag", old, old.model_copy(update={"tags": {}}))

    with pytest.raises(plain("s3").exceptions.ClientError) as info:
        plain("s3").get_bucket_tagging(Bucket="sd-untag")
    assert info.value.response["Error"]["Code"] == "NoSuchTagSet"


def test_bucket_update_refuses_a_region_change(adapter: AwsAdapter) -> None:
    old = S3BucketSpec(name="sd-move", region="us-east-1")
    adapter.create("s3-bucket", old, token="t")

    with pytest.raises(ProviderError) as info:
        adapter.update("s3-bucket", "sd-move", old, old.model_copy(update={"region": "eu-west-1"}))

    assert info.value.permanent and "region" in info.value.message


def test_bucket_delete_removes_it_and_repeating_is_success(
    adapter: AwsAdapter, plain: Plain
) -> None:
    adapter.create("s3-bucket", S3BucketSpec(name="sd-gone"), token="t")

    adapter.delete("s3-bucket", "sd-gone", None)
    adapter.delete("s3-bucket", "sd-gone", None)

    assert plain("s3").list_buckets()["Buckets"] == []
    assert adapter.read("s3-bucket", "sd-gone", None) is None


def test_deleting_a_non_empty_bucket_is_permanent_with_advice(
    adapter: AwsAdapter, plain: Plain
) -> None:
    adapter.create("s3-bucket", S3BucketSpec(name="sd-full"), token="t")
    plain("s3").put_object(Bucket="sd-full", Key="k", Body=b"x")

    with pytest.raises(ProviderError) as info:
        adapter.delete("s3-bucket", "sd-full", None)

    assert info.value.permanent
    assert info.value.code == "BucketNotEmpty"
    assert "not empty" in info.value.message


def test_one_adapter_serves_parallel_calls_from_worker_threads(
    adapter: AwsAdapter, plain: Plain
) -> None:
    names = [f"sd-par-{i}" for i in range(6)]
    regions = ["us-east-1", "eu-west-1", "us-west-2"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda i: adapter.create(
                    "s3-bucket", S3BucketSpec(name=names[i], region=regions[i % 3]), token=str(i)
                ),
                range(6),
            )
        )

    assert sorted(b["Name"] for b in plain("s3").list_buckets()["Buckets"]) == names
    assert [r.outputs["region"] for r in results] == [regions[i % 3] for i in range(6)]


# --- EC2 --------------------------------------------------------------------------


def test_instance_create_runs_it_with_name_tags_and_token(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    spec = Ec2InstanceSpec(name="web-1", image_id=ami, instance_type="t3.micro", tags={"env": "x"})

    result = adapter.create("ec2-instance", spec, token="tok-web")

    [instance] = instances(plain)
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceType"] == "t3.micro"
    assert instance["ImageId"] == ami
    assert tag_dict(instance["Tags"]) == {"Name": "web-1", "env": "x", "stackdock:token": "tok-web"}
    assert result.provider_resource_id == f"us-east-1/{instance['InstanceId']}"
    assert result.outputs["id"] == instance["InstanceId"]
    assert result.outputs["private_ip"] == instance["PrivateIpAddress"]
    assert result.outputs["public_ip"] == instance["PublicIpAddress"]
    assert result.outputs["state"] == "running"
    assert result.universal == {
        "name": "web-1",
        "status": "running",
        "region": "us-east-1",
        "primary_ip": instance["PublicIpAddress"],
        "instance_type": "t3.micro",
    }
    assert adapter.read("ec2-instance", result.provider_resource_id, spec).outputs == result.outputs


def test_instance_create_repeated_with_same_token_makes_one_instance(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    spec = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro")

    first = adapter.create("ec2-instance", spec, token="same")
    second = adapter.create("ec2-instance", spec, token="same")
    third = adapter.create("ec2-instance", spec, token="other")

    assert first.provider_resource_id == second.provider_resource_id
    assert third.provider_resource_id != first.provider_resource_id
    assert len(instances(plain)) == 2


def test_instance_long_token_is_hashed_to_fit_client_token(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    spec = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro")
    token = "stack/resource/" + "x" * 100

    adapter.create("ec2-instance", spec, token=token)
    found = adapter.find("ec2-instance", spec, token=token)

    [instance] = instances(plain)
    assert len(instance["ClientToken"]) == 64
    assert found is not None and found.outputs["id"] == instance["InstanceId"]


def test_instance_find_ignores_other_tokens_and_terminated_instances(
    adapter: AwsAdapter, ami: str
) -> None:
    spec = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro")
    made = adapter.create("ec2-instance", spec, token="tok")
    adapter.delete("ec2-instance", made.provider_resource_id, spec)

    assert adapter.find("ec2-instance", spec, token="tok") is None
    assert adapter.find("ec2-instance", spec, token="never-used") is None


def test_instance_in_another_region_keeps_region_in_its_id(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    ami_west = first_ami(plain, "eu-west-1")
    spec = Ec2InstanceSpec(
        name="far", image_id=ami_west, instance_type="t3.micro", region="eu-west-1"
    )

    result = adapter.create("ec2-instance", spec, token="t")

    assert result.provider_resource_id.startswith("eu-west-1/i-")
    assert len(instances(plain, "eu-west-1")) == 1
    assert instances(plain, "us-east-1") == []
    read = adapter.read("ec2-instance", result.provider_resource_id, None)
    assert read is not None and read.universal["region"] == "eu-west-1"


def test_instance_update_changes_name_and_tags_in_place(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    old = Ec2InstanceSpec(
        name="web", image_id=ami, instance_type="t3.micro", tags={"keep": "1", "drop": "2"}
    )
    made = adapter.create("ec2-instance", old, token="tok")
    new = old.model_copy(update={"name": "web-renamed", "tags": {"keep": "1", "new": "3"}})

    result = adapter.update("ec2-instance", made.provider_resource_id, old, new)

    [instance] = instances(plain)
    assert tag_dict(instance["Tags"]) == {
        "Name": "web-renamed",
        "keep": "1",
        "new": "3",
        "stackdock:token": "tok",
    }
    assert result.outputs["name"] == "web-renamed"
    assert result.outputs["id"] == made.outputs["id"]


def test_instance_type_change_resizes_and_leaves_it_running(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    old = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro")
    made = adapter.create("ec2-instance", old, token="tok")

    result = adapter.update(
        "ec2-instance",
        made.provider_resource_id,
        old,
        old.model_copy(update={"instance_type": "t3.large"}),
    )

    [instance] = instances(plain)
    assert instance["InstanceType"] == "t3.large"
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceId"] == made.outputs["id"]
    assert result.universal["instance_type"] == "t3.large"


def test_resizing_a_stopped_instance_leaves_it_stopped(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    old = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro")
    made = adapter.create("ec2-instance", old, token="tok")
    plain("ec2").stop_instances(InstanceIds=[made.outputs["id"]])

    adapter.update(
        "ec2-instance",
        made.provider_resource_id,
        old,
        old.model_copy(update={"instance_type": "m5.large"}),
    )

    [instance] = instances(plain)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.large", "stopped")


def test_instance_image_change_is_refused_as_needing_replacement(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    old = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro")
    made = adapter.create("ec2-instance", old, token="tok")
    other_ami = "ami-0123456789abcdef0"

    with pytest.raises(ProviderError) as info:
        adapter.update(
            "ec2-instance",
            made.provider_resource_id,
            old,
            old.model_copy(update={"image_id": other_ami}),
        )

    assert info.value.permanent and "image_id" in info.value.message
    assert instances(plain)[0]["ImageId"] == ami


def test_instance_delete_terminates_and_repeating_is_success(
    adapter: AwsAdapter, plain: Plain, ami: str
) -> None:
    made = adapter.create(
        "ec2-instance",
        Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro"),
        token="t",
    )

    adapter.delete("ec2-instance", made.provider_resource_id, None)
    adapter.delete("ec2-instance", made.provider_resource_id, None)
    adapter.delete("ec2-instance", "us-east-1/i-0123456789abcdef0", None)

    assert instances(plain)[0]["State"]["Name"] == "terminated"
    assert adapter.read("ec2-instance", made.provider_resource_id, None) is None


# --- RDS ----------------------------------------------------------------------------

DB = RdsInstanceSpec(
    name="orders",
    engine="postgres",
    instance_class="db.t3.micro",
    allocated_storage=20,
    master_username="app",
)


def test_db_create_lets_aws_manage_the_password_and_returns_no_secret(
    adapter: AwsAdapter, plain: Plain
) -> None:
    result = adapter.create("rds-instance", DB, token="tok-db")

    [db] = plain("rds").describe_db_instances()["DBInstances"]
    assert db["DBInstanceIdentifier"] == "orders"
    assert db["DBInstanceClass"] == "db.t3.micro"
    assert db["AllocatedStorage"] == 20
    assert db["MasterUsername"] == "app"
    secret_arn = db["MasterUserSecret"]["SecretArn"]
    assert result.provider_resource_id == "us-east-1/orders"
    assert result.outputs["endpoint"] == db["Endpoint"]["Address"]
    assert result.outputs["port"] == db["Endpoint"]["Port"]
    assert result.outputs["engine"] == "postgres"
    assert result.outputs["status"] == "available"
    assert result.outputs["master_user_secret_arn"] == secret_arn
    assert result.universal["engine"] == "postgres"
    assert result.universal["endpoint"] == db["Endpoint"]["Address"]
    everything = json.dumps([result.outputs, result.universal, result.full_api_data]).lower()
    assert "password" not in everything
    assert adapter.read("rds-instance", result.provider_resource_id, None).outputs == result.outputs


def test_db_create_repeated_with_same_token_adopts_without_duplicate(
    adapter: AwsAdapter, plain: Plain
) -> None:
    first = adapter.create("rds-instance", DB, token="tok-db")
    second = adapter.create("rds-instance", DB, token="tok-db")

    assert second.provider_resource_id == first.provider_resource_id
    assert len(plain("rds").describe_db_instances()["DBInstances"]) == 1


def test_db_name_used_by_an_instance_made_elsewhere_is_refused(
    adapter: AwsAdapter, plain: Plain
) -> None:
    plain("rds").create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="someone",
        ManageMasterUserPassword=True,
    )

    assert adapter.find("rds-instance", DB, token="tok-db") is None
    with pytest.raises(ProviderError) as info:
        adapter.create("rds-instance", DB, token="tok-db")

    assert info.value.permanent
    assert "already exists" in info.value.message and "'orders'" in info.value.message


def test_db_update_changes_class_and_storage_in_place(adapter: AwsAdapter, plain: Plain) -> None:
    made = adapter.create("rds-instance", DB, token="t")
    new = DB.model_copy(update={"instance_class": "db.t3.small", "allocated_storage": 50})

    result = adapter.update("rds-instance", made.provider_resource_id, DB, new)

    [db] = plain("rds").describe_db_instances()["DBInstances"]
    assert (db["DBInstanceClass"], db["AllocatedStorage"]) == ("db.t3.small", 50)
    assert result.outputs["id"] == "orders"


def test_db_storage_shrink_is_refused_before_calling_aws(adapter: AwsAdapter, plain: Plain) -> None:
    big = DB.model_copy(update={"allocated_storage": 100})
    made = adapter.create("rds-instance", big, token="t")

    with pytest.raises(ProviderError) as info:
        adapter.update("rds-instance", made.provider_resource_id, big, DB)

    assert info.value.permanent and "allocated_storage" in info.value.message
    assert plain("rds").describe_db_instances()["DBInstances"][0]["AllocatedStorage"] == 100


def test_db_delete_removes_it_and_repeating_is_success(adapter: AwsAdapter, plain: Plain) -> None:
    made = adapter.create("rds-instance", DB, token="t")

    adapter.delete("rds-instance", made.provider_resource_id, DB)
    adapter.delete("rds-instance", made.provider_resource_id, DB)

    assert plain("rds").describe_db_instances()["DBInstances"] == []
    assert adapter.read("rds-instance", made.provider_resource_id, None) is None


# --- Route 53 -----------------------------------------------------------------------


def test_zone_create_returns_name_servers_and_uses_token_as_caller_reference(
    adapter: AwsAdapter, plain: Plain
) -> None:
    result = adapter.create("route53-zone", Route53ZoneSpec(name="Example.COM."), token="tok-z")

    [zone] = plain("route53").list_hosted_zones()["HostedZones"]
    assert zone["Name"] == "example.com."
    assert zone["CallerReference"] == "tok-z"
    assert result.provider_resource_id == zone["Id"].split("/")[-1]
    served = plain("route53").get_hosted_zone(Id=zone["Id"])["DelegationSet"]["NameServers"]
    assert result.outputs["name_servers"] == served and served
    assert result.universal["domain_name"] == "example.com"
    assert result.universal["expires_at"] is None
    assert adapter.read("route53-zone", result.provider_resource_id, None).outputs == result.outputs


def test_zone_create_repeated_with_same_token_makes_one_zone(
    adapter: AwsAdapter, plain: Plain
) -> None:
    spec = Route53ZoneSpec(name="example.org")

    first = adapter.create("route53-zone", spec, token="tok")
    second = adapter.create("route53-zone", spec, token="tok")

    assert first.provider_resource_id == second.provider_resource_id
    assert len(plain("route53").list_hosted_zones()["HostedZones"]) == 1


def test_zone_find_ignores_a_same_name_zone_with_another_reference(
    adapter: AwsAdapter, plain: Plain
) -> None:
    plain("route53").create_hosted_zone(Name="example.net", CallerReference="someone-else")

    assert adapter.find("route53-zone", Route53ZoneSpec(name="example.net"), token="mine") is None


def test_zone_delete_removes_it_and_repeating_is_success(adapter: AwsAdapter, plain: Plain) -> None:
    made = adapter.create("route53-zone", Route53ZoneSpec(name="example.com"), token="t")

    adapter.delete("route53-zone", made.provider_resource_id, None)
    adapter.delete("route53-zone", made.provider_resource_id, None)

    assert plain("route53").list_hosted_zones()["HostedZones"] == []
    assert adapter.read("route53-zone", made.provider_resource_id, None) is None


def test_deleting_a_zone_that_still_has_records_is_permanent_with_advice(
    adapter: AwsAdapter,
) -> None:
    zone = adapter.create("route53-zone", Route53ZoneSpec(name="example.com"), token="t")
    record = Route53RecordSpec(zone=zone.outputs["id"], name="www", type="A", values=["192.0.2.1"])
    adapter.create("route53-record", record, token="r")

    with pytest.raises(ProviderError) as info:
        adapter.delete("route53-zone", zone.provider_resource_id, None)

    assert info.value.permanent and "delete them first" in info.value.message


def record_sets(plain: Plain, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    listed = plain("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return {(r["Name"], r["Type"]): r for r in listed["ResourceRecordSets"]}


@pytest.fixture
def zone_id(adapter: AwsAdapter) -> str:
    return adapter.create("route53-zone", Route53ZoneSpec(name="example.com"), token="z").outputs[
        "id"
    ]


def test_record_create_in_zone_named_by_domain(
    adapter: AwsAdapter, plain: Plain, zone_id: str
) -> None:
    spec = Route53RecordSpec(
        zone="example.com", name="www", type="A", values=["192.0.2.1", "192.0.2.2"], ttl=60
    )

    result = adapter.create("route53-record", spec, token="r")

    written = record_sets(plain, zone_id)[("www.example.com.", "A")]
    assert written["TTL"] == 60
    assert sorted(v["Value"] for v in written["ResourceRecords"]) == ["192.0.2.1", "192.0.2.2"]
    assert result.provider_resource_id == f"{zone_id}/www.example.com/A"
    assert result.outputs["fqdn"] == "www.example.com"
    assert result.outputs["zone_id"] == zone_id
    read = adapter.read("route53-record", result.provider_resource_id, None)
    assert read is not None and read.outputs == result.outputs


def test_record_at_apex_with_zone_id_and_full_name_forms(
    adapter: AwsAdapter, plain: Plain, zone_id: str
) -> None:
    adapter.create(
        "route53-record",
        Route53RecordSpec(zone=zone_id, name="@", type="MX", values=["10 mail.example.com"]),
        token="r1",
    )
    adapter.create(
        "route53-record",
        Route53RecordSpec(
            zone=zone_id, name="api.example.com.", type="CNAME", values=["x.example.net"]
        ),
        token="r2",
    )

    written = record_sets(plain, zone_id)
    assert written[("example.com.", "MX")]["ResourceRecords"] == [{"Value": "10 mail.example.com"}]
    assert ("api.example.com.", "CNAME") in written


def test_txt_record_is_quoted_for_aws_and_read_back_plain(
    adapter: AwsAdapter, plain: Plain, zone_id: str
) -> None:
    long_text = "k=" + "a" * 300
    spec = Route53RecordSpec(
        zone=zone_id, name="_dmarc", type="TXT", values=['v=DMARC1; p="none"', long_text]
    )

    result = adapter.create("route53-record", spec, token="r")

    raw = [
        v["Value"]
        for v in record_sets(plain, zone_id)[("_dmarc.example.com.", "TXT")]["ResourceRecords"]
    ]
    assert '"v=DMARC1; p=\\"none\\""' in raw
    assert any(v.startswith('"k=aaa') and '" "' in v for v in raw)  # split at 255 characters
    assert sorted(result.outputs["values"]) == sorted(spec.values)


def test_record_create_of_a_record_set_that_exists_is_refused_not_overwritten(
    adapter: AwsAdapter, plain: Plain, zone_id: str
) -> None:
    theirs = Route53RecordSpec(zone=zone_id, name="www", type="A", values=["192.0.2.1"])
    adapter.create("route53-record", theirs, token="r")
    ours = theirs.model_copy(update={"values": ["198.51.100.7"]})

    with pytest.raises(AlreadyExists):
        adapter.create("route53-record", ours, token="r2")

    found = adapter.find("route53-record", theirs, token="r")
    assert found is not None and found.outputs["values"] == ["192.0.2.1"]
    assert len([k for k in record_sets(plain, zone_id) if k[1] == "A"]) == 1


def test_record_update_changes_values_and_ttl_in_place(
    adapter: AwsAdapter, plain: Plain, zone_id: str
) -> None:
    old = Route53RecordSpec(zone=zone_id, name="www", type="A", values=["192.0.2.1"])
    made = adapter.create("route53-record", old, token="r")
    new = old.model_copy(update={"values": ["198.51.100.7"], "ttl": 3600})

    result = adapter.update("route53-record", made.provider_resource_id, old, new)

    written = record_sets(plain, zone_id)[("www.example.com.", "A")]
    assert written["ResourceRecords"] == [{"Value": "198.51.100.7"}]
    assert written["TTL"] == 3600
    assert result.outputs["ttl"] == 3600


def test_record_delete_removes_it_and_repeating_is_success(
    adapter: AwsAdapter, plain: Plain, zone_id: str
) -> None:
    spec = Route53RecordSpec(zone=zone_id, name="www", type="AAAA", values=["2001:db8::1"])
    made = adapter.create("route53-record", spec, token="r")

    adapter.delete("route53-record", made.provider_resource_id, spec)
    adapter.delete("route53-record", made.provider_resource_id, spec)

    assert ("www.example.com.", "AAAA") not in record_sets(plain, zone_id)
    assert adapter.read("route53-record", made.provider_resource_id, None) is None


def test_record_in_unknown_zone_is_permanent_and_names_the_zone(adapter: AwsAdapter) -> None:
    spec = Route53RecordSpec(zone="nowhere.example", name="www", type="A", values=["192.0.2.1"])

    with pytest.raises(ProviderError) as info:
        adapter.create("route53-record", spec, token="r")

    assert info.value.permanent and "nowhere.example" in info.value.message
    assert adapter.find("route53-record", spec, token="r") is None


# --- sync ---------------------------------------------------------------------------


@pytest.fixture
def local(moto: str) -> AwsAdapter:  # noqa: F811
    """An adapter whose sync only scans us-east-1 (scanning every region takes ~2 s)."""
    return make_adapter(moto, sync_regions=["us-east-1"])


def test_sync_puts_every_kind_of_resource_in_its_universal_table(
    local: AwsAdapter, plain: Plain, ami: str
) -> None:
    plain("s3", "eu-west-1").create_bucket(
        Bucket="sd-sync", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    instance_id = plain("ec2").run_instances(
        ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )["Instances"][0]["InstanceId"]
    plain("rds").create_db_instance(
        DBInstanceIdentifier="legacy",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-for-stackdock-1",
    )
    zone = plain("route53").create_hosted_zone(Name="sync.example", CallerReference="x")

    synced = {s.table: s for s in local.sync()}

    assert set(synced) == {"buckets", "servers", "databases", "domains"}
    assert synced["buckets"].result.universal == {
        "name": "sd-sync",
        "status": "active",
        "region": "eu-west-1",
        "endpoint": f"{local.endpoint_url}/sd-sync",
    }
    server = synced["servers"].result
    assert server.provider_resource_id == f"us-east-1/{instance_id}"
    assert server.universal["instance_type"] == "t3.nano"
    assert server.universal["primary_ip"]
    assert {"name", "status", "region"} <= set(server.universal)
    assert synced["servers"].resource_type == "ec2-instance"
    database = synced["databases"].result
    assert database.provider_resource_id == "us-east-1/legacy"
    assert database.universal["engine"] == "mysql"
    assert database.universal["endpoint"]
    assert {"name", "status", "region", "version"} <= set(database.universal)
    domain = synced["domains"].result
    assert domain.provider_resource_id == zone["HostedZone"]["Id"].split("/")[-1]
    assert domain.universal["domain_name"] == "sync.example"
    assert domain.universal["expires_at"] is None


def test_sync_ids_match_the_ids_create_returned(local: AwsAdapter, ami: str) -> None:
    made = [
        local.create("s3-bucket", S3BucketSpec(name="sd-same"), token="a"),
        local.create(
            "ec2-instance",
            Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro"),
            token="b",
        ),
        local.create("rds-instance", DB, token="c"),
        local.create("route53-zone", Route53ZoneSpec(name="same.example"), token="d"),
    ]

    synced = {s.result.provider_resource_id for s in local.sync()}

    assert synced == {m.provider_resource_id for m in made}


def test_sync_full_api_data_is_json_and_holds_no_secret(local: AwsAdapter, plain: Plain) -> None:
    plain("rds").create_db_instance(
        DBInstanceIdentifier="legacy",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="hunter2-password-xyz",
    )

    [synced] = list(local.sync())

    text = json.dumps(synced.result.full_api_data)  # no default=: must be JSON already
    assert "hunter2" not in text
    assert SECRET not in text and KEY_ID not in text
    assert "InstanceCreateTime" in synced.result.full_api_data  # datetimes kept, as ISO text


def test_sync_scans_every_enabled_region_unless_limited(
    adapter: AwsAdapter, local: AwsAdapter, plain: Plain
) -> None:
    ami = first_ami(plain, "ap-southeast-2")
    plain("ec2", "ap-southeast-2").run_instances(
        ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1
    )

    everywhere = [s for s in adapter.sync() if s.table == "servers"]
    limited = [s for s in local.sync() if s.table == "servers"]

    assert [s.result.universal["region"] for s in everywhere] == ["ap-southeast-2"]
    assert limited == []


def test_limited_dock_refuses_to_create_where_sync_would_not_look(
    local: AwsAdapter, plain: Plain
) -> None:
    spec = DB.model_copy(update={"region": "eu-west-1"})

    with pytest.raises(ProviderError) as info:
        local.create("rds-instance", spec, token="t")

    assert info.value.permanent and "sync_regions" in info.value.message
    assert plain("rds", "eu-west-1").describe_db_instances()["DBInstances"] == []


def test_sync_skips_terminated_instances(local: AwsAdapter, plain: Plain, ami: str) -> None:
    ec2 = plain("ec2")
    gone = ec2.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1)
    ec2.terminate_instances(InstanceIds=[gone["Instances"][0]["InstanceId"]])

    assert [s for s in local.sync() if s.table == "servers"] == []
