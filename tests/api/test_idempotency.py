"""Idempotency-Key on every POST (and PATCH/DELETE) that queues work."""

from __future__ import annotations

import pytest

from docks.models import Bucket, Server
from provisioning.models import Operation
from tests.api.conftest import STACK_DOC, provisioned_bucket
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db

BODY = {"dock": "sandbox", "resource_type": "server", "spec": {"name": "web-1"}}


@pytest.fixture
def dock(owner):
    return DockFactory(org=owner.org, name="sandbox", provider="sandbox")


def post(client, body, key, url="/api/v1/provision"):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_body_returns_the_first_response(owner_client, dock):
    first = post(owner_client, BODY, "key-1")
    again = post(owner_client, BODY, "key-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Operation.objects.count() == 1
    assert Server.objects.count() == 1


def test_replay_answers_the_same_after_the_operation_moved_on(owner_client, dock):
    first = post(owner_client, BODY, "key-1")
    Operation.objects.update(status="succeeded")
    assert post(owner_client, BODY, "key-1").json() == first.json()


def test_same_key_with_another_body_is_a_409(owner_client, dock):
    assert post(owner_client, BODY, "key-1").status_code == 202
    other = {**BODY, "spec": {"name": "web-2"}}
    response = post(owner_client, other, "key-1")
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {
        "Idempotency-Key": ["reused with a different request"]
    }
    assert Operation.objects.count() == 1


def test_same_key_on_another_endpoint_is_a_409(owner_client, owner, dock):
    owner_client.post("/api/v1/stacks", {"spec": STACK_DOC}, format="json")
    assert post(owner_client, {}, "k", "/api/v1/stacks/web/deploy").status_code == 202
    assert post(owner_client, {}, "k", "/api/v1/stacks/web/destroy").status_code == 409


def test_another_member_reusing_a_key_gets_a_409_not_the_first_response(
    owner_client, admin, client_for, dock
):
    assert post(owner_client, BODY, "shared").status_code == 202
    assert post(client_for(admin), BODY, "shared").status_code == 409


def test_without_a_key_every_request_queues_new_work(owner_client, dock):
    owner_client.post(f"/api/v1/docks/{dock.pk}/sync")
    owner_client.post(f"/api/v1/docks/{dock.pk}/sync")
    assert Operation.objects.filter(kind="sync").count() == 2


def test_replayed_delete_answers_the_same_after_the_row_is_gone(owner_client, dock):
    bucket = provisioned_bucket(dock)
    url = f"/api/v1/buckets/{bucket.pk}"
    first = owner_client.delete(url, HTTP_IDEMPOTENCY_KEY="del-1")
    assert first.status_code == 202
    Bucket.objects.filter(pk=bucket.pk).delete()  # the worker finished the delete
    again = owner_client.delete(url, HTTP_IDEMPOTENCY_KEY="del-1")
    assert (again.status_code, again.json()) == (202, first.json())


def test_patch_replay_with_the_same_changes(owner_client, dock):
    bucket = provisioned_bucket(dock)
    url = f"/api/v1/buckets/{bucket.pk}"
    body = {"spec": {"size": "large"}}
    first = owner_client.patch(url, body, format="json", HTTP_IDEMPOTENCY_KEY="p")
    again = owner_client.patch(url, body, format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    other = owner_client.patch(
        url, {"spec": {"size": "small"}}, format="json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert other.status_code == 409


@pytest.mark.parametrize("key", ["has space", "x" * 201, "tab\tkey", "é"])
def test_malformed_key_is_a_400(owner_client, dock, key):
    response = owner_client.post(
        "/api/v1/provision",
        BODY,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1"),
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
