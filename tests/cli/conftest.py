"""Fixtures for the CLI's tests: a fake StackDock API on ``httpx.MockTransport``.

``api`` routes ``(method, path)`` to canned answers or handlers and records
every request; ``cli`` runs the real ``stackdock`` app (typer's CliRunner)
against it, with an isolated config directory and no real network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from stackdock.cli import context
from stackdock.cli.main import app

TOKEN = "sdk_0a1b2c3d_THE-SECRET-TOKEN-VALUE-never-printed"
URL = "http://stackdock.test"

NAME = {
    "title": "Name",
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[a-z0-9][a-z0-9.-]*$",
    "x-rule": "lowercase letters, digits, dots and hyphens, starting with a letter or digit",
}
SANDBOX_SCHEMA = {
    "additionalProperties": False,
    "properties": {
        "name": NAME,
        "size": {"anyOf": [{"type": "string", "maxLength": 63}, {"type": "null"}], "default": None},
        "latency_ms": {
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": 60000}, {"type": "null"}],
            "default": None,
        },
        "fail": {
            "anyOf": [
                {"enum": ["transient", "permanent", "crash-after-create"], "type": "string"},
                {"type": "null"},
            ],
            "default": None,
        },
    },
    "required": ["name"],
    "type": "object",
}
S3_SCHEMA = {
    "additionalProperties": False,
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "region": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "versioning": {"default": False, "type": "boolean"},
        "tags": {"additionalProperties": {"type": "string"}, "type": "object"},
    },
    "required": ["name"],
    "type": "object",
}
WORKER_SCHEMA = {
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "script": {"description": "ES module source", "type": "string"},
        "compatibility_date": {"default": "2025-09-01", "type": "string"},
    },
    "required": ["name", "script"],
    "type": "object",
}
AWS_CREDENTIALS = {
    "additionalProperties": False,
    "properties": {
        "access_key_id": {"type": "string", "minLength": 16},
        "secret_access_key": {
            "type": "string",
            "format": "password",
            "writeOnly": True,
            "secret": True,
            "minLength": 1,
        },
        "region": {"default": "us-east-1", "type": "string"},
    },
    "required": ["access_key_id", "secret_access_key"],
    "type": "object",
}


def _types(provider: str, names: dict[str, tuple[str, dict]]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "table": table,
            "description": f"A {provider} {name}.",
            "replace_fields": ["name"],
            "outputs": ["id", "name"],
            "schema": schema,
        }
        for name, (table, schema) in names.items()
    ]


PROVIDERS = [
    {
        "name": "aws",
        "label": "Amazon Web Services",
        "credentialless": False,
        "credentials": AWS_CREDENTIALS,
        "resource_types": _types("aws", {"s3-bucket": ("buckets", S3_SCHEMA)}),
    },
    {
        "name": "cloudflare",
        "label": "Cloudflare",
        "credentialless": False,
        "credentials": {"properties": {}, "type": "object"},
        "resource_types": _types("cloudflare", {"worker": ("web-services", WORKER_SCHEMA)}),
    },
    {
        "name": "sandbox",
        "label": "Sandbox (no cloud)",
        "credentialless": True,
        "credentials": {"properties": {}, "type": "object", "additionalProperties": False},
        "resource_types": _types(
            "sandbox",
            {
                "server": ("servers", SANDBOX_SCHEMA),
                "database": ("databases", SANDBOX_SCHEMA),
                "bucket": ("buckets", SANDBOX_SCHEMA),
            },
        ),
    },
]


def page(items: list[Any]) -> dict[str, Any]:
    return {"count": len(items), "next": None, "previous": None, "results": items}


def error(status: int, code: str, message: str, fields: dict | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message, "fields": fields or {}}}
    )


def operation(op_id: int, status: str, events: list[dict] | None = None, **extra: Any) -> dict:
    return {
        "id": op_id,
        "kind": "provision",
        "status": status,
        "progress": {"done": 1 if status == "succeeded" else 0, "total": 1},
        "resource": {"table": "buckets", "id": 12, "type": "s3-bucket"},
        "stack": None,
        "dock": None,
        "actor": "owner@acme.test",
        "error": "",
        "created_at": "2025-11-24T05:02:11.123456Z",
        "started_at": None,
        "finished_at": None,
        "events": events or [],
        **extra,
    }


def event(seq: int, resource: str, action: str, status: str, message: str = "") -> dict:
    return {
        "seq": seq,
        "resource": resource,
        "action": action,
        "status": status,
        "message": message,
        "duration_ms": 1200 if status != "started" else None,
        "at": f"2025-11-24T05:02:1{seq % 10}Z",
    }


Handler = Callable[[httpx.Request], httpx.Response]


class FakeApi:
    """A tiny stand-in for ``/api/v1``: canned answers per (method, path), in order."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Handler]] = {}
        self.requests: list[httpx.Request] = []
        self.on("GET", "/providers", json=page(PROVIDERS))

    def on(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        status: int = 200,
        handler: Handler | None = None,
        response: httpx.Response | None = None,
        times: int = 1,
        replace: bool = True,
    ) -> FakeApi:
        """Answer ``method path``; several answers for a route are used in order, the last
        one repeats."""
        if handler is None:
            if response is not None:
                fixed = response

                def handler(request: httpx.Request) -> httpx.Response:
                    return httpx.Response(
                        fixed.status_code, headers=fixed.headers, content=fixed.content
                    )
            else:
                body, code = json, status

                def handler(request: httpx.Request) -> httpx.Response:
                    return (
                        httpx.Response(code, json=body)
                        if body is not None
                        else (httpx.Response(code))
                    )

        key = (method.upper(), "/api/v1" + path)
        if replace:
            self.routes[key] = []
        self.routes.setdefault(key, []).extend([handler] * times)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handlers = self.routes.get((request.method, request.url.path))
        if not handlers:
            return error(404, "not_found", "Not found.")
        handler = handlers.pop(0) if len(handlers) > 1 else handlers[0]
        return handler(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == "/api/v1" + path]

    def body(self, method: str, path: str, index: int = -1) -> Any:
        return json.loads(self.sent(method, path)[index].content)


@pytest.fixture
def api(monkeypatch, tmp_path) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(context, "TRANSPORT", httpx.MockTransport(fake))
    home = tmp_path / "home"
    home.mkdir()
    for name, value in {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "STACKDOCK_URL": URL,
        "STACKDOCK_TOKEN": TOKEN,
        "STACKDOCK_POLL_INTERVAL": "0",
        "STACKDOCK_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STACKDOCK_CONFIG", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return fake


class Cli:
    """Runs ``stackdock ARGS`` in-process; every result is checked for the token."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):  # noqa: A002
        result = self.runner.invoke(app, list(args), input=input, env=env)
        assert TOKEN not in result.output, "the token was printed"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result


@pytest.fixture
def cli(api) -> Cli:
    return Cli()
