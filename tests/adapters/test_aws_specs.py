"""AWS spec models refuse bad input, naming the field and the rule, before anything is queued."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from docks.adapters.aws import AwsAdapter
from docks.adapters.aws.specs import (
    Ec2InstanceSpec,
    RdsInstanceSpec,
    Route53RecordSpec,
    Route53ZoneSpec,
    S3BucketSpec,
)

EC2 = {"name": "web", "image_id": "ami-0123456789abcdef0", "instance_type": "t3.micro"}
RDS = {
    "name": "orders",
    "engine": "postgres",
    "instance_class": "db.t3.micro",
    "allocated_storage": 20,
    "master_username": "app",
}
RECORD = {"zone": "example.com", "name": "www", "type": "A", "values": ["192.0.2.1"]}


def refused(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    """``{field: message}`` of every error pydantic reports."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in info.value.errors()}


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("my_bucket", "lowercase"),
        ("-bucket", "start and end"),
        ("bucket.", "start and end"),
        ("my..bucket", "adjacent dots"),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "xn--"),
        ("data-s3alias", "-s3alias"),
    ],
)
def test_bucket_name_rules(name: str, rule: str) -> None:
    errors = refused(S3BucketSpec, {"name": name})

    assert list(errors) == ["name"] and rule in errors["name"]


@pytest.mark.parametrize("name", ["abc", "my-bucket.logs", "a" * 63, "1bucket9"])
def test_good_bucket_names_are_accepted(name: str) -> None:
    assert S3BucketSpec(name=name).name == name


@pytest.mark.parametrize(
    ("tags", "rule"),
    [
        ({"aws:owner": "x"}, "reserved"),
        ({"stackdock:token": "x"}, "reserved"),
        ({"k" * 129: "x"}, "1 to 128"),
        ({"k": "v" * 257}, "256"),
        ({"k": "bad\nvalue"}, "may contain only"),
        ({f"k{i}": "v" for i in range(49)}, "at most 48"),
    ],
)
def test_tag_rules(tags: dict[str, str], rule: str) -> None:
    errors = refused(S3BucketSpec, {"name": "my-bucket", "tags": tags})

    assert rule in errors["tags"]


def test_bucket_region_must_be_a_real_region() -> None:
    errors = refused(S3BucketSpec, {"name": "my-bucket", "region": "eu-west-9"})

    assert "unknown AWS region" in errors["region"]


def test_unknown_fields_are_refused_not_ignored() -> None:
    errors = refused(S3BucketSpec, {"name": "my-bucket", "acl": "public-read"})

    assert list(errors) == ["acl"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image_id", "ami-123"),
        ("image_id", "img-0123456789abcdef0"),
        ("instance_type", "t3"),
        ("instance_type", "T3.Micro"),
        ("name", ""),
    ],
)
def test_ec2_fields_are_checked(field: str, value: str) -> None:
    assert field in refused(Ec2InstanceSpec, {**EC2, field: value})


def test_ec2_name_tag_must_come_from_the_name_field() -> None:
    errors = refused(Ec2InstanceSpec, {**EC2, "tags": {"Name": "other"}})

    assert "'name' field" in errors["tags"]


@pytest.mark.parametrize(
    "instance_type", ["t3.micro", "m7i-flex.large", "u-6tb1.metal", "c5.24xlarge"]
)
def test_ec2_instance_type_shapes_are_accepted(instance_type: str) -> None:
    assert Ec2InstanceSpec(**{**EC2, "instance_type": instance_type}).instance_type == instance_type


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("1orders", "start with a letter"),
        ("or--ders", "two consecutive hyphens"),
        ("orders-", "end with a hyphen"),
        ("or_ders", "letters, digits and hyphens"),
        ("o" * 64, "1 to 63"),
    ],
)
def test_db_identifier_rules(name: str, rule: str) -> None:
    errors = refused(RdsInstanceSpec, {**RDS, "name": name})

    assert rule in errors["name"]


def test_db_identifier_is_stored_lowercase_like_aws_does() -> None:
    assert RdsInstanceSpec(**{**RDS, "name": "Orders-DB"}).name == "orders-db"


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"engine": "oracle-ee"}, "engine", "postgres"),
        ({"instance_class": "t3.micro"}, "instance_class", "pattern"),
        ({"allocated_storage": 19}, "allocated_storage", "20"),
        ({"allocated_storage": 65537}, "allocated_storage", "65536"),
        ({"engine_version": "latest"}, "engine_version", "pattern"),
        ({"master_username": "1app"}, "master_username", "start with a letter"),
        ({"master_username": "rdsadmin"}, "master_username", "reserved"),
        ({"engine": "mysql", "master_username": "a" * 17}, "master_username", "16"),
        ({"master_password": "hunter2"}, "master_password", "not permitted"),
    ],
)
def test_db_fields_are_checked(changes: dict[str, Any], field: str, rule: str) -> None:
    errors = refused(RdsInstanceSpec, {**RDS, **changes})

    assert rule in errors[field]


def test_postgres_allows_longer_master_usernames_than_mysql() -> None:
    assert RdsInstanceSpec(**{**RDS, "master_username": "a" * 40}).master_username == "a" * 40


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("localhost", "at least 2 labels"),
        ("-bad.example.com", "label '-bad'"),
        ("under_score.com", "label 'under_score'"),
        ("a" * 64 + ".com", "1-63"),
    ],
)
def test_zone_name_rules(name: str, rule: str) -> None:
    assert rule in refused(Route53ZoneSpec, {"name": name})["name"]


def test_zone_name_is_normalized() -> None:
    assert Route53ZoneSpec(name="Example.COM.").name == "example.com"


@pytest.mark.parametrize(
    ("record_type", "values", "rule"),
    [
        ("A", ["300.1.1.1"], "IPv4"),
        ("A", ["2001:db8::1"], "IPv4"),
        ("AAAA", ["192.0.2.1"], "IPv6"),
        ("CNAME", ["a.example.com", "b.example.com"], "exactly one"),
        ("MX", ["mail.example.com"], "priority host"),
        ("MX", ["70000 mail.example.com"], "65535"),
        ("SRV", ["10 5 sip.example.com"], "priority weight port target"),
        ("CAA", ["0 issue letsencrypt.org"], "flags tag"),
        ("TXT", ["caf\u00e9"], "printable ASCII"),
        ("A", ["192.0.2.1", "192.0.2.1"], "repeat"),
        ("NS", ["bad_label-.example.com"], "label"),
    ],
)
def test_record_values_are_checked_per_type(record_type: str, values: list[str], rule: str) -> None:
    errors = refused(Route53RecordSpec, {**RECORD, "type": record_type, "values": values})

    assert rule in errors["values"]


@pytest.mark.parametrize(
    ("record_type", "values"),
    [
        ("A", ["192.0.2.1"]),
        ("AAAA", ["2001:db8::1"]),
        ("CNAME", ["target.example.net."]),
        ("MX", ["10 mail.example.com", "20 backup.example.com"]),
        ("SRV", ["10 5 5060 sip.example.com"]),
        ("CAA", ['0 issue "letsencrypt.org"']),
        ("TXT", ['v=spf1 include:_spf.example.com ~all "quoted"']),
        ("NS", ["ns-1.awsdns-1.org"]),
    ],
)
def test_good_record_values_are_accepted(record_type: str, values: list[str]) -> None:
    spec = Route53RecordSpec(**{**RECORD, "type": record_type, "values": values})

    assert spec.values == values


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "ALIAS"}, "type"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": 2147483648}, "ttl"),
        ({"values": []}, "values"),
        ({"zone": "not a zone!"}, "zone"),
        ({"name": "bad name"}, "name"),
    ],
)
def test_record_fields_are_checked(changes: dict[str, Any], field: str) -> None:
    assert field in refused(Route53RecordSpec, {**RECORD, **changes})


def test_record_zone_id_and_names_are_normalized() -> None:
    spec = Route53RecordSpec(
        **{**RECORD, "zone": "/hostedzone/Z0ABC123", "name": "*.WWW.example.com."}
    )

    assert (spec.zone, spec.name) == ("Z0ABC123", "*.www.example.com")
    assert Route53RecordSpec(**{**RECORD, "name": "@"}).name == "@"


def test_every_resource_type_is_registered_with_its_table_and_replace_fields() -> None:
    types = AwsAdapter.resource_types

    assert {name: t.table for name, t in types.items()} == {
        "s3-bucket": "buckets",
        "ec2-instance": "servers",
        "rds-instance": "databases",
        "route53-zone": "domains",
        "route53-record": None,
    }
    assert types["s3-bucket"].replace_fields == {"name", "region"}
    assert {"image_id"} <= types["ec2-instance"].replace_fields
    assert "instance_type" not in types["ec2-instance"].replace_fields
    assert {"name", "engine"} <= types["rds-instance"].replace_fields
    assert types["route53-zone"].replace_fields == {"name"}
    assert types["route53-record"].replace_fields == {"zone", "name", "type"}
    assert AwsAdapter.provider == "aws" and AwsAdapter.label == "Amazon Web Services"


def test_spec_models_have_json_schemas_for_forms() -> None:
    for resource_type in AwsAdapter.resource_types.values():
        schema = resource_type.spec_model.model_json_schema()
        assert schema["properties"] and schema.get("additionalProperties") is False
