"""Output: rich on a terminal, plain columns otherwise, errors in one shape."""

from __future__ import annotations

import io
import json

from stackdock.cli.errors import CliError
from stackdock.cli.output import Output, cell, short_time

ROWS = [{"name": "[bold]web[/bold]", "status": "failed", "created_at": "2025-11-24T05:02:11.5Z"}]
COLUMNS = [("name", "Name"), ("status", "Status"), ("created_at", "Created")]


def test_plain_table_is_padded_columns_without_colour_codes():
    stdout = io.StringIO()
    Output(stdout=stdout, tty=False).table(COLUMNS, ROWS)
    assert stdout.getvalue().splitlines() == [
        "NAME              STATUS  CREATED",
        "[bold]web[/bold]  failed  2025-11-24 05:02:11",
    ]


def test_terminal_table_colours_statuses_and_shows_markup_in_values_literally():
    stdout = io.StringIO()
    Output(stdout=stdout, tty=True).table(COLUMNS, ROWS)
    text = stdout.getvalue()
    assert "\x1b[" in text  # coloured
    assert "[bold]web[/bold]" in text  # a value is never taken as markup


def test_error_goes_to_stderr_with_fields_and_hint_and_json_to_stdout():
    stdout, stderr = io.StringIO(), io.StringIO()
    err = CliError("Invalid spec.", 2, fields={"spec.name": ["required"]}, hint="See --help.")
    Output(json_mode=True, stdout=stdout, stderr=stderr, tty=False).error(err)
    assert stderr.getvalue().splitlines() == [
        "Error: Invalid spec.",
        "  spec.name: required",
        "See --help.",
    ]
    assert json.loads(stdout.getvalue()) == {
        "error": {
            "code": "error",
            "message": "Invalid spec.",
            "fields": {"spec.name": ["required"]},
            "hint": "See --help.",
        },
        "exit_code": 2,
    }


def test_json_mode_keeps_stdout_for_the_document():
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(json_mode=True, stdout=stdout, stderr=stderr, tty=False)
    out.print("a message for people")
    out.json({"a": 1})
    assert json.loads(stdout.getvalue()) == {"a": 1}
    assert "a message for people" in stderr.getvalue()


def test_cells_and_times():
    assert [cell(None), cell(True), cell({"b": 1, "a": [2]})] == ["-", "yes", '{"a":[2],"b":1}']
    assert short_time("2025-11-24T05:02:11.123456Z") == "2025-11-24 05:02:11"
    assert short_time("MyThing") == "MyThing"


def test_lists_and_flat_mappings_read_as_words_not_json():
    assert cell(["access_key_id", "secret_access_key"]) == "access_key_id, secret_access_key"
    assert cell([]) == "-" and cell({}) == "-"
    assert cell({"team": "web", "env": "prod"}) == "env=prod, team=web"
    assert cell(True) == "yes" and cell(False) == "no"
    assert cell([{"a": 1}]) == '[{"a":1}]'  # only what has no flat form stays JSON


def test_no_wait_messages_are_one_sentence(cli, api):
    api.on("POST", "/stacks/app/refresh", json={"provision_id": 9, "status": "queued"}, status=202)
    result = cli("refresh", "app", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "Refreshing stack app: queued as operation #9." in result.output
    assert "Queued Refreshing" not in result.output


def test_steps_of_a_single_resource_are_named_by_the_resource_not_internal_names():
    from stackdock.cli.watch import event_line, single_label

    op = {"stack": None, "resource": {"table": "buckets", "id": 3, "type": "s3-bucket"}}
    at = "2026-01-01T05:38:09Z"
    start = {
        "at": at,
        "resource": "",
        "action": "apply",
        "status": "started",
        "message": "apply of stack _single-buckets-e9653b09e55d",
    }
    step = {"at": at, "resource": "resource", "action": "create", "status": "started"}
    label = single_label(op, "my-bucket")
    assert event_line(start, single=label) == "05:38:09  *  apply  started  apply of my-bucket"
    assert event_line(step, single=label) == "05:38:09  my-bucket  create  started"
    assert single_label(op) == "buckets/3"
    assert single_label({**op, "stack": "app"}) is None  # a stack's steps keep their names
    closing = {**start, "status": "failed", "message": "apply failed: failed 1, rolled_back 2"}
    assert event_line(closing).endswith("failed 1, rolled back 2")
