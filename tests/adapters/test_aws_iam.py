"""The least-privilege IAM policy: enough for the adapter, and nothing it does not call.

Runs the adapter against a real moto server with IAM enforcement on, as an IAM
user that holds only ``all_actions()``. moto evaluates actions, not resource
ARNs or conditions (so the test grants the actions on ``*``), and it cannot
verify Route 53 signatures, so Route 53 is covered by the policy but not here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from docks.adapters.aws import AwsAdapter
from docks.adapters.aws.iam import all_actions, policy
from docks.adapters.aws.session import WaitPolicy
from docks.adapters.aws.specs import Ec2InstanceSpec, RdsInstanceSpec, S3BucketSpec
from docks.adapters.base import CredentialsRejected, ProviderError
from tests.fixtures.moto_server import moto, moto_iam_auth, moto_server  # noqa: F401

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROVIDERS.md"
ROOT_KEYS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x" * 40}


def plain(url: str, service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, **ROOT_KEYS)


def iam_user(url: str, actions: list[str]) -> dict[str, str]:
    """Credentials of a new IAM user allowed exactly ``actions`` (made before auth is on)."""
    iam = plain(url, "iam")
    name = f"dock{len(iam.list_users()['Users'])}"
    iam.create_user(UserName=name)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="stackdock", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "access_key_id": key["AccessKeyId"],
        "secret_access_key": key["SecretAccessKey"],
        "region": "us-east-1",
        "sync_regions": ["us-east-1"],
    }


@pytest.fixture
def ami(moto: str) -> str:  # noqa: F811
    images = plain(moto, "ec2").describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}]
    )["Images"]
    return images[0]["ImageId"]


def adapter_for(url: str, credentials: dict[str, str]) -> AwsAdapter:
    adapter = AwsAdapter(credentials, endpoint_url=url)
    adapter.wait_policy = WaitPolicy(delay=0.05, max_attempts=100)
    return adapter


def test_policy_actions_suffice_for_every_s3_ec2_and_rds_operation(
    moto: str,  # noqa: F811
    ami: str,
) -> None:
    credentials = iam_user(moto, all_actions())
    bucket = S3BucketSpec(name="sd-iam", versioning=True, tags={"a": "1"})
    server = Ec2InstanceSpec(name="web", image_id=ami, instance_type="t3.micro", tags={"a": "1"})
    db = RdsInstanceSpec(
        name="iamdb",
        engine="postgres",
        instance_class="db.t3.micro",
        allocated_storage=20,
        master_username="app",
    )

    with moto_iam_auth(moto):
        adapter = adapter_for(moto, credentials)
        assert adapter.validate_credentials().ok
        for rtype, spec, change in [
            ("s3-bucket", bucket, {"versioning": False, "tags": {}}),
            ("ec2-instance", server, {"instance_type": "t3.large", "tags": {"b": "2"}}),
            ("rds-instance", db, {"instance_class": "db.t3.small", "allocated_storage": 30}),
        ]:
            made = adapter.create(rtype, spec, token="tok")
            assert adapter.find(rtype, spec, token="tok") is not None
            adapter.update(rtype, made.provider_resource_id, spec, spec.model_copy(update=change))
            assert adapter.read(rtype, made.provider_resource_id, None) is not None
            adapter.delete(rtype, made.provider_resource_id, None)

    assert plain(moto, "s3").list_buckets()["Buckets"] == []
    assert plain(moto, "rds").describe_db_instances()["DBInstances"] == []


def test_a_missing_permission_fails_permanently_and_points_to_the_policy(
    moto: str,  # noqa: F811
) -> None:
    credentials = iam_user(moto, [a for a in all_actions() if a != "s3:CreateBucket"])

    with moto_iam_auth(moto), pytest.raises(ProviderError) as info:
        adapter_for(moto, credentials).create("s3-bucket", S3BucketSpec(name="sd-no"), token="t")

    assert info.value.permanent and not isinstance(info.value, CredentialsRejected)
    assert info.value.code == "AccessDenied"
    assert "IAM policy" in info.value.message


def test_policy_document_scopes_writes_and_covers_every_action() -> None:
    document = policy()
    statements = {s["Sid"]: s for s in document["Statement"]}
    granted = {a for s in document["Statement"] for a in s["Action"]}

    assert granted == set(all_actions())
    assert statements["S3Buckets"]["Resource"] == "arn:aws:s3:::*"
    assert statements["Ec2ManageOwnInstances"]["Condition"] == {
        "Null": {"aws:ResourceTag/stackdock:token": "false"}
    }
    assert "ec2:TerminateInstances" not in statements["Read"]["Action"]
    assert not any(a.endswith(":*") or a == "*" for a in granted)
    assert policy("aws-cn")["Statement"][1]["Resource"] == "arn:aws-cn:s3:::*"


def test_provider_docs_show_the_current_policy() -> None:
    assert json.dumps(policy(), indent=2) in DOC.read_text()
