"""The HTTP client: error shape -> exit codes, retries, pages, and no token anywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from stackdock.cli import errors
from stackdock.cli.client import ApiClient
from stackdock.cli.config import Config
from stackdock.cli.errors import CliError
from tests.cli.conftest import TOKEN, URL, error


def client_for(handler, **kwargs) -> ApiClient:
    kwargs.setdefault("backoff", 0)
    return ApiClient(Config(url=URL, token=TOKEN), transport=httpx.MockTransport(handler), **kwargs)


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [(400, 2), (401, 3), (403, 3), (404, 4), (409, 1), (500, 1), (413, 2)],
)
def test_http_errors_map_to_exit_codes_with_the_servers_message(status, exit_code):
    client = client_for(lambda r: error(status, "some_code", f"message {status}", {"f": ["bad"]}))
    with pytest.raises(CliError) as caught:
        client.get("/thing")
    assert caught.value.exit_code == exit_code
    assert caught.value.message == f"message {status}"
    assert caught.value.fields == {"f": ["bad"]}
    assert caught.value.code == "some_code"


def test_an_error_without_the_error_shape_gets_a_generic_message():
    client = client_for(lambda r: httpx.Response(502, text="<html>bad gateway</html>"), retries=0)
    with pytest.raises(CliError) as caught:
        client.get("/thing")
    assert caught.value.exit_code == errors.UNREACHABLE
    assert "unavailable (502)" in caught.value.message
    assert "<html>" not in caught.value.message


def test_connection_refused_is_retried_then_exit_5():
    calls = []

    def refuse(request):
        calls.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    client = client_for(refuse, retries=2)
    with pytest.raises(CliError) as caught:
        client.post("/provision", {"x": 1})  # safe to retry: it never reached the server
    assert caught.value.exit_code == errors.UNREACHABLE
    assert "Cannot reach the StackDock server at http://stackdock.test" in caught.value.message
    assert len(calls) == 3


def test_transient_503_on_a_get_is_retried_then_succeeds():
    answers = iter([httpx.Response(503), httpx.Response(200, json={"ok": True})])
    client = client_for(lambda r: next(answers), retries=2)
    assert client.get("/thing") == {"ok": True}


def test_read_timeout_on_a_post_without_idempotency_key_is_not_retried():
    calls = []

    def slow(request):
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    client = client_for(slow, retries=3)
    with pytest.raises(CliError) as caught:
        client.post("/stacks/app/unlock")
    assert caught.value.exit_code == errors.UNREACHABLE
    assert len(calls) == 1


def test_read_timeout_on_a_post_with_idempotency_key_is_retried_with_the_same_key():
    keys = []

    def flaky(request):
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(202, json={"provision_id": 1})

    client = client_for(flaky, retries=2)
    assert client.post("/provision", {}, idempotency_key="cli-k1") == {"provision_id": 1}
    assert keys == ["cli-k1", "cli-k1"]


def test_throttled_request_waits_for_retry_after_then_succeeds():
    answers = iter(
        [
            httpx.Response(
                429,
                headers={"Retry-After": "0"},
                json={"error": {"code": "throttled", "message": "slow down", "fields": {}}},
            ),
            httpx.Response(200, json={"ok": 1}),
        ]
    )
    client = client_for(lambda r: next(answers), retries=1)
    assert client.get("/thing") == {"ok": 1}


def test_persistent_throttling_is_exit_5_with_a_hint():
    client = client_for(lambda r: httpx.Response(429, headers={"Retry-After": "0"}), retries=1)
    with pytest.raises(CliError) as caught:
        client.get("/thing")
    assert caught.value.exit_code == errors.UNREACHABLE
    assert "Throttled" in caught.value.hint


def test_redirects_are_not_followed_so_the_token_stays_put():
    client = client_for(
        lambda r: httpx.Response(301, headers={"Location": "https://elsewhere.test/"})
    )
    with pytest.raises(CliError) as caught:
        client.get("/thing")
    assert caught.value.exit_code == errors.USAGE
    assert "https://elsewhere.test/" in caught.value.message


def test_a_server_that_is_not_stackdock_is_reported():
    client = client_for(lambda r: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(CliError, match="did not answer with JSON"):
        client.get("/whoami")


def test_paginate_follows_offsets_until_count(monkeypatch):
    def handler(request):
        offset = int(request.url.params["offset"])
        items = [{"n": i} for i in range(offset, min(offset + 2, 5))]
        return httpx.Response(200, json={"count": 5, "results": items})

    monkeypatch.setattr("stackdock.cli.client.MAX_PAGE", 2)
    client = client_for(handler)
    assert [i["n"] for i in client.paginate("/x")] == [0, 1, 2, 3, 4]


def test_the_token_is_never_in_errors_or_reprs():
    def refuse(request):
        raise httpx.ConnectError(f"refused {request.headers['Authorization']}", request=request)

    client = client_for(refuse, retries=0)
    with pytest.raises(CliError) as caught:
        client.get("/thing")
    assert TOKEN not in caught.value.message + caught.value.hint + repr(caught.value)
    assert TOKEN not in repr(client)


def test_the_cli_imports_nothing_from_django_or_the_server_apps():
    root = Path(__file__).resolve().parents[2] / "stackdock" / "cli"
    forbidden = ("django", "rest_framework", "docks", "provisioning", "audit", "frontend")
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in forbidden, f"{path.name} imports {name}"
                if top == "stackdock":
                    assert name.startswith("stackdock.cli"), f"{path.name} imports {name}"
