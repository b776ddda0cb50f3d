"""The issue's scenarios end to end: the web process (``live_server``), a Celery worker
process, PostgreSQL, Redis and the moto server, driven over HTTP and checked at the
"provider" with a plain boto3 client. See docs/ENGINE.md, "What StackDock promises
about your resources"."""

from __future__ import annotations

import pytest

from tests.integration import test_api_flow as flow
from tests.integration.test_api_flow import AWS_KEY_ID, AWS_SECRET, accepted, s3_client

# the fixture, bound here so pytest finds it (assigned rather than imported: ruff's
# F811 flags imported fixtures that test parameters shadow)
api = flow.api

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _aws_dock(api, moto) -> None:
    created = api(
        "POST",
        "/api/v1/docks",
        json={
            "name": "aws",
            "provider": "aws",
            "credentials": {
                "access_key_id": AWS_KEY_ID,
                "secret_access_key": AWS_SECRET,
                "region": "us-east-1",
            },
            "endpoint_url": moto,
        },
    )
    assert created.status_code == 201, created.text


def _provision(api, name: str) -> dict:
    body = {"dock": "aws", "resource_type": "s3-bucket", "spec": {"name": name}}
    receipt = accepted(api("POST", "/api/v1/provision", json=body))
    op = api.poll(receipt["status_url"])
    assert op["status"] == "succeeded", op["error"]
    return receipt


def test_saying_the_default_region_changes_nothing_and_a_rename_asks_first(api, moto, start_worker):
    start_worker()
    _aws_dock(api, moto)
    receipt = _provision(api, "sd-keep")
    row_url = f"/api/v1/buckets/{receipt['resource_id']}"
    s3 = s3_client(moto)
    made = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}

    # the dock's region said out loud: no replace, the same bucket
    same = accepted(api("PATCH", row_url, json={"spec": {"region": "us-east-1"}}))
    op = api.poll(same["status_url"])
    assert op["status"] == "succeeded", op["error"]
    assert op["summary"].get("replaced", 0) == 0
    assert {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]} == made
    assert api("GET", row_url).json()["provisioning_state"] == "provisioned"

    # a rename replaces: refused with the plan until confirmed
    refused = api("PATCH", row_url, json={"spec": {"name": "sd-renamed"}})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "confirmation_required" and "confirm" in error["fields"]
    assert error["plan"]["changes"][0]["forces_replace"] == ["name"]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["sd-keep"]

    renamed = accepted(
        api("PATCH", row_url, json={"spec": {"name": "sd-renamed"}, "confirm": "replace"})
    )
    assert api.poll(renamed["status_url"])["status"] == "succeeded"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["sd-renamed"]
    row = api("GET", row_url).json()  # the same row, still managed, new provider id
    assert (row["name"], row["provisioning_source"], row["provisioning_state"]) == (
        "sd-renamed",
        "api",
        "provisioned",
    )
    assert row["provider_resource_id"] == "sd-renamed"
    api.assert_no_secret_seen()


def test_a_name_twice_is_refused_and_a_bucket_made_elsewhere_is_never_taken_over(
    api, moto, start_worker
):
    start_worker()
    _aws_dock(api, moto)
    first = _provision(api, "sd-once")
    again = api(
        "POST",
        "/api/v1/provision",
        json={"dock": "aws", "resource_type": "s3-bucket", "spec": {"name": "sd-once"}},
    )
    assert again.status_code == 409, again.text
    assert f"buckets row {first['resource_id']}" in again.json()["error"]["message"]

    # made outside StackDock, unknown to sync: the stack's create fails, touches nothing
    s3 = s3_client(moto)
    s3.create_bucket(Bucket="sd-theirs")
    s3.put_bucket_tagging(Bucket="sd-theirs", Tagging={"TagSet": [{"Key": "o", "Value": "1"}]})
    doc = (
        "name: grab\nresources:\n  b: {dock: aws, type: s3-bucket, properties: {name: sd-theirs}}\n"
    )
    created = api(
        "POST", "/api/v1/stacks", content=doc.encode(), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 201, created.text
    deploy = accepted(api("POST", "/api/v1/stacks/grab/deploy"))
    op = api.poll(deploy["status_url"])
    assert op["status"] == "failed" and "already exists" in op["error"] + str(op.get("events"))
    destroy = accepted(api("POST", "/api/v1/stacks/grab/destroy"))
    assert api.poll(destroy["status_url"])["status"] == "succeeded"
    names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert names == ["sd-once", "sd-theirs"]
    assert s3.get_bucket_tagging(Bucket="sd-theirs")["TagSet"] == [{"Key": "o", "Value": "1"}]

    # once sync knows it, the same deploy is refused before anything is queued
    sync = accepted(api("POST", f"/api/v1/docks/{_dock_id(api)}/sync"))
    assert api.poll(sync["status_url"])["status"] == "succeeded"
    refused = api("POST", "/api/v1/stacks/grab/deploy")
    assert refused.status_code == 409, refused.text
    assert "sync found it" in refused.json()["error"]["message"]
    api.assert_no_secret_seen()


def _dock_id(api) -> str:
    [dock] = [d for d in api("GET", "/api/v1/docks").json()["results"] if d["name"] == "aws"]
    return dock["id"]
