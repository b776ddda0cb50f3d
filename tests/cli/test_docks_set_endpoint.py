"""``docks set-endpoint``: a new endpoint goes with the credentials entered again."""

from __future__ import annotations

from tests.cli.conftest import error, page

AWS_DOCK = {
    "id": "5f0c1d1e-0000-4000-8000-00000000000b",
    "name": "aws-main",
    "provider": "aws",
    "endpoint_url": "http://127.0.0.1:5000",
    "credential_fields": ["access_key_id", "secret_access_key"],
    "sync_status": "ok",
}
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
PATH = f"/docks/{AWS_DOCK['id']}"


def test_set_endpoint_sends_the_new_endpoint_with_the_credentials(cli, api):
    api.on("GET", "/docks", json=page([AWS_DOCK]))
    api.on("PATCH", PATH, json={**AWS_DOCK, "endpoint_url": "http://localhost:4566"})
    result = cli(
        "docks",
        "set-endpoint",
        "aws-main",
        "http://localhost:4566",
        "--access-key-id",
        "AKIAIOSFODNN7EXAMPLE",
        env={"STACKDOCK_CREDENTIAL_SECRET_ACCESS_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    body = api.body("PATCH", PATH)
    assert body == {
        "endpoint_url": "http://localhost:4566",
        "credentials": {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET},
    }
    assert "http://localhost:4566" in result.stdout and SECRET not in result.output


def test_set_endpoint_without_the_credentials_sends_nothing(cli, api):
    api.on("GET", "/docks", json=page([AWS_DOCK]))
    result = cli("docks", "set-endpoint", "aws-main", "http://localhost:4566")
    assert result.exit_code == 2
    assert "credentials.secret_access_key: required" in result.stderr
    assert api.sent("PATCH", PATH) == []


def test_a_refused_endpoint_exits_non_zero_naming_the_field(cli, api):
    api.on("GET", "/docks", json=page([AWS_DOCK]))
    api.on(
        "PATCH",
        PATH,
        response=error(
            400,
            "invalid",
            "endpoint_url: host 'evil.example' is not on this installation's endpoint allow-list.",
            fields={"endpoint_url": ["not on this installation's endpoint allow-list"]},
        ),
    )
    result = cli(
        "docks",
        "set-endpoint",
        "aws-main",
        "https://evil.example",
        "--access-key-id",
        "AKIAIOSFODNN7EXAMPLE",
        env={"STACKDOCK_CREDENTIAL_SECRET_ACCESS_KEY": SECRET},
    )
    assert result.exit_code == 2
    assert "endpoint_url" in result.stderr and "allow-list" in result.stderr
