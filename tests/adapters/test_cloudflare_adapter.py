"""CloudflareAdapter against the emulator, through the real SDK with strict validation."""

from __future__ import annotations

import json
import socket

import pytest

from docks.adapters.base import (
    CENSOR,
    AlreadyExists,
    CredentialsRejected,
    ProviderError,
    ResourceResult,
)
from docks.adapters.cloudflare import (
    CloudflareAdapter,
    D1DatabaseSpec,
    DnsRecordSpec,
    R2BucketSpec,
    WorkerSpec,
    ZoneSpec,
)
from docks.adapters.cloudflare import r2 as r2_module
from tests.fakes.cloudflare import CloudflareEmulator
from tests.fakes.cloudflare import fixtures as cf_fixtures
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID, CF_TOKEN

# The emulator fixtures, bound here so pytest finds them (assigned rather than
# imported: ruff's F811 flags imported fixtures that test parameters shadow).
cf_adapter = cf_fixtures.cf_adapter
cf_client = cf_fixtures.cf_client
cf_emulator = cf_fixtures.cf_emulator
cf_emulator_server = cf_fixtures.cf_emulator_server


SCRIPT = "export default { async fetch() { return new Response('hello') } }"
KEY = "idem-key"


def _adapter(
    emulator: CloudflareEmulator, token: str = CF_TOKEN, **creds: str
) -> CloudflareAdapter:
    return CloudflareAdapter(
        {"api_token": token, "account_id": CF_ACCOUNT_ID, **creds},
        endpoint_url=emulator.base_url,
        max_retries=0,
        strict_validation=True,
    )


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/client/v4"


def _no_secret(result: ResourceResult | None, secret: str = CF_TOKEN) -> None:
    assert result is not None
    assert secret not in json.dumps(
        [result.outputs, result.universal, result.full_api_data], default=str
    )


# --- credentials -------------------------------------------------------------------
def test_valid_token_passes_the_credential_check(cf_adapter: CloudflareAdapter, cf_emulator):
    check = cf_adapter.validate_credentials()

    assert check.ok is True
    assert check.identity["token_kind"] == "user"
    assert check.identity["account_id"] == CF_ACCOUNT_ID
    assert CF_TOKEN not in check.reason


def test_rejected_token_gives_cloudflares_reason_without_raising(cf_emulator: CloudflareEmulator):
    adapter = _adapter(cf_emulator, token="revoked-token-value")

    check = adapter.validate_credentials()

    assert check.ok is False
    assert check.reason == "Cloudflare rejected the API token: Invalid API Token"
    assert "revoked-token-value" not in repr(check)


def test_account_owned_token_passes_through_the_account_verify_endpoint(cf_emulator):
    cf_emulator.add_token("account-owned", CF_ACCOUNT_ID, owned_by="account")

    check = _adapter(cf_emulator, token="account-owned").validate_credentials()

    assert check.ok is True
    assert check.identity["token_kind"] == "account"


def test_disabled_token_fails_the_check_with_its_status(cf_emulator: CloudflareEmulator):
    cf_emulator.add_token("disabled-one", CF_ACCOUNT_ID, status="disabled")

    check = _adapter(cf_emulator, token="disabled-one").validate_credentials()

    assert (check.ok, check.reason) == (False, "Cloudflare API token is disabled")


def test_malformed_token_is_rejected_with_the_header_problem(cf_emulator: CloudflareEmulator):
    check = _adapter(cf_emulator, token="two words").validate_credentials()

    assert check.ok is False
    assert "Invalid format for Authorization header" in check.reason
    assert "two words" not in check.reason


def test_incomplete_credentials_fail_the_check_naming_the_field(cf_emulator: CloudflareEmulator):
    adapter = CloudflareAdapter(
        {"api_token": "secret-value-123", "account_id": "not-hex"},
        endpoint_url=cf_emulator.base_url,
    )

    check = adapter.validate_credentials()

    assert check.ok is False
    assert "account_id" in check.reason
    assert "secret-value-123" not in check.reason
    assert cf_emulator.requests == []


def test_unreachable_api_raises_a_transient_error_from_the_check():
    adapter = CloudflareAdapter(
        {"api_token": CF_TOKEN, "account_id": CF_ACCOUNT_ID},
        endpoint_url=_closed_port_url(),
        max_retries=0,
        timeout=5,
    )

    with pytest.raises(ProviderError) as caught:
        adapter.validate_credentials()

    assert caught.value.permanent is False
    assert caught.value.code == "connection"


def test_rate_limited_check_raises_transient_with_retry_after(cf_adapter, cf_emulator):
    cf_emulator.inject("tokens/verify", status=429, retry_after=9)

    with pytest.raises(ProviderError) as caught:
        cf_adapter.validate_credentials()

    assert (caught.value.permanent, caught.value.retry_after) == (False, 9.0)


def test_environment_keys_never_replace_the_docks_token(cf_adapter, cf_emulator, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "global-key-from-env")
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "ops@example.com")

    assert cf_adapter.validate_credentials().ok is True


def test_adapter_repr_never_shows_the_token(cf_adapter: CloudflareAdapter):
    assert CF_TOKEN not in repr(cf_adapter)


# --- zone ------------------------------------------------------------------------
def test_zone_create_read_update_delete(cf_adapter: CloudflareAdapter, cf_emulator):
    spec = ZoneSpec(name="example.com")

    created = cf_adapter.create("zone", spec, token=KEY)
    zone_id = created.provider_resource_id

    assert created.outputs["name"] == "example.com"
    assert created.outputs["status"] == "pending"
    assert len(created.outputs["name_servers"]) == 2
    assert created.universal == {
        "name": "example.com",
        "status": "pending",
        "region": None,
        "domain_name": "example.com",
        "expires_at": None,
    }
    _no_secret(created)
    assert cf_adapter.read("zone", zone_id, spec).outputs["id"] == zone_id  # type: ignore[union-attr]

    updated = cf_adapter.update("zone", zone_id, spec, ZoneSpec(name="example.com", type="partial"))
    assert updated.full_api_data["type"] == "partial"

    cf_adapter.delete("zone", zone_id, spec)
    assert cf_adapter.read("zone", zone_id, spec) is None
    cf_adapter.delete("zone", zone_id, spec)  # already gone: still success


def test_zone_find_sees_only_what_exists(cf_adapter: CloudflareAdapter, cf_emulator):
    spec = ZoneSpec(name="example.org")
    assert cf_adapter.find("zone", spec, token=KEY) is None

    created = cf_adapter.create("zone", spec, token=KEY)

    assert (
        cf_adapter.find("zone", spec, token=KEY).provider_resource_id
        == created.provider_resource_id
    )  # type: ignore[union-attr]


# --- DNS record ------------------------------------------------------------------------
def test_dns_record_lifecycle_with_the_zone_given_by_name(cf_adapter, cf_emulator):
    zone = cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)
    spec = DnsRecordSpec(zone="example.com", type="A", name="www", content="192.0.2.10", ttl=300)

    created = cf_adapter.create("dns-record", spec, token=KEY)
    record_id = created.provider_resource_id

    assert record_id.startswith(zone.provider_resource_id + "/")
    assert created.outputs["name"] == "www.example.com"
    assert created.outputs["content"] == "192.0.2.10"
    assert created.outputs["zone_id"] == zone.provider_resource_id

    new = spec.model_copy(update={"content": "192.0.2.20", "ttl": 1, "proxied": True})
    updated = cf_adapter.update("dns-record", record_id, spec, new)
    assert updated.outputs["content"] == "192.0.2.20"
    assert updated.full_api_data["proxied"] is True
    assert cf_emulator.calls("PUT", r"/dns_records/")

    read = cf_adapter.read("dns-record", record_id, new)
    assert read is not None and read.outputs["content"] == "192.0.2.20"

    cf_adapter.delete("dns-record", record_id, new)
    assert cf_adapter.read("dns-record", record_id, new) is None
    cf_adapter.delete("dns-record", record_id, new)


def test_dns_record_create_then_find(cf_adapter: CloudflareAdapter, cf_emulator):
    zone = cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)
    spec = DnsRecordSpec(
        zone=zone.provider_resource_id, type="TXT", name="@", content="v=spf1 -all"
    )

    first = cf_adapter.create("dns-record", spec, token=KEY)

    assert first.outputs["name"] == "example.com"
    assert (
        cf_adapter.find("dns-record", spec, token=KEY).provider_resource_id
        == first.provider_resource_id
    )  # type: ignore[union-attr]


def test_dns_record_in_a_zone_not_in_the_account_is_a_permanent_error(cf_adapter, cf_emulator):
    spec = DnsRecordSpec(zone="nowhere.example", type="A", name="www", content="192.0.2.1")

    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("dns-record", spec, token=KEY)

    assert caught.value.permanent is True
    assert "nowhere.example" in caught.value.message


def test_dns_record_reads_as_gone_when_its_zone_is_deleted(cf_adapter, cf_emulator):
    zone = cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)
    spec = DnsRecordSpec(zone="example.com", type="AAAA", name="v6", content="2001:db8::1")
    record = cf_adapter.create("dns-record", spec, token=KEY)

    cf_adapter.delete("zone", zone.provider_resource_id, None)

    assert cf_adapter.read("dns-record", record.provider_resource_id, spec) is None


def test_cloudflares_own_refusal_is_permanent_with_its_message(cf_adapter, cf_emulator):
    cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)
    cf_adapter.create(
        "dns-record",
        DnsRecordSpec(zone="example.com", type="A", name="www", content="192.0.2.1"),
        token=KEY,
    )
    cname = DnsRecordSpec(zone="example.com", type="CNAME", name="www", content="example.net")

    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("dns-record", cname, token=KEY)

    assert caught.value.permanent is True
    assert "An A, AAAA, or CNAME record with that host already exists." in caught.value.message
    assert CF_TOKEN not in caught.value.message


# --- worker ----------------------------------------------------------------------------
def test_worker_create_uploads_the_module_and_serves_it_on_workers_dev(
    cf_adapter, cf_client, cf_emulator
):
    spec = WorkerSpec(name="hello-api", script=SCRIPT)

    created = cf_adapter.create("worker", spec, token=KEY)

    assert created.provider_resource_id == "hello-api"
    assert created.outputs["url"] == "https://hello-api.acct-01234567.workers.dev"
    assert created.universal["production_url"] == created.outputs["url"]
    assert created.universal["environment"] == "production"
    assert created.full_api_data["script_size"] == len(SCRIPT)
    assert created.full_api_data["etag"]
    assert SCRIPT not in json.dumps(created.full_api_data)
    assert cf_client.workers.scripts.get("hello-api", account_id=CF_ACCOUNT_ID) == SCRIPT
    assert (
        cf_client.workers.scripts.subdomain.get("hello-api", account_id=CF_ACCOUNT_ID).enabled
        is True
    )
    _no_secret(created)


def test_worker_update_uploads_the_new_script(cf_adapter, cf_client, cf_emulator):
    old = WorkerSpec(name="hello", script=SCRIPT)
    cf_adapter.create("worker", old, token=KEY)
    new = WorkerSpec(
        name="hello", script=SCRIPT.replace("hello", "bonjour"), compatibility_date="2025-01-15"
    )

    updated = cf_adapter.update("worker", "hello", old, new)

    assert cf_client.workers.scripts.get("hello", account_id=CF_ACCOUNT_ID) == new.script
    assert updated.full_api_data["compatibility_date"] == "2025-01-15"


def test_worker_without_a_workers_dev_subdomain_has_no_url(cf_adapter, cf_emulator):
    cf_emulator.set_workers_subdomain(CF_ACCOUNT_ID, None)

    created = cf_adapter.create("worker", WorkerSpec(name="hello", script=SCRIPT), token=KEY)

    assert created.outputs["url"] is None
    assert cf_emulator.calls("POST", "/subdomain$") == []


def test_worker_delete_then_read_is_none(cf_adapter, cf_emulator):
    spec = WorkerSpec(name="hello", script=SCRIPT)
    cf_adapter.create("worker", spec, token=KEY)

    cf_adapter.delete("worker", "hello", spec)

    assert cf_adapter.read("worker", "hello", spec) is None
    assert cf_adapter.find("worker", spec, token=KEY) is None
    cf_adapter.delete("worker", "hello", spec)


# --- R2 bucket ---------------------------------------------------------------------------
def test_r2_bucket_lifecycle(cf_adapter: CloudflareAdapter, cf_emulator):
    spec = R2BucketSpec(name="media-assets", location_hint="weur")

    created = cf_adapter.create("r2-bucket", spec, token=KEY)

    assert created.provider_resource_id == "media-assets"
    endpoint = f"https://{CF_ACCOUNT_ID}.r2.cloudflarestorage.com/media-assets"
    assert created.outputs == {"id": "media-assets", "name": "media-assets", "endpoint": endpoint}
    assert created.universal["region"] == "weur"
    assert created.universal["endpoint"] == endpoint

    new = spec.model_copy(update={"storage_class": "InfrequentAccess"})
    updated = cf_adapter.update("r2-bucket", "media-assets", spec, new)
    assert updated.full_api_data["storage_class"] == "InfrequentAccess"

    cf_adapter.delete("r2-bucket", "media-assets", new)
    assert cf_adapter.read("r2-bucket", "media-assets", new) is None
    cf_adapter.delete("r2-bucket", "media-assets", new)


def test_r2_bucket_created_meanwhile_is_refused_on_conflict(cf_adapter, cf_client, cf_emulator):
    cf_client.r2.buckets.create(account_id=CF_ACCOUNT_ID, name="raced")
    # the adapter's look-up misses it (as if it were created just after), so it POSTs and gets 409
    cf_emulator.inject(r"/r2/buckets/raced$", status=404, method="GET", code=10006, message="nope")

    with pytest.raises(AlreadyExists):
        cf_adapter.create("r2-bucket", R2BucketSpec(name="raced"), token=KEY)

    assert [r.status for r in cf_emulator.calls("POST", r"/r2/buckets$")] == [200, 409]


# --- D1 database --------------------------------------------------------------------------
def test_d1_database_lifecycle(cf_adapter: CloudflareAdapter, cf_emulator):
    spec = D1DatabaseSpec(name="app-db")

    created = cf_adapter.create("d1-database", spec, token=KEY)
    database_id = created.provider_resource_id

    assert created.outputs == {"id": database_id, "name": "app-db"}
    assert len(database_id) == 36
    assert created.universal == {
        "name": "app-db",
        "status": "active",
        "region": None,
        "engine": "d1",
        "version": None,
        "endpoint": None,
    }
    new = spec.model_copy(update={"read_replication": "auto"})
    updated = cf_adapter.update("d1-database", database_id, spec, new)
    assert updated.full_api_data["read_replication"] == {"mode": "auto"}

    cf_adapter.delete("d1-database", database_id, new)
    assert cf_adapter.read("d1-database", database_id, new) is None
    cf_adapter.delete("d1-database", database_id, new)


# --- sync --------------------------------------------------------------------------------------
def test_sync_puts_each_product_in_its_universal_table(cf_adapter, cf_emulator):
    cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)
    cf_adapter.create(
        "dns-record",
        DnsRecordSpec(zone="example.com", type="A", name="www", content="192.0.2.1"),
        token=KEY,
    )
    cf_adapter.create("worker", WorkerSpec(name="hello", script=SCRIPT), token=KEY)
    cf_adapter.create(
        "r2-bucket", R2BucketSpec(name="media-assets", location_hint="apac"), token=KEY
    )
    cf_adapter.create("d1-database", D1DatabaseSpec(name="app-db"), token=KEY)

    synced = {
        (s.table, s.resource_type, s.result.universal["name"]): s.result for s in cf_adapter.sync()
    }

    assert set(synced) == {
        ("domains", "zone", "example.com"),
        ("web-services", "worker", "hello"),
        ("buckets", "r2-bucket", "media-assets"),
        ("databases", "d1-database", "app-db"),
    }
    assert synced["domains", "zone", "example.com"].universal["domain_name"] == "example.com"
    worker = synced["web-services", "worker", "hello"].universal
    assert worker["production_url"] == "https://hello.acct-01234567.workers.dev"
    assert worker["environment"] == "production"
    bucket = synced["buckets", "r2-bucket", "media-assets"].universal
    assert bucket["region"] == "apac"
    assert bucket["endpoint"].endswith("/media-assets")
    assert synced["databases", "d1-database", "app-db"].universal["engine"] == "d1"
    for result in synced.values():
        assert {"name", "status", "region"} <= set(result.universal)
        _no_secret(result)


def test_sync_follows_every_page_of_zones_and_buckets(
    cf_adapter, cf_client, cf_emulator, monkeypatch
):
    monkeypatch.setattr(r2_module, "PAGE_SIZE", 2)
    for i in range(53):
        cf_client.zones.create(account={"id": CF_ACCOUNT_ID}, name=f"site{i:02d}.example")
    for i in range(5):
        cf_client.r2.buckets.create(account_id=CF_ACCOUNT_ID, name=f"bucket-{i}")

    synced = list(cf_adapter.sync())

    assert sum(s.table == "domains" for s in synced) == 53
    assert sorted(s.result.provider_resource_id for s in synced if s.table == "buckets") == [
        f"bucket-{i}" for i in range(5)
    ]
    assert len(cf_emulator.calls("GET", r"/r2/buckets$")) == 3


def test_sync_skips_products_the_token_may_not_read(cf_emulator: CloudflareEmulator, cf_client):
    cf_client.zones.create(account={"id": CF_ACCOUNT_ID}, name="example.com")
    cf_client.d1.database.create(account_id=CF_ACCOUNT_ID, name="hidden")
    cf_emulator.add_token("dns-only", CF_ACCOUNT_ID, permissions=["Zone Read", "DNS Write"])

    synced = list(_adapter(cf_emulator, token="dns-only").sync())

    assert [(s.table, s.result.universal["name"]) for s in synced] == [("domains", "example.com")]


# --- error classification -----------------------------------------------------------------------
def test_rate_limit_is_transient_with_the_retry_after(cf_adapter, cf_emulator):
    cf_emulator.inject(r"^/zones$", status=429, retry_after=12)

    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)

    assert caught.value.permanent is False
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after == 12.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(cf_adapter, cf_emulator, status):
    cf_emulator.inject(r"/d1/database", status=status)

    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("d1-database", D1DatabaseSpec(name="app-db"), token=KEY)

    assert caught.value.permanent is False
    assert str(status) in caught.value.message


def test_unreachable_api_is_transient_for_lifecycle_calls():
    adapter = CloudflareAdapter(
        {"api_token": CF_TOKEN, "account_id": CF_ACCOUNT_ID},
        endpoint_url=_closed_port_url(),
        max_retries=0,
    )

    with pytest.raises(ProviderError) as caught:
        adapter.read("r2-bucket", "media-assets", None)

    assert caught.value.permanent is False


def test_bad_token_is_permanent_and_never_echoed(cf_emulator: CloudflareEmulator):
    secret = "leaky-token-0123456789"
    adapter = _adapter(cf_emulator, token=secret)

    with pytest.raises(CredentialsRejected) as caught:
        adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)

    error = caught.value
    assert error.permanent is True
    assert "Authentication error" in error.message
    for text in (error.message, str(error), repr(error)):
        assert secret not in text
    # nothing chained: the SDK exception's request carries the Authorization header
    assert error.__cause__ is None and error.__context__ is None


def test_missing_permission_is_permanent(cf_emulator: CloudflareEmulator):
    cf_emulator.add_token("zone-read", CF_ACCOUNT_ID, permissions=["Zone Read"])

    with pytest.raises(ProviderError) as caught:
        _adapter(cf_emulator, token="zone-read").create(
            "r2-bucket", R2BucketSpec(name="abc"), token=KEY
        )

    assert (caught.value.permanent, caught.value.code) == (True, "permission_denied")


@pytest.mark.parametrize(
    ("status", "code"), [(409, "conflict"), (422, "invalid_request"), (400, "invalid_request")]
)
def test_client_errors_are_permanent_with_cloudflares_message(
    cf_adapter, cf_emulator, status, code
):
    cf_emulator.inject(
        r"^/zones$", status=status, method="POST", code=1099, message="Zone is banned"
    )

    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("zone", ZoneSpec(name="example.com"), token=KEY)

    assert caught.value.permanent is True
    assert caught.value.code == code
    assert "Zone is banned (code 1099)" in caught.value.message


def test_a_token_echoed_by_the_api_is_censored(cf_adapter, cf_emulator):
    cf_emulator.inject(r"^/zones$", status=400, message=f"bad token {CF_TOKEN}")

    with pytest.raises(ProviderError) as caught:
        cf_adapter.find("zone", ZoneSpec(name="example.com"), token=KEY)

    assert CF_TOKEN not in caught.value.message
    assert CENSOR in caught.value.message


# --- specs through the adapter ---------------------------------------------------------------
def test_dict_specs_are_validated_and_refused_naming_the_field(cf_adapter, cf_emulator):
    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("r2-bucket", {"name": "No_Good"}, token=KEY)  # type: ignore[arg-type]

    assert caught.value.permanent is True
    assert caught.value.code == "invalid_spec"
    assert caught.value.message.startswith("invalid r2-bucket spec: name:")
    assert cf_emulator.requests == []


def test_unknown_resource_type_is_refused(cf_adapter: CloudflareAdapter):
    with pytest.raises(ProviderError) as caught:
        cf_adapter.create("kv-namespace", ZoneSpec(name="example.com"), token=KEY)

    assert caught.value.code == "unknown_type"


def test_update_refuses_a_change_that_needs_replacement(cf_adapter, cf_emulator):
    with pytest.raises(ProviderError) as caught:
        cf_adapter.update("r2-bucket", "abc", R2BucketSpec(name="abc"), R2BucketSpec(name="abd"))

    assert caught.value.code == "requires_replacement"
    assert cf_emulator.requests == []


# --- no silent adoption: every product refuses a create of what already exists ----------


def _made_outside(cf_client, cf_emulator, kind: str):
    """Makes one resource of ``kind`` with a plain SDK client; returns the spec that
    names it and a function counting what the account holds of that kind."""
    if kind == "zone":
        cf_client.zones.create(account={"id": CF_ACCOUNT_ID}, name="theirs.example", type="full")
        return ZoneSpec(name="theirs.example"), lambda: len(list(cf_client.zones.list()))
    if kind == "worker":
        _adapter(cf_emulator).create("worker", WorkerSpec(name="theirs", script=SCRIPT), token="x")
        return WorkerSpec(name="theirs", script=SCRIPT), lambda: len(
            list(cf_client.workers.scripts.list(account_id=CF_ACCOUNT_ID))
        )
    if kind == "r2-bucket":
        cf_client.r2.buckets.create(account_id=CF_ACCOUNT_ID, name="theirs")
        return R2BucketSpec(name="theirs"), lambda: len(
            cf_client.r2.buckets.list(account_id=CF_ACCOUNT_ID).buckets or []
        )
    if kind == "d1-database":
        cf_client.d1.database.create(account_id=CF_ACCOUNT_ID, name="theirs")
        return D1DatabaseSpec(name="theirs"), lambda: len(
            list(cf_client.d1.database.list(account_id=CF_ACCOUNT_ID))
        )
    zone = cf_client.zones.create(account={"id": CF_ACCOUNT_ID}, name="dns.example", type="full")
    cf_client.dns.records.create(
        zone_id=zone.id, name="mail", type="MX", content="mx.example.net", ttl=3600, priority=10
    )
    spec = DnsRecordSpec(
        zone="dns.example", type="MX", name="mail", content="mx.example.net", ttl=300, priority=10
    )
    return spec, lambda: len(list(cf_client.dns.records.list(zone_id=zone.id)))


@pytest.mark.parametrize("kind", ["zone", "worker", "r2-bucket", "d1-database", "dns-record"])
def test_a_create_never_takes_over_what_already_exists(cf_adapter, cf_client, cf_emulator, kind):
    spec, count = _made_outside(cf_client, cf_emulator, kind)
    before = count()
    writes = len(cf_emulator.calls("POST", r".")) + len(cf_emulator.calls("PUT", r"."))

    with pytest.raises(AlreadyExists) as info:
        cf_adapter.create(kind, spec, token=KEY)

    assert info.value.permanent and "already exists" in info.value.message
    assert count() == before
    # nothing was written: no create, no upload over it, no "bring in line" edit
    assert len(cf_emulator.calls("POST", r".")) + len(cf_emulator.calls("PUT", r".")) == writes
    assert not cf_emulator.calls("PATCH", r".")
