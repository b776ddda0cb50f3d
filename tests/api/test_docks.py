"""Docks over HTTP against the Cloudflare emulator: live credential checks, rotation,
and no credential value in any response, log or audit record."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from docks.models import Dock
from docks.services import dock_credentials, erase_expired_previous_credentials
from stackdock.permissions import Actor
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID

pytestmark = pytest.mark.django_db

CANARY = "canary-api-token-c4n4ry-0001"
CANARY_PROV = "canary-prov-token-c4n4ry-0002"
CANARY_NEW = "canary-new-token-c4n4ry-0003"
CANARY_BAD = "canary-bad-token-c4n4ry-0004"
CANARIES = (CANARY, CANARY_PROV, CANARY_NEW, CANARY_BAD)


@pytest.fixture
def emulator(cf_emulator):
    for token in (CANARY, CANARY_PROV, CANARY_NEW):
        cf_emulator.add_token(token, CF_ACCOUNT_ID)
    return cf_emulator


def creds(token):
    return {"api_token": token, "account_id": CF_ACCOUNT_ID}


def connect(client, emulator, **extra):
    body = {
        "name": "cf",
        "provider": "cloudflare",
        "credentials": creds(CANARY),
        "endpoint_url": emulator.base_url,
        **extra,
    }
    return client.post("/api/v1/docks", body, format="json")


def stored(dock_id, which="provisioning"):
    dock = Dock.objects.get(pk=dock_id)
    return dock_credentials(
        dock=dock, actor=Actor.system("tests", dock.org), purpose="admin", which=which
    )


def test_connect_checks_credentials_live_and_reports_only_field_names(owner_client, emulator):
    response = connect(owner_client, emulator)
    assert response.status_code == 201, response.json()
    dock = response.json()
    assert dock["credential_fields"] == ["account_id", "api_token"]
    assert dock["credentials_changed_at"] is not None
    assert "credentials" not in dock and CANARY not in response.content.decode()
    assert emulator.calls("GET", r"/tokens/verify$")


def test_connect_with_a_rejected_token_is_a_400_and_saves_nothing(owner_client, emulator):
    body = {"credentials": creds(CANARY_BAD)}
    response = connect(owner_client, emulator, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"].keys() == {"credentials"}
    assert CANARY_BAD not in response.content.decode()
    assert not Dock.objects.exists()


def test_connect_with_malformed_credentials_names_the_field(owner_client, emulator):
    response = connect(owner_client, emulator, credentials={"api_token": CANARY_BAD})
    assert response.status_code == 400
    assert "credentials.account_id" in response.json()["error"]["fields"]
    assert CANARY_BAD not in response.content.decode()


def test_connect_an_unknown_provider_names_the_field(owner_client):
    body = {"name": "x", "provider": "oracle-cloud", "credentials": {}}
    response = owner_client.post("/api/v1/docks", body, format="json")
    assert response.status_code == 400
    assert "provider" in response.json()["error"]["fields"]


def test_rotation_bad_token_keeps_the_old_one_good_token_swaps(owner_client, emulator):
    dock_id = connect(owner_client, emulator).json()["id"]
    url = f"/api/v1/docks/{dock_id}/rotate-credentials"

    bad = owner_client.post(url, {"credentials": creds(CANARY_BAD)}, format="json")
    assert bad.status_code == 400
    assert stored(dock_id)["api_token"] == CANARY

    good = owner_client.post(
        url, {"credentials": creds(CANARY_NEW), "grace_seconds": 600}, format="json"
    )
    assert good.status_code == 200, good.json()
    assert stored(dock_id)["api_token"] == CANARY_NEW
    dock = Dock.objects.get(pk=dock_id)
    assert dock.previous_provisioning_credentials  # kept, encrypted, for the grace window
    assert good.json()["previous_credentials_expire_at"] is not None
    assert AuditEvent.objects.filter(operation="credential.rotate", target_id=dock_id).exists()

    assert erase_expired_previous_credentials(now=timezone.now()) == 0  # still in the window
    later = timezone.now() + timedelta(seconds=601)
    assert erase_expired_previous_credentials(now=later) == 1
    dock.refresh_from_db()
    assert dock.previous_provisioning_credentials == ""
    assert (
        owner_client.get(f"/api/v1/docks/{dock_id}").json()["previous_credentials_expire_at"]
        is None
    )


def test_rotation_grace_is_validated(owner_client, emulator):
    dock_id = connect(owner_client, emulator).json()["id"]
    response = owner_client.post(
        f"/api/v1/docks/{dock_id}/rotate-credentials",
        {"credentials": creds(CANARY_NEW), "grace_seconds": -1},
        format="json",
    )
    assert response.status_code == 400
    assert "grace_seconds" in response.json()["error"]["fields"]


def test_no_credential_value_in_any_response_log_or_audit_record(owner_client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    def keep(response):
        if getattr(response, "streaming", False):
            bodies.append(b"".join(response.streaming_content).decode())
        else:
            bodies.append(response.content.decode())
        return response

    created = keep(connect(owner_client, emulator, provisioning_credentials=creds(CANARY_PROV)))
    assert created.status_code == 201, created.json()
    dock_id = created.json()["id"]
    base = f"/api/v1/docks/{dock_id}"
    keep(
        owner_client.post(
            f"{base}/rotate-credentials", {"credentials": creds(CANARY_BAD)}, format="json"
        )
    )
    keep(
        owner_client.post(
            f"{base}/rotate-credentials", {"credentials": creds(CANARY_NEW)}, format="json"
        )
    )
    keep(connect(owner_client, emulator, name="cf2", credentials=creds(CANARY_BAD)))
    keep(owner_client.patch(base, {"name": "cf-renamed"}, format="json"))
    sync = keep(owner_client.post(f"{base}/sync"))
    for url in [
        "/api/v1/docks",
        base,
        "/api/v1/providers",
        "/api/v1/whoami",
        "/api/v1/operations",
        sync.json()["status_url"],
        "/api/v1/audit?limit=200",
        "/api/v1/audit/export?format=csv",
        "/api/v1/audit/export?format=jsonl",
        "/api/v1/servers",
        "/api/v1/web-services",
        "/api/v1/domains",
        "/api/v1/databases",
        "/api/v1/buckets",
        "/api/v1/stacks",
        "/api/v1/tokens",
    ]:
        assert keep(owner_client.get(url)).status_code == 200, url

    assert len(bodies) == 22
    for body in bodies:
        for canary in CANARIES:
            assert canary not in body
    audit = json.dumps(list(AuditEvent.objects.values()), default=str)
    logs = caplog.text
    for canary in CANARIES:
        assert canary not in audit
        assert canary not in logs
    assert stored(dock_id)["api_token"] == CANARY_NEW  # the rotation did happen
