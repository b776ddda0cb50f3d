"""docs/API.md's JSON examples against the real API.

A ```json block right after ``<!-- checked: NAME -->`` in docs/API.md is compared
with what the API answers in the situation ``PRODUCERS[NAME]`` sets up (run
in-process: the sandbox provider, the operation run by ``operation_run``). Keys must
be the same at every level (a list: its first element); values must be equal too,
except those the doc writes as ``"..."`` or that differ on every run (``VOLATILE``).
A marker without a producer, or a producer whose marker is gone, fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from provisioning.runner import operation_run
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"
MARKED = re.compile(r"<!-- checked: ([a-z0-9-]+) -->\s*```json\n(.*?)```", re.S)
#: values that differ from run to run (ids, times, URLs, token prefixes)
VOLATILE = {
    "id",
    "provision_id",
    "resource_id",
    "status_url",
    "dock",
    "actor",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
    "at",
    "seq",
    "duration_ms",
}
#: and inside events, their messages (they name generated resource ids)
VOLATILE_IN_EVENTS = {"message"}


def _examples() -> dict[str, Any]:
    return {name: json.loads(body) for name, body in MARKED.findall(API_MD.read_text())}


def _compare(doc: Any, real: Any, path: str = "") -> list[str]:
    if doc == "...":
        return []
    if isinstance(doc, dict) and isinstance(real, dict):
        problems = []
        if set(doc) != set(real):
            problems.append(
                f"{path or '.'}: the doc has keys {sorted(doc)}, the API {sorted(real)}"
            )
        for key in set(doc) & set(real):
            volatile = VOLATILE | (VOLATILE_IN_EVENTS if ".events" in path else set())
            if key in volatile and not isinstance(doc[key], dict | list):
                continue
            problems += _compare(doc[key], real[key], f"{path}.{key}")
        return problems
    if isinstance(doc, list) and isinstance(real, list):
        if not doc or not real:
            return [] if doc == real else [f"{path}: the doc shows {doc}, the API {real}"]
        return _compare(doc[0], real[0], f"{path}[0]")
    return [] if doc == real else [f"{path}: the doc shows {doc!r}, the API {real!r}"]


def _provision(client, spec):
    return client.post(
        "/api/v1/provision",
        {"dock": "sandbox", "resource_type": "bucket", "spec": spec},
        format="json",
    )


def receipt(client):
    return _provision(client, {"name": "acme-assets"}).json()


def operation(client):
    op = _provision(client, {"name": "acme-assets"}).json()
    operation_run(op["provision_id"], worker="docs")
    return client.get(f"/api/v1/operations/{op['provision_id']}").json()


def error_invalid(client):
    response = _provision(client, {"name": "My Bucket"})
    assert response.status_code == 400
    return response.json()


PRODUCERS = {"receipt": receipt, "operation": operation, "error-invalid": error_invalid}


def test_every_checked_example_has_a_producer():
    assert set(_examples()) == set(PRODUCERS)


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_the_example_is_what_the_api_answers(name, owner, owner_client, sandbox, settings):
    DockFactory(org=owner.org, name="sandbox", provider="sandbox")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    real = PRODUCERS[name](owner_client)
    problems = _compare(_examples()[name], real)
    assert not problems, (
        f"docs/API.md's {name!r} example:\n"
        + "\n".join(problems)
        + ("\n\nthe API answers:\n" + json.dumps(real, indent=1))
    )
