"""Stacks from ``stackdock.yaml``: plan, deploy, destroy-stack, refresh, unlock."""

from __future__ import annotations

import json
import textwrap

import pytest

from stackdock.cli import stackfile
from stackdock.cli.errors import CliError
from tests.cli.conftest import error, event, operation, page

STACK = textwrap.dedent(
    """\
    # three resources, two references
    name: app
    resources:
      db:
        dock: sandbox
        type: database
        properties: {name: app-db}
      web:
        dock: sandbox
        type: server
        properties: {name: "${db.name}-web"}
      files:
        dock: sandbox
        type: bucket
        properties: {name: "${web.name}-files"}
    """
)
PLAN = {
    "id": 7,
    "changes": [
        {
            "resource": "db",
            "type": "database",
            "action": "create",
            "diff": {"name": {"old": None, "new": "app-db"}},
        },
        {
            "resource": "web",
            "type": "server",
            "action": "update",
            "diff": {"size": {"old": "s", "new": "m"}},
        },
        {"resource": "old", "type": "bucket", "action": "delete", "diff": {}},
        {"resource": "files", "type": "bucket", "action": "no-op", "diff": {}},
    ],
    "summary": {"create": 1, "update": 1, "replace": 0, "delete": 1, "no-op": 1},
}
RECEIPT = {
    "provision_id": 9,
    "kind": "deploy",
    "status": "queued",
    "stack": "app",
    "status_url": "http://stackdock.test/api/v1/operations/9",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "stackdock.yaml").write_text(STACK)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def deploy_op(status: str) -> dict:
    events = [
        event(1, "db", "create", "succeeded"),
        event(2, "web", "create", "succeeded"),
        event(3, "files", "create", "succeeded"),
    ]
    return operation(
        9,
        status,
        events,
        kind="deploy",
        stack="app",
        resource=None,
        progress={"done": 3, "total": 3},
    )


def test_deploy_creates_the_stack_plans_the_file_and_applies_exactly_that_plan(cli, api, project):
    api.on("GET", "/stacks/app", response=error(404, "not_found", "Not found."))
    api.on("POST", "/stacks", json={"name": "app"}, status=201)
    api.on("POST", "/stacks/app/plan", json=PLAN)
    api.on("POST", "/stacks/app/deploy", json=RECEIPT, status=202)
    api.on("GET", "/operations/9", json=deploy_op("succeeded"))
    result = cli("deploy", "--yes")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/stacks") == {"name": "app", "spec": STACK}  # a new stack
    assert api.body("POST", "/stacks/app/plan") == {"spec": STACK}  # the file as written
    assert api.body("POST", "/stacks/app/deploy") == {"plan": PLAN["id"]}
    assert api.sent("POST", "/stacks/app/deploy")[0].headers["Idempotency-Key"]
    out = result.stdout
    assert "+ db  database  create" in out
    assert "Plan: 1 to create, 1 to update, 0 to replace, 1 to delete, 1 unchanged." in out
    for name in ("db", "web", "files"):
        assert f"{name}  create  succeeded" in out
    assert "deploy #9 (app) succeeded." in out


def test_deploy_of_an_existing_stack_never_rewrites_its_spec_itself(cli, api, project):
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": "name: app\n", "spec": {}})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    api.on("POST", "/stacks/app/deploy", json=RECEIPT, status=202)
    api.on("GET", "/operations/9", json=deploy_op("failed"))
    result = cli("deploy", "--yes")
    assert api.sent("PUT", "/stacks/app") == [] and api.sent("POST", "/stacks") == []
    assert api.body("POST", "/stacks/app/plan") == {"spec": STACK}
    assert result.exit_code == 1


def test_deploy_off_a_terminal_without_yes_shows_the_plan_and_changes_nothing(cli, api, project):
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    result = cli("deploy")
    assert result.exit_code == 2 and "pass --yes" in result.stderr
    assert "+ db  database  create" in result.stdout
    assert api.sent("POST", "/stacks/app/deploy") == []


def test_deploy_asks_on_a_terminal(cli, api, project, monkeypatch):
    from stackdock.cli.commands import stacks

    monkeypatch.setattr(stacks, "on_terminal", lambda: True)
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    api.on("POST", "/stacks/app/deploy", json=RECEIPT, status=202)
    api.on("GET", "/operations/9", json=deploy_op("succeeded"))
    refused = cli("deploy", input="n\n")
    assert refused.exit_code == 1 and "Nothing deployed." in refused.stderr
    assert api.sent("POST", "/stacks/app/deploy") == []
    agreed = cli("deploy", input="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert api.body("POST", "/stacks/app/deploy") == {"plan": PLAN["id"]}


def test_deploy_of_a_saved_plan_sends_only_its_id(cli, api, project):
    api.on("POST", "/stacks/app/deploy", json=RECEIPT, status=202)
    api.on("GET", "/operations/9", json=deploy_op("succeeded"))
    result = cli("deploy", "app", "--plan", "41")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/stacks/app/deploy") == {"plan": 41}
    assert api.sent("POST", "/stacks/app/plan") == []


def test_deploy_with_nothing_to_change_deploys_nothing(cli, api, project):
    unchanged = {
        **PLAN,
        "changes": [],
        "summary": {"create": 0, "update": 0, "replace": 0, "delete": 0, "no-op": 3},
    }
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=unchanged)
    result = cli("deploy", "--yes")
    assert result.exit_code == 0 and "No changes" in result.stdout
    assert api.sent("POST", "/stacks/app/deploy") == []


def test_deploy_while_locked_is_a_conflict_exit_1(cli, api, project):
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    api.on(
        "POST",
        "/stacks/app/deploy",
        response=error(409, "conflict", "stack locked by operation 8 since ..."),
    )
    result = cli("deploy", "--yes")
    assert result.exit_code == 1
    assert "stack locked by operation 8" in result.stderr
    assert api.sent("PUT", "/stacks/app") == []  # a refused deploy changed no spec


def test_deploy_json_is_one_document(cli, api, project):
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    api.on("POST", "/stacks/app/deploy", json=RECEIPT, status=202)
    api.on("GET", "/operations/9", json=deploy_op("succeeded"))
    result = cli("deploy", "--json", "--yes")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["status"] == "succeeded" and len(doc["events"]) == 3


def test_plan_prints_a_diff_with_marks_and_a_summary(cli, api, project):
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    result = cli("plan", "--target", "web")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "+ db  database  create" in lines
    assert "    name: - -> 'app-db'" in lines
    assert "~ web  server  update" in lines
    assert "    size: 's' -> 'm'" in lines
    assert "- old  bucket  delete" in lines
    assert "= files  bucket  no-op" in lines
    assert lines[-2].startswith("Plan: 1 to create")
    assert lines[-1] == f"Saved as plan {PLAN['id']}: stackdock deploy --plan {PLAN['id']}"
    assert api.body("POST", "/stacks/app/plan") == {"spec": STACK, "targets": ["web"]}
    assert api.sent("PUT", "/stacks/app") == []  # planning changes no stored spec


def test_plan_json_parses(cli, api, project):
    api.on("GET", "/stacks/app", json={"name": "app", "spec_text": STACK})
    api.on("POST", "/stacks/app/plan", json=PLAN)
    result = cli("plan", "--json")
    assert json.loads(result.stdout) == PLAN


def test_stack_name_not_in_the_file_lists_the_ones_it_has(cli, api, project):
    result = cli("deploy", "other")
    assert result.exit_code == 2
    assert "No stack 'other'" in result.stderr and "it defines: app" in result.stderr
    assert api.requests == []


def test_no_stack_file_is_a_usage_error(cli, api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("plan")
    assert result.exit_code == 2
    assert "No stackdock.yaml" in result.stderr


def test_invalid_yaml_reports_the_line(tmp_path):
    path = tmp_path / "stackdock.yaml"
    path.write_text("name: app\nresources:\n  db: [unclosed\n")
    with pytest.raises(CliError) as caught:
        stackfile.load(path)
    assert caught.value.exit_code == 2
    assert "stackdock.yaml, line 4: invalid YAML" in caught.value.message


def test_a_file_with_several_stacks_needs_a_name_and_keeps_line_numbers(tmp_path):
    path = tmp_path / "stackdock.yaml"
    path.write_text("name: one\nresources: {}\n---\nname: two\nresources: {}\n")
    docs = stackfile.load(path)
    assert [d.name for d in docs] == ["one", "two"]
    with pytest.raises(CliError, match="several stacks; name one: one, two"):
        stackfile.pick(docs, None)
    two = stackfile.pick(docs, "two")
    assert two.text.splitlines()[3] == "name: two"  # same line as in the file
    assert two.data == {"name": "two", "resources": {}}


def test_destroy_stack_needs_yes_when_not_on_a_terminal(cli, api, project):
    result = cli("destroy-stack")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert api.requests == []


def test_destroy_stack_destroys_then_removes_the_stack(cli, api, project):
    api.on("POST", "/stacks/app/destroy", json={**RECEIPT, "kind": "destroy"}, status=202)
    api.on("GET", "/operations/9", json=deploy_op("succeeded"))
    api.on("DELETE", "/stacks/app", status=204)
    result = cli("destroy-stack", "--yes")
    assert result.exit_code == 0, result.output
    assert len(api.sent("DELETE", "/stacks/app")) == 1
    assert "Stack app removed from the server." in result.stdout


def test_refresh_reports_drift(cli, api, project):
    api.on("POST", "/stacks/app/refresh", json={**RECEIPT, "kind": "refresh"}, status=202)
    api.on(
        "GET",
        "/operations/9",
        json={**deploy_op("succeeded"), "drift": {"web": {"size": "changed outside"}}},
    )
    result = cli("refresh")
    assert result.exit_code == 0
    assert "Drift:" in result.stdout and "web:" in result.stdout


def test_unlock_reports_the_released_lock(cli, api):
    api.on(
        "POST",
        "/stacks/app/unlock",
        json={"released": {"holder": "op-8", "since": "2025-11-24T05:00:00Z"}},
    )
    result = cli("unlock", "app")
    assert result.exit_code == 0
    assert "held by op-8" in result.stdout


def test_unlock_without_permission_exits_3(cli, api):
    api.on("POST", "/stacks/app/unlock", response=error(403, "permission_denied", "Admins only."))
    assert cli("unlock", "app").exit_code == 3


def test_stacks_lists_the_servers_stacks(cli, api):
    api.on(
        "GET",
        "/stacks",
        json=page([{"name": "app", "resource_count": 3, "lock": None, "on_failure": "rollback"}]),
    )
    result = cli("stacks")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].split()[:2] == ["app", "3"]
