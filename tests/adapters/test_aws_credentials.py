"""AWS credentials: validation against a real moto server that checks signatures.

moto accepts any keys by default; ``moto_iam_auth`` turns on its IAM
authentication so wrong keys are rejected by the server itself.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from docks.adapters.aws import AwsAdapter, AwsCredentials
from docks.adapters.aws.specs import S3BucketSpec
from docks.adapters.base import CredentialsRejected, ProviderError
from tests.fixtures.moto_server import moto, moto_iam_auth, moto_server  # noqa: F401

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def creds(**overrides: Any) -> dict[str, Any]:
    return {"access_key_id": KEY_ID, "secret_access_key": SECRET, "region": "us-east-1"} | overrides


def allowed_iam_user(moto_url: str, name: str) -> Any:
    """An IAM client, once user ``name`` exists and is allowed everything (made while
    moto still accepts anyone)."""
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
    return iam


@pytest.fixture
def iam_user_keys(moto: str) -> dict[str, str]:  # noqa: F811
    """Keys of an IAM user allowed everything."""
    key = allowed_iam_user(moto, "dock").create_access_key(UserName="dock")["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def test_valid_credentials_report_account_and_arn(moto: str) -> None:  # noqa: F811
    check = AwsAdapter(creds(), endpoint_url=moto).validate_credentials()

    assert check.ok
    assert check.identity == {
        "account": "123456789012",
        "arn": "arn:aws:sts::123456789012:user/moto",
    }


def test_iam_user_keys_pass_when_the_server_checks_signatures(
    moto: str,  # noqa: F811
    iam_user_keys: dict[str, str],
) -> None:
    with moto_iam_auth(moto):
        check = AwsAdapter(creds(**iam_user_keys), endpoint_url=moto).validate_credentials()

    assert check.ok, check.reason
    assert check.identity["arn"] == "arn:aws:iam::123456789012:user/dock"


def test_unknown_access_key_is_rejected_by_the_server(
    moto: str,  # noqa: F811
    iam_user_keys: dict[str, str],
) -> None:
    with moto_iam_auth(moto):
        check = AwsAdapter(creds(), endpoint_url=moto).validate_credentials()

    assert not check.ok
    assert check.reason == "AWS rejected the credentials: InvalidClientTokenId"
    assert check.identity == {}


def test_wrong_secret_is_rejected_as_signature_mismatch_without_echoing_it(
    moto: str,  # noqa: F811
    iam_user_keys: dict[str, str],
) -> None:
    wrong = creds(access_key_id=iam_user_keys["access_key_id"], secret_access_key="x" * 40)

    with moto_iam_auth(moto):
        check = AwsAdapter(wrong, endpoint_url=moto).validate_credentials()

    assert not check.ok
    assert check.reason == "AWS rejected the credentials: SignatureDoesNotMatch"
    assert "x" * 40 not in repr(check)


def test_rejected_credentials_fail_a_create_permanently_without_leaking_them(
    moto: str,  # noqa: F811
    iam_user_keys: dict[str, str],
) -> None:
    adapter = AwsAdapter(creds(), endpoint_url=moto)

    with moto_iam_auth(moto), pytest.raises(CredentialsRejected) as info:
        adapter.create("s3-bucket", S3BucketSpec(name="sd-denied"), token="t")

    error = info.value
    assert error.permanent and error.code == "InvalidAccessKeyId"
    shown = f"{error} {error!r} {error.message} {error.__cause__} {error.__context__}"
    assert SECRET not in shown and KEY_ID not in shown


def test_environment_credentials_are_never_used(
    moto: str,  # noqa: F811
    iam_user_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", iam_user_keys["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", iam_user_keys["secret_access_key"])
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    with moto_iam_auth(moto):
        check = AwsAdapter(creds(), endpoint_url=moto).validate_credentials()

    assert not check.ok  # the dock's own (unknown) key was used, not the valid env one
    assert check.reason == "AWS rejected the credentials: InvalidClientTokenId"


def test_temporary_credentials_with_session_token_work(moto: str) -> None:  # noqa: F811
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=moto,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    temp = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/dock", RoleSessionName="sd")[
        "Credentials"
    ]
    adapter = AwsAdapter(
        creds(
            access_key_id=temp["AccessKeyId"],
            secret_access_key=temp["SecretAccessKey"],
            session_token=temp["SessionToken"],
        ),
        endpoint_url=moto,
    )

    check = adapter.validate_credentials()

    assert check.ok and check.identity["account"] == "222222222222"


def test_malformed_credentials_fail_validation_naming_the_field_not_the_value() -> None:
    bad_secret = "s" * 129
    adapter = AwsAdapter(creds(access_key_id="not-a-key", secret_access_key=bad_secret))

    check = adapter.validate_credentials()

    assert not check.ok
    assert "access_key_id" in check.reason and "secret_access_key" in check.reason
    assert "not-a-key" not in check.reason and bad_secret not in check.reason


def test_malformed_credentials_make_operations_fail_permanently() -> None:
    adapter = AwsAdapter({"secret_access_key": SECRET})

    with pytest.raises(ProviderError) as info:
        adapter.read("s3-bucket", "anything", None)

    assert info.value.permanent and info.value.code == "invalid_credentials"
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"access_key_id": "BKIAIOSFODNN7EXAMPLE"}, "access_key_id"),
        ({"access_key_id": "AKIA123"}, "access_key_id"),
        ({"region": "us-east-9"}, "region"),
        ({"region": "mars-1"}, "region"),
        ({"sync_regions": ["eu-west-1", "nowhere"]}, "sync_regions"),
        ({"access_key_id": "ASIAIOSFODNN7EXAMPLE"}, None),  # temporary key without token
        ({"extra": "field"}, "extra"),
    ],
)
def test_credentials_model_refuses_bad_input(overrides: dict[str, Any], field: str | None) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        AwsCredentials.model_validate(creds(**overrides))

    locs = [e["loc"] for e in info.value.errors()]
    if field is None:
        assert "session_token" in str(info.value)
    else:
        assert any(loc and loc[0] == field for loc in locs)


def test_credentials_model_marks_secret_fields_and_hides_them() -> None:
    model = AwsCredentials.model_validate(creds(session_token="tok" * 20))

    assert AwsCredentials.secret_fields() == {"secret_access_key", "session_token"}
    assert SECRET not in repr(model) and "tok" * 20 not in repr(model)
    assert model.limited_regions() is None  # no limit: sync scans every enabled region


def test_adapter_and_clients_reprs_hide_credentials(moto: str) -> None:  # noqa: F811
    adapter = AwsAdapter(creds(), endpoint_url=moto)
    adapter.validate_credentials()

    shown = repr(adapter) + repr(adapter.clients()) + repr(adapter.clients()._session)
    assert SECRET not in shown and KEY_ID not in shown
