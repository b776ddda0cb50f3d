"""Import instead of silent adoption, end to end (docs/ENGINE.md, "What StackDock
promises", 7): the web process (``live_server``), a Celery worker process, PostgreSQL,
Redis, the moto server and the Cloudflare emulator process, driven over HTTP and
checked at the "provider" with its own clients."""

from __future__ import annotations

from typing import Any

import pytest
from cloudflare import Cloudflare

from tests.integration import test_api_flow as flow
from tests.integration.test_api_flow import (
    CF_ACCOUNT,
    CF_TOKEN,
    accepted,
    bucket_tags,
    s3_client,
)
from tests.integration.test_resource_safety_live import _aws_dock, _dock_id

api = flow.api
cf_process = flow.cf_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _sync(api, dock_id: str) -> None:
    sync = accepted(api("POST", f"/api/v1/docks/{dock_id}/sync"))
    assert api.poll(sync["status_url"])["status"] == "succeeded"


def _row(api, table: str, name: str) -> dict[str, Any]:
    [row] = [r for r in api("GET", f"/api/v1/{table}").json()["results"] if r["name"] == name]
    return row


def _made_elsewhere(s3: Any, name: str) -> Any:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "web"}]})
    return {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}[name]


def test_a_bucket_made_elsewhere_is_imported_updated_in_place_and_deleted_at_moto(
    api, moto, start_worker
):
    start_worker()
    _aws_dock(api, moto)
    s3 = s3_client(moto)
    made = _made_elsewhere(s3, "sd-legacy")
    _sync(api, _dock_id(api))
    row = _row(api, "buckets", "sd-legacy")
    url = f"/api/v1/buckets/{row['id']}"
    assert row["provisioning_source"] == "manual"
    assert api("PATCH", url, json={"spec": {"versioning": False}}).status_code == 409

    imported = api("POST", f"{url}/import")
    assert imported.status_code == 200, imported.text
    assert imported.json()["properties"] == {
        "name": "sd-legacy",
        "region": "us-east-1",
        "versioning": True,
        "tags": {"team": "web"},
    }
    # only read: the bucket is as it was
    assert {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]} == {
        "sd-legacy": made
    }
    assert api("GET", url).json()["provisioning_source"] == "api"

    update = accepted(api("PATCH", url, json={"spec": {"tags": {"team": "ops"}}}))
    op = api.poll(update["status_url"])
    assert op["status"] == "succeeded", op["error"]
    assert op["plan"]["summary"]["update"] == 1 and op["summary"].get("replaced", 0) == 0
    assert bucket_tags(s3, "sd-legacy") == {"team": "ops"}
    assert s3.get_bucket_versioning(Bucket="sd-legacy")["Status"] == "Enabled"
    assert {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]} == {
        "sd-legacy": made
    }

    delete = accepted(api("DELETE", url))
    assert api.poll(delete["status_url"])["status"] == "succeeded"
    assert s3.list_buckets()["Buckets"] == []
    assert api("GET", url).status_code == 404
    api.assert_no_secret_seen()


STACK = (
    "name: site\nresources:\n  fresh: {dock: aws, type: s3-bucket, properties: {name: sd-fresh}}\n"
)


def test_a_bucket_imported_into_a_stack_plans_no_op_and_goes_with_its_destroy(
    api, moto, start_worker
):
    start_worker()
    _aws_dock(api, moto)
    created = api(
        "POST",
        "/api/v1/stacks",
        content=STACK.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.text
    assert (
        api.poll(accepted(api("POST", "/api/v1/stacks/site/deploy"))["status_url"])["status"]
        == "succeeded"
    )
    s3 = s3_client(moto)
    _made_elsewhere(s3, "sd-old")
    _sync(api, _dock_id(api))
    row = _row(api, "buckets", "sd-old")

    body = {"table": "buckets", "id": row["id"], "resource": "old"}
    imported = api("POST", "/api/v1/stacks/site/import", json=body)
    assert imported.status_code == 200, imported.text
    assert api("GET", f"/api/v1/buckets/{row['id']}").json()["sst_stack_name"] == "site"
    plan = api("POST", "/api/v1/stacks/site/plan", json={}).json()
    assert {c["resource"]: c["action"] for c in plan["changes"]} == {
        "fresh": "no-op",
        "old": "no-op",
    }
    deploy = accepted(api("POST", "/api/v1/stacks/site/deploy", json={"plan": plan["id"]}))
    op = api.poll(deploy["status_url"])
    assert op["status"] == "succeeded" and op["summary"]["unchanged"] == 2
    # a second import of it is refused: it has one manager
    again = api("POST", f"/api/v1/buckets/{row['id']}/import")
    assert again.status_code == 409 and "stack 'site'" in again.json()["error"]["message"]

    destroy = accepted(api("POST", "/api/v1/stacks/site/destroy"))
    assert api.poll(destroy["status_url"])["status"] == "succeeded"
    assert s3.list_buckets()["Buckets"] == []
    api.assert_no_secret_seen()


SCRIPT = "export default { async fetch() { return new Response('legacy') } }"


def test_a_worker_made_elsewhere_is_imported_with_its_script_and_updated(
    api, cf_process, start_worker
):
    start_worker()
    created = api(
        "POST",
        "/api/v1/docks",
        json={
            "name": "cf",
            "provider": "cloudflare",
            "credentials": {"api_token": CF_TOKEN, "account_id": CF_ACCOUNT},
            "endpoint_url": cf_process,
        },
    )
    assert created.status_code == 201, created.text
    cf = Cloudflare(api_token=CF_TOKEN, base_url=cf_process, max_retries=0)
    cf.workers.scripts.update(
        "legacy-api",
        account_id=CF_ACCOUNT,
        metadata={"main_module": "index.mjs", "compatibility_date": "2025-01-15"},
        files=[("index.mjs", SCRIPT.encode(), "application/javascript+module")],
    )
    _sync(api, created.json()["id"])
    row = _row(api, "web-services", "legacy-api")

    imported = api("POST", f"/api/v1/web-services/{row['id']}/import")
    assert imported.status_code == 200, imported.text
    assert imported.json()["properties"] == {
        "name": "legacy-api",
        "script": SCRIPT,
        "compatibility_date": "2025-01-15",
    }
    assert "bindings" in imported.json()["notes"][0]

    new = SCRIPT.replace("legacy", "managed")
    update = accepted(
        api("PATCH", f"/api/v1/web-services/{row['id']}", json={"spec": {"script": new}})
    )
    assert api.poll(update["status_url"])["status"] == "succeeded"
    assert cf.workers.scripts.get("legacy-api", account_id=CF_ACCOUNT) == new
    cf.close()
    api.assert_no_secret_seen()
