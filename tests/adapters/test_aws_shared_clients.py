"""boto3 clients kept across operations: per credentials, endpoint and wait policy."""

from __future__ import annotations

from typing import Any

import pytest

from docks.adapters.aws import AwsAdapter, AwsCredentials
from docks.adapters.aws.session import SharedClients, WaitPolicy
from docks.adapters.aws.specs import S3BucketSpec
from tests.fixtures.moto_server import moto, moto_iam_auth, moto_server  # noqa: F401

from .test_aws_credentials import KEY_ID, SECRET, allowed_iam_user, creds


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def credentials(**overrides: Any) -> AwsCredentials:
    return AwsCredentials.model_validate(creds(**overrides))


def test_the_same_credentials_and_endpoint_share_one_set_of_clients() -> None:
    shared = SharedClients()
    first = shared.get(credentials(), "http://127.0.0.1:9", WaitPolicy())
    assert shared.get(credentials(), "http://127.0.0.1:9", WaitPolicy()) is first
    assert first.client("s3") is shared.get(
        credentials(), "http://127.0.0.1:9", WaitPolicy()
    ).client("s3")


@pytest.mark.parametrize(
    ("change", "endpoint", "wait"),
    [
        ({"secret_access_key": "x" * 40}, "http://127.0.0.1:9", WaitPolicy()),
        ({"session_token": "token-value", "access_key_id": "ASIAIOSFODNN7EXAMPLE"}, None, None),
        ({"region": "eu-west-1"}, "http://127.0.0.1:9", WaitPolicy()),
        ({}, "http://127.0.0.1:10", WaitPolicy()),
        ({}, "http://127.0.0.1:9", WaitPolicy(delay=1, max_attempts=2)),
    ],
)
def test_other_credentials_endpoint_or_wait_policy_get_their_own_clients(
    change, endpoint, wait
) -> None:
    shared = SharedClients()
    base = shared.get(credentials(), "http://127.0.0.1:9", WaitPolicy())
    other = shared.get(credentials(**change), endpoint, wait or WaitPolicy())
    assert other is not base


def test_entries_expire_and_the_oldest_is_evicted_first() -> None:
    clock = Clock()
    shared = SharedClients(max_entries=2, max_age=600, clock=clock)
    a = shared.get(credentials(), None, WaitPolicy())
    clock.now = 599
    assert shared.get(credentials(), None, WaitPolicy()) is a
    clock.now = 600
    renewed = shared.get(credentials(), None, WaitPolicy())
    assert renewed is not a
    b = shared.get(credentials(region="eu-west-1"), None, WaitPolicy())
    c = shared.get(credentials(region="eu-central-1"), None, WaitPolicy())
    assert shared.get(credentials(region="eu-west-1"), None, WaitPolicy()) is b
    assert shared.get(credentials(region="eu-central-1"), None, WaitPolicy()) is c
    assert shared.get(credentials(), None, WaitPolicy()) is not renewed  # evicted


def test_a_lookup_drops_every_expired_entry_not_only_its_own() -> None:
    clock = Clock()
    shared = SharedClients(max_age=600, clock=clock)
    shared.get(credentials(region="eu-west-1"), None, WaitPolicy())
    clock.now = 300
    kept = shared.get(credentials(region="eu-central-1"), None, WaitPolicy())
    assert len(shared) == 2
    clock.now = 600  # the first entry is 600 s old, the second 300 s
    assert shared.get(credentials(region="eu-central-1"), None, WaitPolicy()) is kept
    assert len(shared) == 1  # the other credentials' clients are gone from memory


def test_the_key_never_holds_the_secret_itself() -> None:
    key = SharedClients.key(credentials(), None, WaitPolicy())
    assert SECRET not in key and KEY_ID not in key and len(key) == 64


def test_adapters_of_one_dock_reuse_clients_and_a_rotation_takes_effect_at_once(
    moto: str,  # noqa: F811
) -> None:
    iam = allowed_iam_user(moto, "rotating")
    old = iam.create_access_key(UserName="rotating")["AccessKey"]
    new = iam.create_access_key(UserName="rotating")["AccessKey"]

    def adapter(key: dict[str, str]) -> AwsAdapter:
        return AwsAdapter(
            creds(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]),
            endpoint_url=moto,
        )

    first = adapter(old)
    first.create("s3-bucket", S3BucketSpec(name="sd-shared-1"), token="t1")
    assert adapter(old).clients() is first.clients()  # the next operation: no new session
    iam.delete_access_key(UserName="rotating", AccessKeyId=old["AccessKeyId"])
    with moto_iam_auth(moto):
        rotated = adapter(new)
        assert rotated.clients() is not first.clients()
        assert rotated.validate_credentials().ok
        assert not adapter(old).validate_credentials().ok
