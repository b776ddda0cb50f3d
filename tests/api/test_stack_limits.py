"""Permission before cost: a stack document is not parsed for someone who may not write
stacks, nor when it is over the size limit; what is parsed reports its errors capped.

The endpoints are taken from the OpenAPI schema (every operation accepting a YAML
body is a stack-document endpoint), so a new one is covered as it arrives.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import strategies as st

from provisioning import limits
from provisioning.engine import spec as spec_module
from tests.api.conftest import STACK_DOC
from tests.factories import DockFactory

MIB = 1024 * 1024


def document_endpoints() -> list[tuple[str, str]]:
    """(path template, METHOD) of every operation whose body is a stack document (other
    stack actions take YAML too, but as a serialized body, not as a document)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    out = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            yaml_body = content.get("application/yaml", {}).get("schema", {})
            if yaml_body.get("type") == "string":  # the whole body is the document
                out.append((path, method.upper()))
    return sorted(out)


def test_the_schema_lists_the_stack_document_endpoints():
    assert document_endpoints() == [
        ("/api/v1/stacks", "POST"),
        ("/api/v1/stacks/{name}", "PUT"),
    ]


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """Each time a stack document is loaded (YAML or JSON text, or a mapping)."""
    calls: list[int] = []
    real = spec_module.load_document

    def counting(doc: Any) -> Any:
        calls.append(len(doc) if isinstance(doc, str | bytes) else -1)
        return real(doc)

    monkeypatch.setattr(spec_module, "load_document", counting)
    return calls


@functools.cache
def big_yaml(size: int) -> str:
    """A syntactically fine YAML stack of at least ``size`` bytes, full of bad resources."""
    body, total, i = ["name: big", "resources:"], 0, 0
    while total < size:
        line = f"  r{i}: {{dock: nowhere, type: nothing, properties: {{pad: {'x' * 40}}}}}"
        body.append(line)
        total, i = total + len(line) + 1, i + 1
    return "\n".join(body) + "\n"


def send(client: Any, method: str, path: str, body: str, content_type: str) -> Any:
    return client.generic(method, path, body, content_type=content_type)


BODIES = {
    "yaml": ("application/yaml", lambda text: text),
    "json": ("application/json", lambda text: '{"spec": ' + _json_str(text) + "}"),
}


def _json_str(text: str) -> str:
    import json

    return json.dumps(text)


@pytest.fixture
def stack_world(world):
    return world


@pytest.mark.parametrize(("path", "method"), document_endpoints())
@pytest.mark.parametrize("body_kind", sorted(BODIES))
@pytest.mark.parametrize(
    ("who", "expected"),
    [("viewer", 403), ("developer", 403), ("owner", 413), ("admin", 413)],
)
def test_a_large_document_is_refused_before_it_is_parsed(
    stack_world, client_for, parses, path, method, body_kind, who, expected
):
    """A 1.5 MB document: 403 for whoever may not write stacks, 413 naming the limit for
    whoever may; never parsed."""
    content_type, wrap = BODIES[body_kind]
    body = wrap(big_yaml(3 * MIB // 2))
    url = path.replace("{name}", stack_world.stack.name)
    response = send(client_for(stack_world.members[who]), method, url, body, content_type)
    assert response.status_code == expected, response.content[:300]
    assert parses == []
    assert len(response.content) < 2000
    if expected == 413:
        error = response.json()["error"]
        assert error["code"] == "too_large"
        assert f"{limits.max_document_bytes():,} bytes" in error["message"]
        assert "STACKDOCK_STACK_MAX_BYTES" in error["fields"]["spec"][0]


@pytest.mark.parametrize(("path", "method"), document_endpoints())
def test_another_orgs_stack_is_a_404_before_the_body_is_read(
    stack_world, client_for, parses, path, method
):
    if "{name}" not in path:
        pytest.skip("creating acts in the caller's own organization")
    url = path.replace("{name}", stack_world.stack.name)
    response = send(
        client_for(stack_world.members["outsider"]), method, url, big_yaml(MIB // 2), "text/yaml"
    )
    assert response.status_code == 404
    assert parses == []


@pytest.mark.parametrize("delta", [0, 1])
def test_the_size_limit_is_exact(stack_world, client_for, parses, settings, delta):
    text = STACK_DOC.replace("name: web", "name: web2")
    settings.STACKDOCK_STACK_MAX_BYTES = len(text.encode()) - delta
    response = send(
        client_for(stack_world.members["owner"]), "POST", "/api/v1/stacks", text, "application/yaml"
    )
    assert response.status_code == (201 if delta == 0 else 413), response.content[:300]
    assert bool(parses) == (delta == 0)


@pytest.mark.parametrize("extra", [0, 1])
def test_a_document_with_too_many_resources_is_refused_naming_the_limit(
    stack_world, client_for, settings, extra
):
    settings.STACKDOCK_STACK_MAX_RESOURCES = 3
    lines = ["name: many", "resources:"]
    for i in range(3 + extra):
        lines.append(f"  b{i}: {{dock: sandbox, type: bucket, properties: {{name: many-b{i}}}}}")
    response = send(
        client_for(stack_world.members["owner"]),
        "POST",
        "/api/v1/stacks",
        "\n".join(lines),
        "application/yaml",
    )
    if extra:
        assert response.status_code == 400
        fields = response.json()["error"]["fields"]
        assert fields == {"spec.resources": ["at most 3 resources per stack document, got 4"]}
    else:
        assert response.status_code == 201, response.content[:300]


def test_errors_are_capped_with_a_count_of_the_rest(stack_world, client_for):
    bad = 120
    text = "name: bad\nresources:\n" + "".join(
        f"  r{i}: {{dock: nowhere, type: bucket}}\n" for i in range(bad)
    )
    response = send(
        client_for(stack_world.members["owner"]), "POST", "/api/v1/stacks", text, "text/yaml"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    messages = [m for ms in error["fields"].values() for m in ms]
    assert len(messages) == limits.MAX_ERRORS_SHOWN + 1
    assert messages[-1] == f"and {bad - limits.MAX_ERRORS_SHOWN:,} more errors"
    assert error["message"].startswith(f"{bad:,} problems: ")
    assert error["message"].endswith(f"and {bad - limits.MAX_ERRORS_SHOWN:,} more errors")
    assert error["message"].count("; ") == limits.MAX_ERRORS_SHOWN


@given(st.integers(min_value=0, max_value=3000))
def test_capped_keeps_the_first_n_and_counts_the_rest(n):
    errors = [(f"resources.r{i}", "bad") for i in range(n)]
    shown = limits.capped(errors)
    assert shown[: limits.MAX_ERRORS_SHOWN] == errors[: limits.MAX_ERRORS_SHOWN]
    if n <= limits.MAX_ERRORS_SHOWN:
        assert shown == errors
    else:
        assert len(shown) == limits.MAX_ERRORS_SHOWN + 1
        assert shown[-1] == ("", f"and {n - limits.MAX_ERRORS_SHOWN:,} more errors")


# --- the dashboard's editor -------------------------------------------------------------


def _dashboard(membership: Any) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def test_the_editor_refuses_a_viewers_document_before_parsing_it(stack_world, parses):
    response = _dashboard(stack_world.members["viewer"]).post(
        "/dashboard/stacks/new/", {"spec": big_yaml(3 * MIB // 2), "on_failure": "stop"}
    )
    assert response.status_code == 403
    assert parses == []


def test_the_editor_names_the_size_limit(stack_world, parses, settings):
    settings.STACKDOCK_STACK_MAX_BYTES = 10_000
    DockFactory(org=stack_world.members["owner"].org, name="other", provider="sandbox")
    response = _dashboard(stack_world.members["owner"]).post(
        "/dashboard/stacks/new/", {"spec": big_yaml(20_000), "on_failure": "stop"}
    )
    assert response.status_code == 400
    assert "at most 10,000 bytes" in response.content.decode()
    assert parses == []
