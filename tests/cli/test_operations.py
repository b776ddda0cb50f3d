"""``status [--watch]``, ``ops``, ``cancel``; watching, Ctrl-C and timeouts."""

from __future__ import annotations

import io
import json

import httpx

from stackdock.cli import errors
from stackdock.cli.client import ApiClient
from stackdock.cli.config import Config
from stackdock.cli.errors import CliError
from stackdock.cli.output import Output
from stackdock.cli.watch import Watcher
from tests.cli.conftest import TOKEN, URL, error, event, operation, page


def test_status_prints_the_operation_and_its_events(cli, api):
    api.on(
        "GET",
        "/operations/7",
        json=operation(
            7,
            "succeeded",
            [event(1, "db", "create", "started"), event(2, "db", "create", "succeeded")],
        ),
    )
    result = cli("status", "7")
    assert result.exit_code == 0
    assert "provision #7 (buckets/12)" in result.stdout
    assert "db  create  succeeded  (1.2 s)" in result.stdout


def test_status_of_a_failed_operation_exits_1(cli, api):
    api.on("GET", "/operations/7", json=operation(7, "failed", error="boom"))
    result = cli("status", "7", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "boom"


def test_status_of_an_unknown_operation_exits_4(cli, api):
    result = cli("status", "999")
    assert result.exit_code == 4
    assert "Not found." in result.stderr


def test_watch_json_prints_json_lines_then_the_final_operation(cli, api):
    api.on(
        "GET", "/operations/7", json=operation(7, "running", [event(1, "a", "create", "started")])
    )
    api.on("GET", "/operations/7", json=operation(7, "running"), replace=False)
    api.on(
        "GET",
        "/operations/7",
        json=operation(7, "succeeded", [event(2, "a", "create", "succeeded")]),
        replace=False,
    )
    result = cli("status", "7", "--watch", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["event", "event", "operation"]
    assert [line.get("seq") for line in lines[:2]] == [1, 2]
    assert lines[-1]["status"] == "succeeded"
    assert [e["seq"] for e in lines[-1]["events"]] == [1, 2]


def test_ctrl_c_while_watching_stops_watching_without_cancelling(cli, api):
    api.on("GET", "/operations/7", json=operation(7, "running"))

    def interrupted(request):
        raise KeyboardInterrupt

    api.on("GET", "/operations/7", handler=interrupted, replace=False)
    result = cli("status", "7", "--watch")
    assert result.exit_code == errors.INTERRUPTED
    assert "Stopped watching operation 7; it goes on on the server." in result.stderr
    assert "stackdock status 7 --watch" in result.stderr
    assert "stackdock cancel 7" in result.stderr
    assert api.sent("POST", "/operations/7/cancel") == []


def test_watch_gives_up_at_its_timeout_with_exit_5():
    clock = iter([0.0, 0.5, 2.0, 5.0, 9.0])

    def handler(request):
        return httpx.Response(200, json=operation(7, "running"))

    client = ApiClient(Config(url=URL, token=TOKEN), transport=httpx.MockTransport(handler))
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), tty=False)
    watcher = Watcher(
        client, out, 7, interval=0, timeout=3, clock=lambda: next(clock), sleep=lambda s: None
    )
    try:
        watcher.run()
    except CliError as exc:
        assert exc.exit_code == errors.UNREACHABLE
        assert "Timed out after 3 s" in exc.message
        assert "stackdock status 7 --watch" in exc.hint
    else:
        raise AssertionError("the watch should have timed out")


def test_watch_on_a_terminal_draws_progress_and_prints_each_event():
    answers = iter(
        [
            operation(7, "running", [event(1, "web", "create", "started")]),
            operation(7, "succeeded", [event(2, "web", "create", "succeeded")]),
        ]
    )
    client = ApiClient(
        Config(url=URL, token=TOKEN),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=next(answers))),
    )
    stdout = io.StringIO()
    out = Output(stdout=stdout, stderr=io.StringIO(), tty=True)
    op = Watcher(client, out, 7, interval=0).run()
    assert op["status"] == "succeeded"
    text = stdout.getvalue()
    assert "web  create  started" in text
    assert "web  create  succeeded" in text


def test_ops_passes_filters_and_prints_a_table(cli, api):
    api.on("GET", "/operations", json=page([operation(3, "failed"), operation(2, "succeeded")]))
    result = cli("ops", "--status", "failed", "--kind", "provision", "--since", "2h")
    assert result.exit_code == 0
    params = api.sent("GET", "/operations")[0].url.params
    assert params["status"] == "failed" and params["kind"] == "provision"
    assert params["since"].endswith("+00:00")
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["ID", "KIND", "STATUS"]
    assert [r.split()[0] for r in rows] == ["3", "2"]
    assert "\x1b[" not in result.stdout  # no colour codes when not a terminal


def test_ops_with_a_bad_since_is_a_usage_error(cli, api):
    result = cli("ops", "--since", "yesterday-ish")
    assert result.exit_code == 2
    assert "--since" in result.stderr


def test_ops_limit_stops_paging(cli, api):
    api.on(
        "GET",
        "/operations",
        json={"count": 500, "results": [operation(i, "succeeded") for i in range(3)]},
    )
    result = cli("ops", "--limit", "2", "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 2
    assert api.sent("GET", "/operations")[0].url.params["limit"] == "2"


def test_cancel_posts_and_reports(cli, api):
    api.on("POST", "/operations/7/cancel", json=operation(7, "running", cancel_requested=True))
    result = cli("cancel", "7")
    assert result.exit_code == 0
    assert "Cancel requested" in result.stdout
    assert len(api.sent("POST", "/operations/7/cancel")) == 1


def test_cancel_of_a_finished_operation_is_a_conflict_exit_1(cli, api):
    api.on(
        "POST",
        "/operations/7/cancel",
        response=error(409, "invalid_transition", "Operation 7 already succeeded."),
    )
    result = cli("cancel", "7")
    assert result.exit_code == 1
    assert "already succeeded" in result.stderr
