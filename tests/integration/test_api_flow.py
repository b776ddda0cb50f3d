"""The REST API end to end through the real parts: the web process (``live_server``), a
Celery worker process on Redis + PostgreSQL, the moto server and the Cloudflare
emulator running as its own process. Everything is driven over HTTP; the outside
world is then checked with its own clients (boto3, the cloudflare SDK)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from cloudflare import Cloudflare
from django.utils import timezone

from docks.models import Dock
from docks.services import dock_credentials, erase_expired_previous_credentials
from stackdock.permissions import Actor
from stackdock.services import token_create
from tests.fixtures.workers import ROOT, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "aws-canary-secret-9f8e7d6c5b4a"
CF_ACCOUNT = "0123456789abcdef0123456789abcdef"
CF_TOKEN = "cf-canary-token-0a1b2c3d4e5f6a7b"
CF_NEW_TOKEN = "cf-canary-rotated-token-77aa88bb"
SECRETS = (AWS_SECRET, CF_TOKEN, CF_NEW_TOKEN)
TERMINAL = ("succeeded", "failed", "cancelled")


# --- the Cloudflare emulator as its own process -----------------------------------------------
@pytest.fixture(scope="module")
def cf_process(tmp_path_factory) -> Iterator[str]:
    """``python -m tests.fakes.cloudflare`` on a free loopback port; yields its API base URL."""
    log = tmp_path_factory.mktemp("cf") / "emulator.log"
    args = [
        sys.executable,
        "-m",
        "tests.fakes.cloudflare",
        "--port",
        "0",
        "--token",
        CF_TOKEN,
        "--account",
        CF_ACCOUNT,
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        line = wait_until(
            lambda: (
                next(
                    (
                        ln
                        for ln in log.read_text().splitlines()
                        if ln.startswith("CLOUDFLARE_EMULATOR_URL=")
                    ),
                    None,
                )
                or (proc.poll() is not None and f"exited: {log.read_text()}")
            ),
            "the Cloudflare emulator process",
            timeout=30,
        )
        assert str(line).startswith("CLOUDFLARE_EMULATOR_URL="), line
        yield str(line).split("=", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def emulator_root(base_url: str) -> str:
    return base_url.split("/client/v4")[0]


# --- HTTP helpers ---------------------------------------------------------------------------
class Api:
    """An httpx client for the live server that remembers every body it received."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )
        self.bodies: list[str] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        self.bodies.append(response.text)
        return response

    def poll(self, status_url: str, timeout: float = 90) -> dict[str, Any]:
        """Poll ``GET /api/v1/operations/{id}`` until the operation is terminal."""

        last: dict[str, Any] = {}

        def done() -> dict[str, Any] | None:
            last.update(self("GET", status_url).json())
            return dict(last) if last["status"] in TERMINAL else None

        try:
            return wait_until(done, f"operation {status_url}", timeout=timeout)  # type: ignore[return-value]
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {last}") from None

    def assert_no_secret_seen(self) -> None:
        assert self.bodies
        for body in self.bodies:
            for secret in SECRETS:
                assert secret not in body


@pytest.fixture
def api(live_server, owner, worker_env) -> Iterator[Api]:
    _, secret = token_create(actor=Actor.system("tests", owner.org), membership=owner)
    client = Api(live_server.url, secret)
    yield client
    client.http.close()


def member_api(live_server, membership) -> Api:
    _, secret = token_create(actor=Actor.system("tests", membership.org), membership=membership)
    return Api(live_server.url, secret)


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    return response.json()


# --- AWS through the moto server --------------------------------------------------------------
def s3_client(moto_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key="x",
    )


def bucket_tags(s3: Any, name: str) -> dict[str, str]:
    try:
        tags = s3.get_bucket_tagging(Bucket=name)["TagSet"]
    except ClientError:
        return {}
    return {t["Key"]: t["Value"] for t in tags}


def test_s3_bucket_provision_update_delete_over_http(
    api, moto, start_worker, live_server, viewer, outsider
):
    start_worker()
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
    body = {
        "dock": "aws",
        "resource_type": "s3-bucket",
        "spec": {"name": "stackdock-flow", "tags": {"env": "test"}},
    }

    # roles: a viewer may not provision; another organization does not see the dock
    assert (
        member_api(live_server, viewer)("POST", "/api/v1/provision", json=body).status_code == 403
    )
    other = member_api(live_server, outsider)
    foreign = {**body, "dock": created.json()["id"]}
    assert other("POST", "/api/v1/provision", json=foreign).status_code == 404
    assert other("GET", f"/api/v1/docks/{created.json()['id']}").status_code == 404

    headers = {"Idempotency-Key": "flow-s3-1"}
    receipt = accepted(api("POST", "/api/v1/provision", json=body, headers=headers))
    assert api("POST", "/api/v1/provision", json=body, headers=headers).json() == receipt
    conflict = api(
        "POST",
        "/api/v1/provision",
        headers=headers,
        json={**body, "spec": {"name": "stackdock-other"}},
    )
    assert conflict.status_code == 409

    op = api.poll(receipt["status_url"])
    assert op["status"] == "succeeded", op["error"]
    s3 = s3_client(moto)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["stackdock-flow"]
    assert bucket_tags(s3, "stackdock-flow") == {"env": "test"}
    row_url = f"/api/v1/buckets/{receipt['resource_id']}"
    row = api("GET", row_url).json()
    assert (row["provisioning_state"], row["provider_resource_id"]) == (
        "provisioned",
        "stackdock-flow",
    )

    update = accepted(api("PATCH", row_url, json={"spec": {"tags": {"env": "prod", "team": "x"}}}))
    assert api.poll(update["status_url"])["status"] == "succeeded"
    assert bucket_tags(s3, "stackdock-flow") == {"env": "prod", "team": "x"}

    delete = accepted(api("DELETE", row_url))
    assert api.poll(delete["status_url"])["status"] == "succeeded"
    assert s3.list_buckets()["Buckets"] == []
    assert api("GET", row_url).status_code == 404
    api.assert_no_secret_seen()


# --- Cloudflare through the emulator process ------------------------------------------------
def test_r2_bucket_provision_update_delete_over_http(api, cf_process, start_worker):
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

    body = {"dock": "cf", "resource_type": "r2-bucket", "spec": {"name": "sd-flow-r2"}}
    receipt = accepted(api("POST", "/api/v1/provision", json=body))
    op = api.poll(receipt["status_url"])
    assert op["status"] == "succeeded", op["error"]
    assert cf.r2.buckets.get("sd-flow-r2", account_id=CF_ACCOUNT).name == "sd-flow-r2"

    row_url = f"/api/v1/buckets/{receipt['resource_id']}"
    change = {"spec": {"storage_class": "InfrequentAccess"}}
    update = accepted(api("PATCH", row_url, json=change))
    assert api.poll(update["status_url"])["status"] == "succeeded"
    bucket = cf.r2.buckets.get("sd-flow-r2", account_id=CF_ACCOUNT)
    assert bucket.storage_class == "InfrequentAccess"

    delete = accepted(api("DELETE", row_url))
    assert api.poll(delete["status_url"])["status"] == "succeeded"
    names = [b.name for b in cf.r2.buckets.list(account_id=CF_ACCOUNT).buckets or []]
    assert "sd-flow-r2" not in names
    assert api("GET", row_url).status_code == 404
    cf.close()
    api.assert_no_secret_seen()


def test_credential_rotation_bad_token_kept_good_token_swapped_then_erased(api, cf_process):
    created = api(
        "POST",
        "/api/v1/docks",
        json={
            "name": "cf-rotate",
            "provider": "cloudflare",
            "credentials": {"api_token": CF_TOKEN, "account_id": CF_ACCOUNT},
            "endpoint_url": cf_process,
        },
    )
    assert created.status_code == 201, created.text
    dock_id = created.json()["id"]
    url = f"/api/v1/docks/{dock_id}/rotate-credentials"

    def current() -> str:
        dock = Dock.objects.get(pk=dock_id)
        return dock_credentials(dock=dock, actor=Actor.system("tests", dock.org), purpose="admin")[
            "api_token"
        ]

    bad = api(
        "POST", url, json={"credentials": {"api_token": CF_NEW_TOKEN, "account_id": CF_ACCOUNT}}
    )
    assert bad.status_code == 400, bad.text  # the emulator does not know it yet
    assert current() == CF_TOKEN

    httpx.post(
        f"{emulator_root(cf_process)}/__emulator/tokens",
        json={"token": CF_NEW_TOKEN, "account_id": CF_ACCOUNT},
    ).raise_for_status()
    good = api(
        "POST",
        url,
        json={
            "credentials": {"api_token": CF_NEW_TOKEN, "account_id": CF_ACCOUNT},
            "grace_seconds": 300,
        },
    )
    assert good.status_code == 200, good.text
    assert current() == CF_NEW_TOKEN
    assert Dock.objects.get(pk=dock_id).previous_provisioning_credentials

    assert erase_expired_previous_credentials(now=timezone.now()) == 0
    assert erase_expired_previous_credentials(now=timezone.now() + timedelta(seconds=301)) == 1
    assert Dock.objects.get(pk=dock_id).previous_provisioning_credentials == ""
    assert api("GET", f"/api/v1/docks/{dock_id}").json()["previous_credentials_expire_at"] is None
    api.assert_no_secret_seen()


# --- stacks: one deploy at a time -------------------------------------------------------------
STACK = """\
name: web
resources:
  db: {dock: sandbox, type: database, properties: {name: app-db, latency_ms: 200}}
  site: {dock: sandbox, type: web-service, properties: {name: "${db.name}-site"}}
"""


def test_two_concurrent_deploys_one_202_one_409(api, start_worker):
    sandbox = api("POST", "/api/v1/docks", json={"name": "sandbox", "provider": "sandbox"})
    assert sandbox.status_code == 201, sandbox.text
    created = api(
        "POST",
        "/api/v1/stacks",
        content=STACK.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.text

    barrier = threading.Barrier(2)
    statuses: list[int] = []
    receipts: list[dict[str, Any]] = []

    def deploy() -> None:
        barrier.wait()
        response = api.http.post("/api/v1/stacks/web/deploy")
        statuses.append(response.status_code)
        if response.status_code == 202:
            receipts.append(response.json())

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [202, 409]

    start_worker()
    op = api.poll(receipts[0]["status_url"])
    assert op["status"] == "succeeded", op["error"]
    versions = api("GET", "/api/v1/stacks/web/versions").json()
    assert versions["count"] == 1
    assert accepted(api("POST", "/api/v1/stacks/web/deploy"))  # unlocked again
