"""``stackdock provision``: schema-driven flags, local validation, dock choice, waiting."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import error, event, operation, page

RECEIPT = {
    "provision_id": 42,
    "kind": "provision",
    "status": "queued",
    "status_url": "http://stackdock.test/api/v1/operations/42",
    "resource_id": 12,
    "resource_table": "buckets",
    "stack": None,
    "dock": "5f0c1d1e-0000-4000-8000-000000000001",
}
AWS_DOCK = {"id": "5f0c1d1e-0000-4000-8000-000000000001", "name": "aws-main", "provider": "aws"}
CF_DOCK = {"id": "5f0c1d1e-0000-4000-8000-000000000002", "name": "cf", "provider": "cloudflare"}
BUCKET_ROW = {
    "id": 12,
    "name": "my-bucket",
    "provisioning_state": "provisioned",
    "provider_resource_id": "my-bucket",
}


@pytest.fixture
def provisioning(api):
    """A server where the provision succeeds after one running poll."""
    api.on("GET", "/docks", json=page([AWS_DOCK, CF_DOCK]))
    api.on("POST", "/provision", json=RECEIPT, status=202)
    api.on(
        "GET",
        "/operations/42",
        json=operation(42, "running", [event(1, "my-bucket", "create", "started")]),
    )
    api.on(
        "GET",
        "/operations/42",
        json=operation(42, "succeeded", [event(2, "my-bucket", "create", "succeeded")]),
        replace=False,
    )
    api.on("GET", "/buckets/12", json=BUCKET_ROW)
    return api


def test_seed_example_provisions_on_the_only_aws_dock_and_waits(cli, provisioning):
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket", "--region", "us-east-1")
    assert result.exit_code == 0, result.output
    body = provisioning.body("POST", "/provision")
    assert body == {
        "dock": AWS_DOCK["id"],
        "resource_type": "s3-bucket",
        "spec": {"name": "my-bucket", "region": "us-east-1"},
    }
    assert provisioning.sent("POST", "/provision")[0].headers["Idempotency-Key"].startswith("cli-")
    lines = result.stdout.splitlines()
    assert any("my-bucket  create  started" in line for line in lines)
    assert any("my-bucket  create  succeeded" in line for line in lines)
    assert "provision #42 (buckets/12) succeeded." in result.stdout
    assert "provider id: my-bucket" in result.stdout
    # polls ask only for new events after the first answer
    polls = provisioning.sent("GET", "/operations/42")
    assert "events_after" not in polls[0].url.params
    assert polls[1].url.params["events_after"] == "1"


def test_seed_cloudflare_example_sends_the_script_file_content(
    cli, provisioning, tmp_path, monkeypatch
):
    source = "export default { async fetch() { return new Response('hello') } };\n"
    (tmp_path / "worker.js").write_text(source)
    monkeypatch.chdir(tmp_path)
    result = cli(
        "provision", "cloudflare", "worker", "--name", "my-worker", "--script", "./worker.js"
    )
    assert result.exit_code == 0, result.output
    body = provisioning.body("POST", "/provision")
    assert body["dock"] == CF_DOCK["id"]
    assert body["spec"] == {"name": "my-worker", "script": source}


def test_spec_file_values_are_overridden_by_flags(cli, provisioning, tmp_path):
    spec = tmp_path / "bucket.yaml"
    spec.write_text("name: from-file\nversioning: true\ntags: {team: web}\n")
    result = cli("provision", "aws", "s3-bucket", "--spec", str(spec), "--name", "from-flag")
    assert result.exit_code == 0, result.output
    assert provisioning.body("POST", "/provision")["spec"] == {
        "name": "from-flag",
        "versioning": True,
        "tags": {"team": "web"},
    }


def test_local_validation_error_exits_2_names_the_field_and_sends_nothing(cli, provisioning):
    result = cli("provision", "sandbox", "server", "--name", "Not Valid!", "--fail", "often")
    assert result.exit_code == 2
    assert (
        "Invalid spec for sandbox server: --name: must be lowercase letters, digits, dots and "
        "hyphens, starting with a letter or digit." in result.stderr
    )
    assert "spec.fail: must be one of 'transient', 'permanent' or 'crash-after-create'" in (
        result.stderr
    )
    assert provisioning.sent("POST", "/provision") == []


def test_missing_required_field_exits_2(cli, provisioning):
    result = cli("provision", "aws", "s3-bucket", "--region", "us-east-1")
    assert result.exit_code == 2
    assert "--name: required" in result.stderr


def test_unknown_provider_lists_the_valid_ones(cli, provisioning):
    result = cli("provision", "azure", "vm", "--name", "x")
    assert result.exit_code == 2
    assert "Unknown provider 'azure'; valid providers: aws, cloudflare, sandbox." in result.stderr


def test_unknown_type_lists_the_valid_ones(cli, provisioning):
    result = cli("provision", "aws", "lambda", "--name", "x")
    assert result.exit_code == 2
    assert "valid types: s3-bucket" in result.stderr


def test_server_validation_error_exits_2_with_its_fields(cli, provisioning):
    provisioning.on(
        "POST",
        "/provision",
        response=error(
            400,
            "invalid",
            "Invalid input: spec.name: taken",
            {"spec.name": ["a bucket with this name exists"]},
        ),
    )
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket")
    assert result.exit_code == 2
    assert "spec.name: a bucket with this name exists" in result.stderr


def test_permission_denied_exits_3(cli, provisioning):
    provisioning.on(
        "POST",
        "/provision",
        response=error(403, "permission_denied", "Your role cannot provision."),
    )
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket")
    assert result.exit_code == 3
    assert "Your role cannot provision." in result.stderr


def test_several_docks_of_the_provider_need_dock(cli, provisioning):
    provisioning.on(
        "GET", "/docks", json=page([AWS_DOCK, {**AWS_DOCK, "id": "x", "name": "aws-2"}])
    )
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket")
    assert result.exit_code == 2
    assert "pick one with --dock: aws-2, aws-main" in result.stderr


def test_no_dock_of_the_provider_says_how_to_add_one(cli, provisioning):
    provisioning.on("GET", "/docks", json=page([CF_DOCK]))
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket")
    assert result.exit_code == 2
    assert "stackdock docks add NAME aws" in result.stderr


def test_role_that_cannot_list_docks_is_told_to_pass_dock(cli, provisioning):
    provisioning.on("GET", "/docks", response=error(403, "permission_denied", "No."))
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket")
    assert result.exit_code == 2
    assert "pass --dock" in result.stderr
    ok = cli("provision", "aws", "s3-bucket", "--name", "my-bucket", "--dock", "aws-main")
    assert ok.exit_code == 0
    assert provisioning.body("POST", "/provision")["dock"] == "aws-main"


def test_failed_operation_exits_1_and_shows_the_error(cli, provisioning):
    provisioning.on(
        "GET",
        "/operations/42",
        json=operation(
            42,
            "failed",
            [event(1, "my-bucket", "create", "failed", "Access denied")],
            error="Access denied",
        ),
    )
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket")
    assert result.exit_code == 1
    assert "failed: Access denied" in result.stdout


def test_no_wait_json_prints_the_receipt_and_does_not_poll(cli, provisioning):
    result = cli("provision", "aws", "s3-bucket", "--name", "b", "--no-wait", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == RECEIPT
    assert provisioning.sent("GET", "/operations/42") == []


def test_json_prints_one_document_with_the_final_operation_and_all_events(cli, provisioning):
    result = cli("provision", "aws", "s3-bucket", "--name", "my-bucket", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # the whole stdout is one JSON document
    assert doc["id"] == 42 and doc["status"] == "succeeded"
    assert [e["seq"] for e in doc["events"]] == [1, 2]


def test_json_error_is_one_document_with_the_exit_code(cli, provisioning):
    provisioning.on(
        "POST",
        "/provision",
        response=error(404, "not_found", "Dock 'x' not found.", {"dock": ["not found"]}),
    )
    result = cli("provision", "aws", "s3-bucket", "--name", "b", "--dock", "x", "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout) == {
        "error": {
            "code": "not_found",
            "message": "Dock 'x' not found.",
            "fields": {"dock": ["not found"]},
        },
        "exit_code": 4,
    }


def test_provision_help_points_to_the_field_flags(cli, api):
    result = cli("provision", "--help")
    assert result.exit_code == 0
    assert "stackdock providers PROVIDER" in result.stdout
