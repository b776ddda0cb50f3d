"""``stackdock import <table> <id> [--stack NAME --as RESOURCE]``."""

from __future__ import annotations

import json

from tests.cli.conftest import error

IMPORTED = {
    "table": "buckets",
    "id": 12,
    "name": "legacy",
    "dock": "aws",
    "resource_type": "s3-bucket",
    "provisioning_source": "api",
    "provisioning_state": "provisioned",
    "stack": None,
    "resource": None,
    "properties": {"name": "legacy", "versioning": True, "tags": {"team": "web"}},
    "notes": ["tags aws:x use a reserved prefix (aws:, stackdock:), which a spec cannot hold"],
}


def test_import_alone_posts_to_the_row_and_says_what_it_read(cli, api):
    api.on("POST", "/buckets/12/import", json=IMPORTED)
    result = cli("import", "bucket", "12")
    assert result.exit_code == 0, result.output
    assert len(api.sent("POST", "/buckets/12/import")) == 1
    assert "Imported buckets/12 legacy (s3-bucket on aws)" in result.stdout
    assert "versioning: true" in result.stdout and 'tags: {"team": "web"}' in result.stdout
    assert "Note: tags aws:x" in result.stderr


def test_import_into_a_stack_posts_the_row_and_its_name(cli, api):
    into = {**IMPORTED, "provisioning_source": "sst", "stack": "site", "resource": "assets"}
    api.on("POST", "/stacks/site/import", json=into)
    result = cli("import", "buckets", "12", "--stack", "site", "--as", "assets", "--json")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/stacks/site/import") == {
        "table": "buckets",
        "id": 12,
        "resource": "assets",
    }
    assert json.loads(result.stdout) == into


def test_stack_without_a_name_or_a_name_without_a_stack_exits_2_before_sending(cli, api):
    for args in (("--stack", "site"), ("--as", "assets")):
        result = cli("import", "buckets", "12", *args)
        assert result.exit_code == 2
        assert "needs both --stack NAME and --as RESOURCE" in result.stderr
    assert [r for r in api.requests if r.method == "POST"] == []


def test_an_already_managed_row_exits_1_with_the_servers_words(cli, api):
    message = "'legacy' is already managed by StackDock (provisioned alone)."
    api.on("POST", "/buckets/12/import", response=error(409, "conflict", message))
    result = cli("import", "buckets", "12")
    assert result.exit_code == 1
    assert message in result.stderr
