"""The OpenAPI schema is complete and valid; the docs page serves local assets."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command

from stackdock.api.urls import urlpatterns

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def api_routes() -> set[str]:
    """Every /api/v1/ route, as OpenAPI writes it (``<uuid:pk>`` -> ``{pk}``)."""
    return {
        "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern))
        for p in urlpatterns
        if p.name
    }


def test_schema_validates_and_covers_every_route(schema):
    paths = set(schema["paths"])
    missing = {r.replace("{pk}", "{id}") for r in api_routes()} - paths
    assert missing == set()


def test_every_operation_documents_its_body_responses_and_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, (path, method)
            for code in success:
                if code != "204":
                    assert responses[code].get("content"), (path, method, code)
            for code in ("401", "403", "404", "429"):
                assert responses[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }
            if method in ("post", "put", "patch") and "requestBody" not in operation:
                # a table row's import takes no body: it reads the resource from its provider
                assert path.endswith(("/sync", "/cancel", "/refresh", "/unlock")) or (
                    path.endswith("/{id}/import")
                ), path


def test_idempotent_endpoints_document_the_header(schema):
    def headers(path, method):
        return {p["name"] for p in schema["paths"][path][method].get("parameters", [])}

    assert "Idempotency-Key" in headers("/api/v1/provision", "post")
    assert "Idempotency-Key" in headers("/api/v1/stacks/{name}/deploy", "post")
    assert "Idempotency-Key" in headers("/api/v1/buckets/{id}", "delete")


def test_no_credential_field_is_ever_in_a_response_schema(schema):
    def response_refs():
        for operations in schema["paths"].values():
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    for media in response.get("content", {}).values():
                        yield str(media.get("schema"))

    components = schema["components"]["schemas"]
    for name in ("Dock", "PaginatedDockList"):
        props = components[name].get("properties", {})
        assert not {"credentials", "api_credentials", "provisioning_credentials"} & set(props)
    assert "DockCreate" not in " ".join(response_refs())


def test_schema_and_docs_are_served_with_local_assets(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_the_project_urlconf_mounts_the_api():
    from django.urls import resolve

    match = resolve("/api/v1/whoami", urlconf="stackdock.urls")
    assert match.namespace == "api" and match.url_name == "whoami"
