from __future__ import annotations

import pytest

from docks.adapters.base import ProviderError
from docks.adapters.sandbox import (
    InMemorySandboxBackend,
    SandboxAdapter,
    SimulatedCrash,
    default_backend,
)


@pytest.fixture
def adapter(backend: InMemorySandboxBackend) -> SandboxAdapter:
    return SandboxAdapter(backend=backend)


def spec(type_: str = "server", **values):
    values.setdefault("name", "web")
    return SandboxAdapter.resource_types[type_].spec_model(**values)


def test_declares_the_five_universal_types_credentialless() -> None:
    assert SandboxAdapter.provider == "sandbox"
    assert SandboxAdapter.credentialless
    assert SandboxAdapter.credentials_model.model_fields == {}
    tables = {n: t.table for n, t in SandboxAdapter.resource_types.items()}
    assert tables == {
        "server": "servers",
        "web-service": "web-services",
        "domain": "domains",
        "database": "databases",
        "bucket": "buckets",
    }
    for rtype in SandboxAdapter.resource_types.values():
        assert rtype.replace_fields == frozenset({"name"})
        assert rtype.outputs == ("id", "name", "size")
    assert SandboxAdapter().validate_credentials().ok


def test_create_is_idempotent_per_token(adapter: SandboxAdapter, backend) -> None:
    first = adapter.create("server", spec(size="large"), token="t1")
    again = adapter.create("server", spec(size="large"), token="t1")
    assert first.provider_resource_id == again.provider_resource_id
    assert len(backend.all()) == 1
    universal = first.universal
    assert universal["status"] == "running" and universal["region"] == "sandbox-1"
    assert universal["instance_type"] == "large"
    assert universal["primary_ip"].startswith("10.")
    assert (
        universal["primary_ip"]
        == adapter.read("server", first.provider_resource_id, None).universal["primary_ip"]
    )


def test_table_specific_universal_data(adapter: SandboxAdapter) -> None:
    assert "endpoint" in adapter.create("bucket", spec("bucket", name="b"), token="1").universal
    db = adapter.create("database", spec("database", name="d"), token="2").universal
    assert db["engine"] == "sandbox" and db["endpoint"].startswith("d.")
    web = adapter.create("web-service", spec("web-service", name="w"), token="3").universal
    assert web["production_url"] == "https://w.apps.sandbox.invalid"
    dom = adapter.create("domain", spec("domain", name="x.test"), token="4").universal
    assert dom["domain_name"] == "x.test" and dom["status"] == "active"


def test_duplicate_name_with_another_token_is_a_permanent_error(adapter) -> None:
    adapter.create("server", spec(), token="t1")
    with pytest.raises(ProviderError) as info:
        adapter.create("server", spec(), token="t2")
    assert info.value.permanent and info.value.code == "name_taken"
    adapter.create("bucket", spec("bucket"), token="t3")  # other type, same name: fine


def test_find_only_finds_by_token(adapter) -> None:
    created = adapter.create("server", spec(), token="t1")
    assert (
        adapter.find("server", spec(), token="t1").provider_resource_id
        == created.provider_resource_id
    )
    assert adapter.find("server", spec(), token="other") is None
    assert adapter.find("bucket", spec("bucket"), token="t1") is None


def test_update_changes_size_in_place_but_not_the_name(adapter) -> None:
    created = adapter.create("server", spec(size="s"), token="t1")
    pid = created.provider_resource_id
    updated = adapter.update("server", pid, spec(size="s"), spec(size="m"))
    assert updated.outputs == {"id": pid, "name": "web", "size": "m"}
    with pytest.raises(ProviderError, match="cannot change in place"):
        adapter.update("server", pid, spec(), spec(name="other"))


def test_delete_is_idempotent_and_read_reports_gone(adapter, backend) -> None:
    pid = adapter.create("server", spec(), token="t1").provider_resource_id
    adapter.delete("server", pid, None)
    adapter.delete("server", pid, None)
    assert adapter.read("server", pid, None) is None
    assert backend.all() == []


def test_transient_fault_fails_twice_per_token_and_operation(adapter) -> None:
    faulty = spec(fail="transient")
    for _ in range(2):
        with pytest.raises(ProviderError) as info:
            adapter.create("server", faulty, token="t1")
        assert not info.value.permanent
    pid = adapter.create("server", faulty, token="t1").provider_resource_id
    for _ in range(2):
        with pytest.raises(ProviderError):
            adapter.read("server", pid, None)
    assert adapter.read("server", pid, None) is not None
    with pytest.raises(ProviderError):
        adapter.create("server", spec(name="b", fail="transient"), token="t2")


def test_permanent_fault_fails_create(adapter, backend) -> None:
    with pytest.raises(ProviderError) as info:
        adapter.create("server", spec(fail="permanent"), token="t1")
    assert info.value.permanent
    assert backend.all() == []


def test_crash_after_create_dies_after_the_record_exists(adapter, backend) -> None:
    with pytest.raises(SimulatedCrash):
        adapter.create("server", spec(fail="crash-after-create"), token="t1")
    assert [r.token for r in backend.all()] == ["t1"]
    # the same token later: the record is returned, no second crash or record
    again = adapter.create("server", spec(fail="crash-after-create"), token="t1")
    assert again.provider_resource_id == backend.all()[0].id


def test_latency_delays_every_call(monkeypatch, adapter) -> None:
    waits: list[float] = []
    monkeypatch.setattr(SandboxAdapter, "sleep", staticmethod(waits.append))
    pid = adapter.create("server", spec(latency_ms=250), token="t1").provider_resource_id
    adapter.read("server", pid, None)
    adapter.delete("server", pid, None)
    assert waits == [0.25, 0.25, 0.25]


def test_sync_yields_every_record(adapter) -> None:
    adapter.create("server", spec(), token="1")
    adapter.create("bucket", spec("bucket", name="b"), token="2")
    found = sorted((s.table, s.resource_type, s.result.outputs["name"]) for s in adapter.sync())
    assert found == [("buckets", "bucket", "b"), ("servers", "server", "web")]


def test_backend_factory_can_be_replaced(monkeypatch) -> None:
    shared = InMemorySandboxBackend()
    assert default_backend() is default_backend()  # one per process
    monkeypatch.setattr(SandboxAdapter, "backend_factory", staticmethod(lambda: shared))
    assert SandboxAdapter().backend is shared


def test_spec_validation_bounds() -> None:
    model = SandboxAdapter.resource_types["server"].spec_model
    with pytest.raises(ValueError):
        model(name="x" * 64)
    with pytest.raises(ValueError):
        model(name="-bad")
    with pytest.raises(ValueError):
        model(name="ok", latency_ms=60001)
    with pytest.raises(ValueError):
        model(name="ok", fail="sometimes")
    assert model(name="a.b-c", latency_ms=0).latency_ms == 0
