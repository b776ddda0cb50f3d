"""Fuzzing the REST API with schemathesis, from the schema the app serves at ``/api/schema/``.

Every operation of the schema is called on a live server (pytest-django's
``live_server``) with a valid owner token, with data schemathesis generates from the
schema, valid and invalid alike: no answer may be a 5xx, and every answer must match
the schema (documented status code, content type, headers and body). The run is
bounded: schemathesis's deterministic coverage phase (boundary and invalid values for
each parameter, a few dozen requests per operation) plus ``FUZZ_EXAMPLES`` random
examples per operation, derandomized so a CI run is repeatable; no operation is left
out (``test_every_schema_operation_is_fuzzed``).

``test_real_objects_answer_as_the_schema_says`` adds what random ids rarely reach: each
operation once more, on the victim organization's real objects with a valid body, so
the 2xx answers (details, receipts) are held to the schema too.

The bugs this fuzzing found are fixed; the tests that pinned them stay, at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
import yaml
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stackdock.models import ApiToken
from tests.security.conftest import TABLE_TYPES, Victim, token_secret
from tests.security.test_isolation_matrix import BODIES, PK_OWNERS, _shape, url_routes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

#: what "conforms" means here: no server error, and status, content type, headers and
#: body as documented
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_EXAMPLES = 8


def served_schema() -> dict[str, Any]:
    """The OpenAPI document exactly as ``/api/schema/`` serves it (public: no database)."""
    response = Client(HTTP_HOST="localhost").get("/api/schema/")
    assert response.status_code == 200, response.content[:200]
    return yaml.safe_load(response.content)


SERVED = served_schema()

schema = schemathesis.openapi.from_dict(SERVED)

# --- the fuzzer --------------------------------------------------------------------------------


@dataclass
class Target:
    url: str
    secret: str
    token_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def keep_token_alive(self) -> None:
        """A fuzzed DELETE /tokens/{id} may hit the fuzzer's own token: undo that."""
        ApiToken.objects.filter(pk=self.token_id, revoked_at__isnull=False).update(revoked_at=None)


@pytest.fixture
def target(victim, live_server, settings, loopback_only) -> Target:
    """The live server, an owner token of the victim organization, no throttling, and no
    way out of loopback (fuzzed docks name random endpoints)."""
    rates = {"token": "1000000/min", "ip": "1000000/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    secret = token_secret(victim.members["owner"], name="fuzz")
    token = ApiToken.objects.get(prefix=secret.split("_")[1])
    return Target(live_server.url, secret, token.pk)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_fuzzed_requests_never_fail_the_server_and_match_the_schema(case, target):
    target.keep_token_alive()
    response = case.call(base_url=target.url, headers=target.headers)
    case.validate_response(response, checks=CHECKS)


# --- the same operations on real objects -------------------------------------------------------

METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


def _path_parameters(path: str, v: Victim) -> dict[str, Any]:
    segments = path.strip("/").split("/")
    params: dict[str, Any] = {}
    for before, segment in zip(segments, segments[1:], strict=False):
        if segment == "{id}":
            params["id"] = PK_OWNERS[before](v) if before in PK_OWNERS else v.rows[before].pk
        elif segment == "{name}":
            params["name"] = v.stack.name
    return params


def real_cases(v: Victim) -> Iterator[Any]:
    """Each operation once, on the victim's objects, with the matrix's valid bodies;
    reads first, deletes last (the server keeps what each call changed)."""
    routes = {_shape(r.route): r.route for r in url_routes() if r.surface == "api"}
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: METHOD_ORDER[op.method.upper()])
    for op in operations:
        method = op.method.upper()
        make_body = BODIES.get((routes[_shape(op.path)], method))
        extra: dict[str, Any] = {}
        if make_body is not None:
            extra = {"body": make_body(v), "media_type": "application/json"}
        elif method in ("POST", "PUT", "PATCH"):
            extra = {"body": {}, "media_type": "application/json"}
        yield op.Case(path_parameters=_path_parameters(op.path, v), **extra)


def test_real_objects_answer_as_the_schema_says(target, victim):
    problems, successes = [], 0
    for case in real_cases(victim):
        target.keep_token_alive()
        response = case.call(base_url=target.url, headers=target.headers)
        successes += response.status_code < 300
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                problems.append(f"{case.operation.label} -> {response.status_code}: {failure}")
    assert problems == [], "\n\n".join(problems)
    assert successes >= 40  # the calls really reached the objects


# --- bugs the fuzzing found (fixed) ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_api_urls_answer_unsafe_methods_with_a_json_404(owner):
    secret = token_secret(owner, name="csrf")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {secret}")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/api/v1/no-such-endpoint", "/api/v1/docks/not-a-uuid"):
            response = client.generic(method, path)
            assert response.status_code == 404, f"{method} {path}: {response.status_code}"
            assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_unknown_api_urls_with_a_newline_answer_a_json_404(owner):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_secret(owner, name='newline')}")
    for path in ("/api/v1/operations/1%0A", "/api/v1/no-such%0Aendpoint"):
        response = client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json", f"{path}: {response['Content-Type']}"
        assert response.json()["error"]["code"] == "not_found"


def test_blank_urls_match_the_schema(target, victim):
    strict = schemathesis.openapi.from_dict(SERVED)
    calls = [
        ("/api/v1/docks/{id}", {"id": str(victim.dock.pk)}),
        ("/api/v1/web-services/{id}", {"id": victim.rows["web-services"].pk}),
    ]
    for path, params in calls:
        case = strict[path]["GET"].Case(path_parameters=params)
        response = case.call(base_url=target.url, headers=target.headers)
        assert response.status_code == 200
        case.validate_response(response, checks=CHECKS)


def test_the_fuzzed_server_cannot_reach_beyond_loopback(loopback_only):
    import socket

    with pytest.raises(OSError):
        socket.getaddrinfo("sts.amazonaws.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)


def test_every_schema_operation_is_fuzzed():
    """Nothing is left out: the fuzzed schema has every operation the server documents."""
    served = {(p, m) for p, item in SERVED["paths"].items() for m in item if m != "parameters"}
    fuzzed = {(op.path, op.method) for op in (r.ok() for r in schema.get_all_operations())}
    assert served == fuzzed
    assert len(fuzzed) == len({(r, m) for r, m in served}) > 50
    assert all(path.startswith("/api/v1/") for path, _ in fuzzed)
    assert TABLE_TYPES  # the real-object cases cover every table (see _path_parameters)
