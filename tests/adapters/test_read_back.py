"""``Adapter.read_back``: what an import reads (docs/ENGINE.md, "What StackDock
promises", 7). For every resource type with a universal table, a resource made from a
spec reads back as that spec (moto server, the Cloudflare emulator, the sandbox); what a
spec cannot hold is left out with a note, or refuses the import; nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docks.adapters.aws import AwsAdapter
from docks.adapters.aws.resources.base import ResourceHandler
from docks.adapters.aws.specs import (
    Ec2InstanceSpec,
    RdsInstanceSpec,
    Route53ZoneSpec,
    S3BucketSpec,
)
from docks.adapters.base import Adapter, NotImportable, SpecModel
from docks.adapters.cloudflare import (
    CloudflareAdapter,
    D1DatabaseSpec,
    R2BucketSpec,
    WorkerSpec,
    ZoneSpec,
)
from docks.adapters.cloudflare.adapter import _HANDLERS
from docks.adapters.cloudflare.context import Handler
from docks.adapters.sandbox import SandboxAdapter
from docks.adapters.sandbox.backend import InMemorySandboxBackend
from provisioning.engine.planner import effective
from provisioning.registry import get_registry
from tests.adapters.test_aws_adapter import Plain, first_ami, make_adapter
from tests.fakes.cloudflare import fixtures as cf_fixtures
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID
from tests.fixtures.moto_server import moto, moto_server  # noqa: F401

cf_adapter = cf_fixtures.cf_adapter
cf_client = cf_fixtures.cf_client
cf_emulator = cf_fixtures.cf_emulator
cf_emulator_server = cf_fixtures.cf_emulator_server

SCRIPT = "export default { async fetch() { return new Response('hi') } }"


def _same_spec(adapter_cls: type[Adapter], rtype: str, read: dict, spec: SpecModel) -> None:
    """What was read, validated like an import does, is what the spec said (both with
    the dock's defaults filled in, as state records them)."""
    registry = get_registry()
    resource_type = registry.resource_type(adapter_cls.provider, rtype)
    defaults = {"region": "us-east-1"} if adapter_cls is AwsAdapter else {}
    got = registry.validate(adapter_cls.provider, rtype, read).model_dump(mode="json")
    want = spec.model_dump(mode="json")
    assert effective(got, resource_type, defaults) == effective(want, resource_type, defaults)


# --- every type with a table has a read-back -------------------------------------------------


def _read_backs() -> list[tuple[str, str]]:
    registry = get_registry()
    return [
        (provider, rtype.name)
        for provider in registry.providers()
        for rtype in registry.adapter_class(provider).resource_types.values()
        if rtype.table is not None
    ]


@pytest.mark.parametrize(("provider", "rtype"), _read_backs())
def test_every_resource_type_with_a_table_can_be_read_back(provider, rtype):
    """A new type with a table and no way to read it back for an import fails here."""
    cls = get_registry().adapter_class(provider)
    assert cls.read_back is not Adapter.read_back
    if cls is AwsAdapter:
        handler = cls.handlers[rtype]
        assert handler.spec_from is not ResourceHandler.spec_from
    if cls is CloudflareAdapter:
        handler = _HANDLERS[rtype]
        assert (handler.spec_from is not Handler.spec_from) or (
            handler.read_back is not Handler.read_back
        )


# --- the sandbox ------------------------------------------------------------------------------


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rtype=st.sampled_from(sorted(SandboxAdapter.resource_types)),
    name=st.from_regex(r"\A[a-z0-9][a-z0-9.-]{0,20}\Z"),
    size=st.none() | st.from_regex(r"\A[a-z0-9]{1,10}\Z"),
)
def test_a_sandbox_resource_reads_back_as_its_spec(rtype, name, size):
    adapter = SandboxAdapter(backend=InMemorySandboxBackend())
    spec = SandboxAdapter.resource_types[rtype].spec_model(name=name, size=size)
    made = adapter.create(rtype, spec, token="t")
    back = adapter.read_back(rtype, made.provider_resource_id)
    assert back is not None and back.result.provider_resource_id == made.provider_resource_id
    _same_spec(SandboxAdapter, rtype, back.properties, spec)
    assert adapter.read_back(rtype, "srv-gone") is None


# --- AWS (moto server) ------------------------------------------------------------------------


@pytest.fixture
def aws(moto: str) -> AwsAdapter:  # noqa: F811
    return make_adapter(moto)


@pytest.fixture
def plain(moto: str) -> Plain:  # noqa: F811
    import boto3
    from botocore.config import Config

    from tests.adapters.test_aws_adapter import KEY_ID, SECRET

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


S3_SPECS = [
    S3BucketSpec(name="rb-plain"),
    S3BucketSpec(name="rb-versioned", versioning=True, tags={"team": "web", "cost": "1"}),
    S3BucketSpec(name="rb-west", region="eu-west-1", tags={"a": "b"}),
]


@pytest.mark.parametrize("spec", S3_SPECS, ids=lambda s: s.name)
def test_an_s3_bucket_reads_back_as_its_spec(aws, spec):
    made = aws.create("s3-bucket", spec, token="t")
    back = aws.read_back("s3-bucket", made.provider_resource_id)
    assert back is not None and back.notes == []
    _same_spec(AwsAdapter, "s3-bucket", back.properties, spec)


def test_reserved_tags_are_left_out_with_a_note_and_a_gone_bucket_is_none(aws, plain):
    s3 = plain("s3")
    s3.create_bucket(Bucket="rb-theirs")
    s3.put_bucket_tagging(
        Bucket="rb-theirs",
        Tagging={"TagSet": [{"Key": "stackdock:token", "Value": "x"}, {"Key": "o", "Value": "1"}]},
    )
    back = aws.read_back("s3-bucket", "rb-theirs")
    assert back is not None and back.properties["tags"] == {"o": "1"}
    assert "stackdock:token" in back.notes[0]
    assert aws.read_back("s3-bucket", "rb-never-made") is None


def test_an_ec2_instance_reads_back_as_its_spec_and_one_without_a_name_tag_by_its_id(aws, plain):
    ami = first_ami(plain)
    spec = Ec2InstanceSpec(name="web-1", image_id=ami, instance_type="t3.micro", tags={"a": "b"})
    made = aws.create("ec2-instance", spec, token="t")
    back = aws.read_back("ec2-instance", made.provider_resource_id)
    assert back is not None
    _same_spec(AwsAdapter, "ec2-instance", back.properties, spec)

    bare = plain("ec2").run_instances(ImageId=ami, InstanceType="t3.small", MinCount=1, MaxCount=1)
    instance_id = bare["Instances"][0]["InstanceId"]
    back = aws.read_back("ec2-instance", f"us-east-1/{instance_id}")
    assert back is not None and back.properties["name"] == instance_id
    assert "no Name tag" in back.notes[0]


def test_an_rds_instance_reads_back_as_its_spec(aws):
    spec = RdsInstanceSpec(
        name="orders",
        engine="postgres",
        engine_version="16.3",
        instance_class="db.t3.micro",
        allocated_storage=20,
        master_username="app",
    )
    made = aws.create("rds-instance", spec, token="t")
    back = aws.read_back("rds-instance", made.provider_resource_id)
    assert back is not None
    _same_spec(AwsAdapter, "rds-instance", back.properties, spec)


def test_a_route53_zone_reads_back_and_a_private_one_is_not_importable(aws, plain):
    spec = Route53ZoneSpec(name="example.com")
    made = aws.create("route53-zone", spec, token="t")
    back = aws.read_back("route53-zone", made.provider_resource_id)
    assert back is not None
    _same_spec(AwsAdapter, "route53-zone", back.properties, spec)

    vpc = plain("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    private = plain("route53").create_hosted_zone(
        Name="internal.example.com",
        CallerReference="private",
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        HostedZoneConfig={"PrivateZone": True},
    )
    zone_id = private["HostedZone"]["Id"].rsplit("/", 1)[-1]
    with pytest.raises(NotImportable, match="is private"):
        aws.read_back("route53-zone", zone_id)


# --- Cloudflare (the emulator) ----------------------------------------------------------------

CF_SPECS: list[tuple[str, SpecModel]] = [
    ("zone", ZoneSpec(name="example.com")),
    ("zone", ZoneSpec(name="partial.example", type="partial")),
    ("worker", WorkerSpec(name="hello", script=SCRIPT, compatibility_date="2025-01-15")),
    ("r2-bucket", R2BucketSpec(name="assets")),
    ("r2-bucket", R2BucketSpec(name="cold", location_hint="weur", storage_class="Standard")),
    ("d1-database", D1DatabaseSpec(name="app")),
    ("d1-database", D1DatabaseSpec(name="replicated", read_replication="auto")),
]


@pytest.mark.parametrize(("rtype", "spec"), CF_SPECS, ids=lambda x: getattr(x, "name", x))
def test_a_cloudflare_resource_reads_back_as_its_spec_with_reads_only(
    cf_adapter, cf_emulator, rtype, spec
):
    made = cf_adapter.create(rtype, spec, token="t")
    before = len(cf_emulator.requests)
    back = cf_adapter.read_back(rtype, made.provider_resource_id)
    assert back is not None
    assert {r.method for r in cf_emulator.requests[before:]} == {"GET"}
    # optional fields the create left to Cloudflare (an R2 bucket's location and
    # storage class, a D1 database's replication) read back as what it chose
    for name, value in spec.model_dump().items():
        if value is None and back.properties.get(name) is not None:
            back.properties.pop(name)
    _same_spec(CloudflareAdapter, rtype, back.properties, spec)
    assert cf_adapter.read_back(rtype, "0" * 32 if rtype != "worker" else "gone") is None


def test_a_d1_database_says_its_location_hint_is_not_reported(cf_adapter, cf_emulator):
    made = cf_adapter.create("d1-database", D1DatabaseSpec(name="app"), token="t")
    back = cf_adapter.read_back("d1-database", made.provider_resource_id)
    assert back is not None and "primary_location_hint" in back.notes[0]


def test_a_worker_reads_back_its_script_and_one_with_flags_is_not_importable(
    cf_adapter, cf_client, cf_emulator
):
    cf_adapter.create("worker", WorkerSpec(name="hello", script=SCRIPT), token="t")
    back = cf_adapter.read_back("worker", "hello")
    assert back is not None and back.properties["script"] == SCRIPT
    assert "bindings" in back.notes[0]

    cf_client.workers.scripts.update(
        "flagged",
        account_id=CF_ACCOUNT_ID,
        metadata={
            "main_module": "w.mjs",
            "compatibility_date": "2025-01-15",
            "compatibility_flags": ["nodejs_compat"],
        },
        files=[("w.mjs", SCRIPT.encode(), "application/javascript+module")],
    )
    with pytest.raises(NotImportable, match="nodejs_compat"):
        cf_adapter.read_back("worker", "flagged")
