"""``resources``, ``update``, ``destroy``, ``providers``, ``docks`` and ``audit``."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import error, operation, page

ROW = {
    "id": 12,
    "name": "app-db",
    "provider": "sandbox",
    "resource_type": "database",
    "dock_name": "sandbox",
    "status": "running",
    "provisioning_state": "provisioned",
    "provisioning_source": "api",
    "region": None,
    "spec": {"name": "app-db"},
}
RECEIPT = {
    "provision_id": 5,
    "kind": "update",
    "status": "queued",
    "resource_id": 12,
    "resource_table": "databases",
}
SANDBOX_DOCK = {
    "id": "5f0c1d1e-0000-4000-8000-00000000000a",
    "name": "sandbox",
    "provider": "sandbox",
    "credential_fields": [],
    "sync_status": "ok",
}


def test_resources_without_a_table_lists_every_table_with_filters(cli, api):
    for table in ("servers", "web-services", "domains", "buckets"):
        api.on("GET", f"/{table}", json=page([]))
    api.on("GET", "/databases", json=page([ROW]))
    result = cli("resources", "--provider", "sandbox", "--source", "api")
    assert result.exit_code == 0
    assert len(api.requests) == 5
    params = api.sent("GET", "/databases")[0].url.params
    assert params["provider"] == "sandbox" and params["provisioning_source"] == "api"
    header, row = result.stdout.splitlines()
    assert row.split()[:3] == ["databases", "12", "app-db"]


def test_resources_of_an_unknown_table_lists_the_tables(cli, api):
    result = cli("resources", "vms")
    assert result.exit_code == 2
    assert "servers, web-services, domains, databases, buckets" in result.stderr


def test_resources_json_parses_and_singular_table_names_work(cli, api):
    api.on("GET", "/databases", json=page([ROW]))
    result = cli("resources", "database", "--json")
    assert json.loads(result.stdout) == [{"table": "databases", **ROW}]


def test_update_validates_only_the_changed_fields_and_patches(cli, api):
    api.on("GET", "/databases/12", json=ROW)
    api.on("PATCH", "/databases/12", json=RECEIPT, status=202)
    api.on("GET", "/operations/5", json=operation(5, "succeeded", kind="update"))
    result = cli("update", "databases", "12", "--size", "large")
    assert result.exit_code == 0, result.output
    assert api.body("PATCH", "/databases/12") == {"spec": {"size": "large"}}
    assert api.sent("PATCH", "/databases/12")[0].headers["Idempotency-Key"]


def test_update_with_an_invalid_value_exits_2_before_sending(cli, api):
    api.on("GET", "/databases/12", json=ROW)
    result = cli("update", "databases", "12", "--latency-ms", "-5")
    assert result.exit_code == 2
    assert "--latency-ms" in result.stderr
    assert api.sent("PATCH", "/databases/12") == []


def test_update_of_a_resource_stackdock_did_not_provision_shows_the_409(cli, api):
    api.on(
        "GET", "/databases/12", json={**ROW, "resource_type": None, "provisioning_source": "manual"}
    )
    api.on(
        "PATCH",
        "/databases/12",
        response=error(409, "conflict", "app-db was not provisioned by StackDock."),
    )
    result = cli("update", "databases", "12", "--size", "large")
    assert result.exit_code == 1
    assert "not provisioned by StackDock" in result.stderr


def test_destroy_with_yes_deletes_and_waits(cli, api):
    api.on("GET", "/databases/12", json=ROW)
    api.on("DELETE", "/databases/12", json={**RECEIPT, "kind": "delete"}, status=202)
    api.on("GET", "/operations/5", json=operation(5, "succeeded", kind="delete"))
    result = cli("destroy", "databases", "12", "--yes")
    assert result.exit_code == 0, result.output
    assert len(api.sent("DELETE", "/databases/12")) == 1


def test_destroy_of_another_orgs_resource_is_not_found(cli, api):
    result = cli("destroy", "databases", "99", "--yes")
    assert result.exit_code == 4


def test_providers_lists_and_describes_fields(cli, api):
    listing = cli("providers")
    assert listing.exit_code == 0
    assert "s3-bucket" in listing.stdout and "worker" in listing.stdout
    detail = cli("providers", "aws")
    assert "--versioning" in detail.stdout and "key=value" in detail.stdout
    missing = cli("providers", "gcp")
    assert missing.exit_code == 2
    assert "valid providers: aws, cloudflare, sandbox" in missing.stderr


def test_docks_lists_by_default(cli, api):
    api.on("GET", "/docks", json=page([SANDBOX_DOCK]))
    result = cli("docks")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].split()[:2] == ["sandbox", "sandbox"]
    assert json.loads(cli("docks", "list", "--json").stdout) == [SANDBOX_DOCK]


def test_docks_add_refuses_a_secret_on_the_command_line(cli, api):
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    result = cli(
        "docks",
        "add",
        "aws-main",
        "aws",
        "--access-key-id",
        "AKIAIOSFODNN7EXAMPLE",
        "--secret-access-key",
        secret,
    )
    assert result.exit_code == 2
    assert "STACKDOCK_CREDENTIAL_SECRET_ACCESS_KEY" in result.stderr
    assert secret not in result.output
    assert api.sent("POST", "/docks") == []


def test_docks_add_takes_the_secret_from_the_environment_and_never_prints_it(cli, api):
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    api.on(
        "POST",
        "/docks",
        status=201,
        json={
            "id": "d1",
            "name": "aws-main",
            "provider": "aws",
            "credential_fields": ["access_key_id"],
        },
    )
    result = cli(
        "docks",
        "add",
        "aws-main",
        "aws",
        "--access-key-id",
        "AKIAIOSFODNN7EXAMPLE",
        "--endpoint-url",
        "http://127.0.0.1:5000",
        env={"STACKDOCK_CREDENTIAL_SECRET_ACCESS_KEY": secret},
    )
    assert result.exit_code == 0, result.output
    body = api.body("POST", "/docks")
    assert body["credentials"] == {
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "secret_access_key": secret,
    }
    assert body["endpoint_url"] == "http://127.0.0.1:5000"
    assert secret not in result.output


def test_docks_add_with_missing_credentials_names_them(cli, api):
    result = cli("docks", "add", "aws-main", "aws", "--access-key-id", "AKIAIOSFODNN7EXAMPLE")
    assert result.exit_code == 2
    assert "Invalid credentials for aws: --secret-access-key: required." in result.stderr


def test_docks_sync_by_name_queues_and_waits(cli, api):
    api.on("GET", "/docks", json=page([SANDBOX_DOCK]))
    api.on(
        "POST",
        f"/docks/{SANDBOX_DOCK['id']}/sync",
        status=202,
        json={"provision_id": 6, "kind": "sync", "status": "queued"},
    )
    api.on("GET", "/operations/6", json=operation(6, "succeeded", kind="sync", resource=None))
    result = cli("docks", "sync", "sandbox")
    assert result.exit_code == 0, result.output
    assert "sync #6 succeeded." in result.stdout


def test_docks_rotate_of_an_unknown_dock_is_not_found(cli, api):
    api.on("GET", "/docks", json=page([SANDBOX_DOCK]))
    result = cli("docks", "rotate", "nope")
    assert result.exit_code == 4


def test_audit_lists_events_with_filters(cli, api):
    api.on(
        "GET",
        "/audit",
        json=page(
            [
                {
                    "created_at": "2025-11-24T05:00:00Z",
                    "actor_repr": "owner@acme.test",
                    "operation": "resource.provision",
                    "status": "success",
                    "target_repr": "my-bucket",
                    "ip": "127.0.0.1",
                }
            ]
        ),
    )
    result = cli("audit", "--since", "7d", "--operation", "resource.*")
    assert result.exit_code == 0
    assert "resource.provision" in result.stdout and "owner@acme.test" in result.stdout
    params = api.sent("GET", "/audit")[0].url.params
    assert params["operation"] == "resource.*" and "since" in params


def test_audit_export_streams_the_body(cli, api, tmp_path):
    lines = b'{"seq": 1}\n{"seq": 2}\n'
    api.on("GET", "/audit/export", response=httpx.Response(200, content=lines))
    result = cli("audit", "--export", "jsonl")
    assert result.exit_code == 0
    assert result.stdout.encode() == lines
    assert api.sent("GET", "/audit/export")[0].url.params["format"] == "jsonl"
    target = tmp_path / "audit.csv"
    assert cli("audit", "--export", "csv", "-o", str(target)).exit_code == 0
    assert target.read_bytes() == lines


def test_audit_without_permission_exits_3(cli, api):
    api.on("GET", "/audit", response=error(403, "permission_denied", "Needs audit: read."))
    result = cli("audit")
    assert result.exit_code == 3
    assert "Needs audit: read." in result.stderr


REPLACE_PLAN = {
    "changes": [
        {
            "resource": "app-db",
            "type": "database",
            "action": "replace",
            "diff": {"name": {"old": "app-db", "new": "app-db-2"}},
            "forces_replace": ["name"],
        }
    ],
    "summary": {"create": 0, "update": 0, "replace": 1, "delete": 0, "no-op": 0},
}
NEEDS_CONFIRM = httpx.Response(
    400,
    json={
        "error": {
            "code": "confirmation_required",
            "message": "This update replaces 'app-db': name cannot change in place, so "
            'StackDock creates a new database and deletes the old one. Send confirm: "replace" '
            "to go ahead.",
            "fields": {"confirm": ["required"]},
            "plan": REPLACE_PLAN,
        }
    },
)


def test_update_that_replaces_is_not_sent_again_off_a_terminal_without_yes(cli, api):
    api.on("GET", "/databases/12", json=ROW)
    api.on("PATCH", "/databases/12", response=NEEDS_CONFIRM)
    result = cli("update", "databases", "12", "--name", "app-db-2")
    assert result.exit_code == 2
    assert "name cannot change in place" in result.stderr and "--yes" in result.stderr
    assert len(api.sent("PATCH", "/databases/12")) == 1


def test_update_with_yes_confirms_the_replace_in_the_request(cli, api):
    api.on("GET", "/databases/12", json=ROW)
    api.on("PATCH", "/databases/12", json=RECEIPT, status=202)
    api.on("GET", "/operations/5", json=operation(5, "succeeded", kind="update"))
    result = cli("update", "databases", "12", "--name", "app-db-2", "--yes")
    assert result.exit_code == 0, result.output
    assert api.body("PATCH", "/databases/12") == {
        "spec": {"name": "app-db-2"},
        "confirm": "replace",
    }


def test_update_that_replaces_shows_the_plan_and_asks_on_a_terminal(cli, api, monkeypatch):
    from stackdock.cli.commands import resources

    api.on("GET", "/databases/12", json=ROW)
    api.on("PATCH", "/databases/12", response=NEEDS_CONFIRM)
    api.on("PATCH", "/databases/12", json=RECEIPT, status=202, replace=False)
    api.on("GET", "/operations/5", json=operation(5, "succeeded", kind="update"))
    monkeypatch.setattr(resources, "on_terminal", lambda: True)
    refused = cli("update", "databases", "12", "--name", "app-db-2", input="n\n")
    assert refused.exit_code == 1 and "Nothing changed." in refused.stderr
    assert "app-db  database  replace" in refused.stdout
    assert "name: 'app-db' -> 'app-db-2'" in refused.stdout
    api.on("PATCH", "/databases/12", response=NEEDS_CONFIRM)
    api.on("PATCH", "/databases/12", json=RECEIPT, status=202, replace=False)
    agreed = cli("update", "databases", "12", "--name", "app-db-2", input="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert api.body("PATCH", "/databases/12")["confirm"] == "replace"
