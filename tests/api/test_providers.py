"""``GET /providers``: credentials and resource spec JSON Schemas from the registry."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def by_name(client):
    response = client.get("/api/v1/providers")
    assert response.status_code == 200
    return {p["name"]: p for p in response.json()["results"]}


def test_providers_describe_credentials_and_resource_types(owner_client):
    providers = by_name(owner_client)
    assert set(providers) == {"aws", "cloudflare", "sandbox"}
    aws = providers["aws"]
    assert aws["label"] == "Amazon Web Services"
    secret = aws["credentials"]["properties"]["secret_access_key"]
    assert secret["writeOnly"] is True and secret["format"] == "password"
    types = {t["name"]: t for t in aws["resource_types"]}
    bucket = types["s3-bucket"]
    assert bucket["table"] == "buckets"
    assert "name" in bucket["schema"]["properties"]
    assert bucket["schema"]["additionalProperties"] is False
    assert "name" in bucket["replace_fields"]
    assert types["route53-record"]["table"] is None
    assert providers["sandbox"]["credentialless"] is True
    r2 = {t["name"]: t for t in providers["cloudflare"]["resource_types"]}["r2-bucket"]
    assert r2["table"] == "buckets"


def test_the_sandbox_is_not_offered_in_production(owner_client, settings):
    settings.STACKDOCK_SANDBOX = False
    assert set(by_name(owner_client)) == {"aws", "cloudflare"}
