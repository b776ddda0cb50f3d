"""How AwsAdapter classifies failures: transient (retry) or permanent (fail with a message).

moto can't throttle or fail on demand, so these use botocore's Stubber on the
adapter's own clients, or ClientErrors built by hand, for classification only.
Connection refused is real: a loopback port nobody listens on.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
    WaiterError,
)
from botocore.stub import Stubber

from docks.adapters.aws import AwsAdapter
from docks.adapters.aws.errors import to_provider_error
from docks.adapters.aws.specs import S3BucketSpec
from docks.adapters.base import CENSOR, CredentialsRejected, ProviderError

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDS = {"access_key_id": KEY_ID, "secret_access_key": SECRET, "region": "us-east-1"}


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_error(code: str, status: int = 400, message: str = "", **meta: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, **meta},
    }
    return ClientError(response, "AnyOperation")


def classify(exc: BaseException) -> ProviderError:
    error = to_provider_error(exc, action="doing it", secrets=[SECRET, KEY_ID])
    assert error is not None
    return error


@pytest.fixture
def adapter() -> AwsAdapter:
    # Never reached: every call below is stubbed or expected to fail before sending.
    return AwsAdapter(CREDS, endpoint_url=f"http://127.0.0.1:{closed_port()}")


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestThrottled",
        "InternalError",
        "ServiceUnavailable",
        "PriorRequestNotComplete",
        "InsufficientInstanceCapacity",
    ],
)
def test_throttling_and_server_trouble_are_transient(code: str) -> None:
    error = classify(client_error(code))

    assert not error.permanent
    assert error.code == code


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_any_5xx_is_transient_even_with_an_unknown_code(status: int) -> None:
    assert not classify(client_error("SomethingNew", status=status)).permanent


def test_retry_after_header_is_passed_on() -> None:
    error = classify(client_error("SlowDown", status=503, HTTPHeaders={"retry-after": "7"}))

    assert not error.permanent and error.retry_after == 7.0


@pytest.mark.parametrize(
    "code",
    [
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "ExpiredToken",
        "InvalidAccessKeyId",
    ],
)
def test_rejected_credentials_are_permanent_credential_errors(code: str) -> None:
    error = classify(client_error(code, status=403))

    assert isinstance(error, CredentialsRejected)
    assert error.permanent and "rejected the credentials" in error.message


@pytest.mark.parametrize("code", ["AccessDenied", "UnauthorizedOperation"])
def test_missing_permissions_are_permanent_and_point_to_the_policy(code: str) -> None:
    error = classify(client_error(code, status=403))

    assert error.permanent and not isinstance(error, CredentialsRejected)
    assert "not allowed" in error.message and "IAM policy" in error.message


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("BucketAlreadyExists", "bucket name already taken by another account"),
        ("BucketNotEmpty", "bucket is not empty"),
        ("InvalidAMIID.NotFound", "image (AMI) not found"),
        ("VcpuLimitExceeded", "vCPU quota"),
        ("HostedZoneNotEmpty", "delete them first"),
        ("IdempotentParameterMismatch", "different parameters"),
    ],
)
def test_known_errors_get_messages_a_user_can_act_on(code: str, phrase: str) -> None:
    error = classify(client_error(code, status=409, message="raw aws text"))

    assert error.permanent
    assert phrase in error.message and code in error.message
    assert "raw aws text" not in error.message


def test_validation_errors_are_permanent_and_keep_aws_explanation() -> None:
    error = classify(client_error("InvalidParameterValue", message="Value (x) for y is invalid"))

    assert error.permanent
    assert "Value (x) for y is invalid" in error.message


def test_credentials_echoed_by_aws_are_censored_in_messages() -> None:
    error = classify(client_error("InvalidParameterValue", message=f"bad {KEY_ID} and {SECRET}"))

    assert KEY_ID not in error.message and SECRET not in error.message
    assert CENSOR in error.message


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_network_failures_are_transient(exc: Exception) -> None:
    error = classify(exc)

    assert not error.permanent and error.code == type(exc).__name__


def test_waiter_running_out_of_attempts_is_transient() -> None:
    exc = WaiterError(name="InstanceRunning", reason="Max attempts exceeded", last_response={})

    assert not classify(exc).permanent


def test_waiter_hitting_a_failure_state_is_permanent() -> None:
    exc = WaiterError(
        name="InstanceRunning",
        reason="Waiter encountered a terminal failure state",
        last_response={"Reservations": []},
    )

    assert classify(exc).permanent


def test_bad_request_parameters_are_permanent() -> None:
    assert classify(ParamValidationError(report="Invalid length for Bucket")).permanent


def test_non_aws_exceptions_are_not_classified() -> None:
    assert to_provider_error(ValueError("bug"), action="x") is None


# --- through the adapter ------------------------------------------------------------


def test_connection_refused_is_transient_through_the_adapter(adapter: AwsAdapter) -> None:
    with pytest.raises(ProviderError) as info:
        adapter.create("s3-bucket", S3BucketSpec(name="sd-nowhere"), token="t")

    assert not info.value.permanent
    assert info.value.code == "EndpointConnectionError"
    assert "creating s3-bucket 'sd-nowhere'" in info.value.message


def test_connection_refused_while_validating_raises_rather_than_reporting_bad_keys(
    adapter: AwsAdapter,
) -> None:
    with pytest.raises(ProviderError) as info:
        adapter.validate_credentials()

    assert not info.value.permanent


def test_stubbed_throttling_on_validate_is_a_transient_error(adapter: AwsAdapter) -> None:
    sts = adapter.clients().client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", service_error_code="Throttling")
        with pytest.raises(ProviderError) as info:
            adapter.validate_credentials()

    assert not info.value.permanent and info.value.code == "Throttling"


def test_stubbed_expired_token_makes_validation_report_not_ok(adapter: AwsAdapter) -> None:
    sts = adapter.clients().client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity", service_error_code="ExpiredToken", http_status_code=403
        )
        check = adapter.validate_credentials()

    assert not check.ok and check.reason == "AWS rejected the credentials: ExpiredToken"


def test_stubbed_server_error_on_read_is_transient_and_named(adapter: AwsAdapter) -> None:
    s3 = adapter.clients().client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error(
            "get_bucket_location", service_error_code="InternalError", http_status_code=500
        )
        with pytest.raises(ProviderError) as info:
            adapter.read("s3-bucket", "sd-data", None)

    assert not info.value.permanent
    assert "reading s3-bucket 'sd-data'" in info.value.message


def test_translated_errors_drop_the_botocore_chain(adapter: AwsAdapter) -> None:
    s3 = adapter.clients().client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("get_bucket_location", service_error_code="AccessDenied")
        with pytest.raises(ProviderError) as info:
            adapter.read("s3-bucket", "sd-data", None)

    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unknown_resource_type_is_permanent_and_lists_valid_ones(adapter: AwsAdapter) -> None:
    with pytest.raises(ProviderError) as info:
        adapter.read("lambda-function", "x", None)

    assert info.value.permanent and "s3-bucket" in info.value.message


def test_spec_of_the_wrong_type_is_refused(adapter: AwsAdapter) -> None:
    with pytest.raises(ProviderError) as info:
        adapter.create("ec2-instance", S3BucketSpec(name="sd-x"), token="t")

    assert info.value.permanent and "Ec2InstanceSpec" in info.value.message


def test_endpoint_override_must_be_http() -> None:
    adapter = AwsAdapter(CREDS, endpoint_url="ftp://example.com")

    with pytest.raises(ProviderError) as info:
        adapter.read("s3-bucket", "x", None)

    assert info.value.permanent and info.value.code == "endpoint_refused"
    assert "http://" in info.value.message
