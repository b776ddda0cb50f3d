"""The Cloudflare emulator, driven through the official SDK with strict validation."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

from tests.fakes.cloudflare import CloudflareEmulator
from tests.fakes.cloudflare import fixtures as cf_fixtures
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID, CF_TOKEN

# The emulator fixtures, bound here so pytest finds them (assigned rather than
# imported: ruff's F811 flags imported fixtures that test parameters shadow).
cf_client = cf_fixtures.cf_client
cf_emulator = cf_fixtures.cf_emulator
cf_emulator_server = cf_fixtures.cf_emulator_server


OTHER_ACCOUNT = "fedcba9876543210fedcba9876543210"
MODULE = b"export default { async fetch() { return new Response('hi') } }"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _client(emulator: CloudflareEmulator, token: str, **options: object) -> Cloudflare:
    options.setdefault("max_retries", 0)
    return Cloudflare(
        api_token=token,
        base_url=emulator.base_url,
        _strict_response_validation=True,
        **options,  # type: ignore[arg-type]
    )


def _zone(client: Cloudflare, name: str) -> str:
    zone = client.zones.create(account={"id": CF_ACCOUNT_ID}, name=name)
    assert zone is not None
    return zone.id


# --- auth -----------------------------------------------------------------------
def test_known_token_verifies_as_active(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    result = cf_client.user.tokens.verify()

    assert result is not None
    assert result.status == "active"
    assert len(result.id) == 32


def test_unknown_token_gets_401_authentication_error(cf_emulator: CloudflareEmulator):
    client = _client(cf_emulator, "not-a-known-token")

    with pytest.raises(cloudflare.AuthenticationError) as caught:
        client.zones.list(per_page=5)

    assert caught.value.status_code == 401
    assert [(e.code, e.message) for e in caught.value.errors] == [(10000, "Authentication error")]
    assert caught.value.body["success"] is False  # type: ignore[index]


def test_verify_with_unknown_token_says_invalid_api_token(cf_emulator: CloudflareEmulator):
    client = _client(cf_emulator, "not-a-known-token")

    with pytest.raises(cloudflare.AuthenticationError) as caught:
        client.user.tokens.verify()

    assert [(e.code, e.message) for e in caught.value.errors] == [(1000, "Invalid API Token")]


def test_malformed_authorization_header_is_invalid_request_headers(cf_emulator: CloudflareEmulator):
    client = _client(cf_emulator, "has spaces in it")

    with pytest.raises(cloudflare.BadRequestError) as caught:
        client.user.tokens.verify()

    assert caught.value.errors[0].code == 6003
    assert caught.value.body["errors"][0]["error_chain"][0]["code"] == 6111  # type: ignore[index]


def test_disabled_token_verifies_with_its_status_but_cannot_call_endpoints(
    cf_emulator: CloudflareEmulator,
):
    cf_emulator.add_token("disabled-token", CF_ACCOUNT_ID, status="disabled")
    client = _client(cf_emulator, "disabled-token")

    assert client.user.tokens.verify().status == "disabled"  # type: ignore[union-attr]
    with pytest.raises(cloudflare.AuthenticationError):
        client.zones.list(per_page=5)


def test_account_owned_token_verifies_only_on_the_account_endpoint(cf_emulator: CloudflareEmulator):
    cf_emulator.add_token("account-token", CF_ACCOUNT_ID, owned_by="account")
    client = _client(cf_emulator, "account-token")

    with pytest.raises(cloudflare.AuthenticationError):
        client.user.tokens.verify()
    assert client.accounts.tokens.verify(account_id=CF_ACCOUNT_ID).status == "active"  # type: ignore[union-attr]


def test_token_without_the_permission_gets_403(cf_emulator: CloudflareEmulator):
    cf_emulator.add_token("dns-only", CF_ACCOUNT_ID, permissions=["Zone Read", "DNS Write"])
    client = _client(cf_emulator, "dns-only")

    assert list(client.zones.list(per_page=5)) == []
    with pytest.raises(cloudflare.PermissionDeniedError) as caught:
        client.r2.buckets.list(account_id=CF_ACCOUNT_ID)
    assert caught.value.errors[0].code == 10000
    with pytest.raises(cloudflare.PermissionDeniedError):
        client.zones.create(account={"id": CF_ACCOUNT_ID}, name="example.com")


def test_token_cannot_touch_another_account(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    with pytest.raises(cloudflare.PermissionDeniedError):
        cf_client.d1.database.list(account_id=OTHER_ACCOUNT).result  # noqa: B018


# --- paging -----------------------------------------------------------------------
def test_zone_auto_paging_returns_every_zone_and_stops_at_the_empty_page(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    names = {f"site{i:02d}.example" for i in range(12)}
    for name in names:
        _zone(cf_client, name)

    listed = [z.name for z in cf_client.zones.list(per_page=5)]

    assert sorted(listed) == sorted(names)
    pages = cf_emulator.calls("GET", r"^/zones$")
    assert len(pages) == 4  # 5 + 5 + 2, then the empty page that ends paging


def test_page_past_the_end_is_empty_with_page_info(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    _zone(cf_client, "only.example")

    raw = cf_client.zones.with_raw_response.list(page=3, per_page=5)
    body = raw.http_response.json()

    assert body["result"] == []
    assert body["result_info"] == {
        "page": 3,
        "per_page": 5,
        "count": 0,
        "total_count": 1,
        "total_pages": 1,
    }


def test_zone_list_filters_by_name_and_account(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    _zone(cf_client, "a.example")
    wanted = _zone(cf_client, "b.example")

    found = list(cf_client.zones.list(name="b.example", account={"id": CF_ACCOUNT_ID}))

    assert [z.id for z in found] == [wanted]
    assert list(cf_client.zones.list(account={"id": OTHER_ACCOUNT})) == []


def test_dns_record_paging_crosses_pages(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    zone_id = _zone(cf_client, "example.com")
    for i in range(11):
        cf_client.dns.records.create(
            zone_id=zone_id, name=f"h{i}", type="A", content=f"192.0.2.{i}", ttl=1
        )

    records = list(cf_client.dns.records.list(zone_id=zone_id, type="A", per_page=5))

    assert len(records) == 11
    assert {r.name for r in records} == {f"h{i}.example.com" for i in range(11)}


def test_r2_list_pages_with_a_cursor(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    for i in range(5):
        cf_client.r2.buckets.create(account_id=CF_ACCOUNT_ID, name=f"bucket-{i}")

    seen, cursor, calls = [], None, 0
    while True:
        calls += 1
        extra = {"cursor": cursor} if cursor else {}
        raw = cf_client.r2.buckets.with_raw_response.list(
            account_id=CF_ACCOUNT_ID, per_page=2, **extra
        )
        seen += [b.name for b in raw.parse().buckets or []]
        cursor = raw.http_response.json()["result_info"].get("cursor")
        if not cursor:
            break

    assert seen == [f"bucket-{i}" for i in range(5)]
    assert calls == 3


# --- not found, validation ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.zones.get(zone_id="0" * 32), 1001),
        (lambda c: c.r2.buckets.get("missing", account_id=CF_ACCOUNT_ID), 10006),
        (
            lambda c: c.d1.database.get(
                "00000000-0000-4000-8000-000000000000", account_id=CF_ACCOUNT_ID
            ),
            7404,
        ),
        (lambda c: c.workers.scripts.delete("missing", account_id=CF_ACCOUNT_ID), 10007),
    ],
    ids=["zone", "r2-bucket", "d1-database", "worker"],
)
def test_missing_resources_are_404_in_cloudflare_shape(
    cf_client: Cloudflare, cf_emulator, call, code
):
    with pytest.raises(cloudflare.NotFoundError) as caught:
        call(cf_client)

    assert caught.value.errors[0].code == code
    assert caught.value.body["success"] is False  # type: ignore[index]
    assert caught.value.body["result"] is None  # type: ignore[index]


def test_unknown_route_is_404(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    response = httpx.get(
        f"{cf_emulator.base_url}/nothing/here", headers={"Authorization": f"Bearer {CF_TOKEN}"}
    )

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 7000


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"type": "A", "content": "not-an-ip", "ttl": 1}, 9005),
        ({"type": "AAAA", "content": "192.0.2.1", "ttl": 1}, 9006),
        ({"type": "TXT", "content": "hello", "ttl": 1, "proxied": True}, 9004),
        ({"type": "A", "content": "192.0.2.1", "ttl": 30}, 9021),
    ],
    ids=["a-not-ipv4", "aaaa-not-ipv6", "proxied-txt", "ttl-too-low"],
)
def test_dns_records_are_validated_like_cloudflare(
    cf_client: Cloudflare, cf_emulator, record, code
):
    zone_id = _zone(cf_client, "example.com")

    with pytest.raises(cloudflare.BadRequestError) as caught:
        cf_client.dns.records.create(zone_id=zone_id, name="www", **record)

    assert caught.value.errors[0].code == code


def test_identical_dns_record_is_refused(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    zone_id = _zone(cf_client, "example.com")
    cf_client.dns.records.create(zone_id=zone_id, name="www", type="A", content="192.0.2.1", ttl=1)

    with pytest.raises(cloudflare.BadRequestError) as caught:
        cf_client.dns.records.create(
            zone_id=zone_id, name="www", type="A", content="192.0.2.1", ttl=1
        )

    assert caught.value.errors[0].code == 81058


def test_duplicate_zone_and_d1_names_are_refused(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    _zone(cf_client, "example.com")
    cf_client.d1.database.create(account_id=CF_ACCOUNT_ID, name="main")

    with pytest.raises(cloudflare.BadRequestError) as zone_error:
        _zone(cf_client, "example.com")
    with pytest.raises(cloudflare.BadRequestError) as d1_error:
        cf_client.d1.database.create(account_id=CF_ACCOUNT_ID, name="main")

    assert zone_error.value.errors[0].code == 1061
    assert d1_error.value.errors[0].code == 7502


def test_deleting_a_zone_deletes_its_records(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    zone_id = _zone(cf_client, "example.com")
    record = cf_client.dns.records.create(
        zone_id=zone_id, name="www", type="A", content="192.0.2.1", ttl=1
    )

    cf_client.zones.delete(zone_id=zone_id)

    with pytest.raises(cloudflare.NotFoundError):
        cf_client.dns.records.get(record.id, zone_id=zone_id)  # type: ignore[union-attr]


# --- workers ------------------------------------------------------------------------
def test_worker_module_upload_round_trips(cf_client: Cloudflare, cf_emulator: CloudflareEmulator):
    uploaded = cf_client.workers.scripts.update(
        "hello",
        account_id=CF_ACCOUNT_ID,
        metadata={"main_module": "worker.mjs", "compatibility_date": "2025-01-01"},
        files=[("worker.mjs", MODULE, "application/javascript+module")],
    )

    assert uploaded.id == "hello"
    assert uploaded.compatibility_date == "2025-01-01"
    assert cf_client.workers.scripts.get("hello", account_id=CF_ACCOUNT_ID) == MODULE.decode()
    assert [s.id for s in cf_client.workers.scripts.list(account_id=CF_ACCOUNT_ID)] == ["hello"]
    assert (
        cf_client.workers.scripts.subdomain.get("hello", account_id=CF_ACCOUNT_ID).enabled is False
    )
    assert cf_client.workers.scripts.subdomain.create(
        "hello", account_id=CF_ACCOUNT_ID, enabled=True
    ).enabled
    assert cf_client.workers.subdomains.get(account_id=CF_ACCOUNT_ID).subdomain == "acct-01234567"


def test_worker_upload_naming_a_missing_module_is_refused(cf_client: Cloudflare, cf_emulator):
    with pytest.raises(cloudflare.BadRequestError) as caught:
        cf_client.workers.scripts.update(
            "hello",
            account_id=CF_ACCOUNT_ID,
            metadata={"main_module": "index.js"},
            files=[("worker.mjs", MODULE, "application/javascript+module")],
        )

    assert caught.value.errors[0].code == 10021
    assert "index.js" in (caught.value.errors[0].message or "")


def test_account_without_workers_subdomain_is_404(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    cf_emulator.set_workers_subdomain(CF_ACCOUNT_ID, None)

    with pytest.raises(cloudflare.NotFoundError):
        cf_client.workers.subdomains.get(account_id=CF_ACCOUNT_ID)


# --- faults -------------------------------------------------------------------------
def test_injected_429_carries_retry_after_then_the_call_succeeds(
    cf_client: Cloudflare, cf_emulator
):
    cf_emulator.inject(r"^/zones$", status=429, times=1, retry_after=7)

    with pytest.raises(cloudflare.RateLimitError) as caught:
        cf_client.zones.list(per_page=5)

    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.errors[0].code == 971
    assert list(cf_client.zones.list(per_page=5)) == []


def test_sdk_retries_injected_429s_and_succeeds(cf_emulator: CloudflareEmulator):
    cf_emulator.inject(r"^/user/tokens/verify$", status=429, times=2, retry_after=0.01)
    client = _client(cf_emulator, CF_TOKEN, max_retries=2)

    assert client.user.tokens.verify().status == "active"  # type: ignore[union-attr]
    assert [r.status for r in cf_emulator.calls("GET", "tokens/verify")] == [429, 429, 200]


def test_injected_5xx_is_an_internal_server_error(
    cf_client: Cloudflare, cf_emulator: CloudflareEmulator
):
    cf_emulator.inject(r"/d1/database", status=503, times=1, method="POST")

    with pytest.raises(cloudflare.InternalServerError) as caught:
        cf_client.d1.database.create(account_id=CF_ACCOUNT_ID, name="main")

    assert caught.value.status_code == 503
    assert cf_client.d1.database.create(account_id=CF_ACCOUNT_ID, name="main").name == "main"


def test_reset_forgets_resources_and_faults_but_keeps_tokens(cf_client: Cloudflare, cf_emulator):
    _zone(cf_client, "example.com")
    cf_emulator.inject(r".", status=500, times=None)

    cf_emulator.reset()

    assert list(cf_client.zones.list(per_page=5)) == []
    assert cf_client.user.tokens.verify().status == "active"  # type: ignore[union-attr]


def test_control_api_injects_faults_for_another_process(cf_client: Cloudflare, cf_emulator):
    response = httpx.post(
        f"{cf_emulator.root_url}/__emulator/inject",
        json={"path": "^/zones$", "status": 429, "retry_after": 2},
    )
    assert response.status_code == 200

    with pytest.raises(cloudflare.RateLimitError):
        cf_client.zones.list(per_page=5)


# --- standalone -------------------------------------------------------------------------
def test_standalone_process_serves_the_api_with_the_given_token():
    token = "standalone-token"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.cloudflare",
            "--port",
            "0",
            "--token",
            token,
            "--account",
            CF_ACCOUNT_ID,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        url = _read_url(process, deadline=time.monotonic() + 20)
        client = Cloudflare(
            api_token=token, base_url=url, _strict_response_validation=True, max_retries=0
        )
        assert client.user.tokens.verify().status == "active"  # type: ignore[union-attr]
        bad = Cloudflare(api_token="wrong", base_url=url, max_retries=0)
        with pytest.raises(cloudflare.AuthenticationError):
            bad.user.tokens.verify()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def _read_url(process: subprocess.Popen[str], *, deadline: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if selector.select(timeout=0.1):
            line = process.stdout.readline()
            if line.startswith("CLOUDFLARE_EMULATOR_URL="):
                return line.strip().split("=", 1)[1]
            if not line and process.poll() is not None:
                break
    raise AssertionError(
        f"emulator did not start: {process.stderr.read() if process.stderr else ''}"
    )
