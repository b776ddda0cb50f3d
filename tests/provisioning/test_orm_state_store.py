"""The ORM state store's hand-written statements, on the test database (PostgreSQL and SQLite).

The in-memory store has the same tests in tests/engine/test_state.py; these
pin the ORM store to the same behaviour: lock, lease takeover, upsert batches,
snapshots numbered per stack and holding what the caller passed.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from provisioning.engine import LockLost, ResourceState, ResourceStatus, StackLocked
from provisioning.models import Stack, StackLock, StackResource, StateVersion
from provisioning.state_store import OrmStateStore

pytestmark = pytest.mark.django_db


def record(name: str, **kw) -> ResourceState:
    values = {
        "type": "bucket",
        "provider": "sandbox",
        "dock": "main",
        "inputs": {"name": name, "tags": {"a": "b"}},
        "outputs": {"id": f"id-{name}"},
        "provider_resource_id": f"id-{name}",
        "status": ResourceStatus.CREATED,
        "token": f"tok-{name}",
        "generation": 1,
        "depends_on": ("base",),
        "updated_at": 1234.5,
    }
    return ResourceState(name=name, **(values | kw))


@pytest.fixture
def store(org):
    Stack.objects.create(org=org, name="s")
    Stack.objects.create(org=org, name="t")
    return OrmStateStore(org)


def test_lock_conflict_names_the_holder_and_when_it_took_the_lock(store) -> None:
    before = time.time()
    store.acquire_lock("s", "op-1", 60)
    with pytest.raises(StackLocked) as info:
        store.acquire_lock("s", "op-2", 60)
    assert info.value.holder == "op-1"
    assert before - 1 <= info.value.since <= time.time() + 1
    store.acquire_lock("t", "op-2", 60)  # another stack: its own lock


def test_lock_is_reentrant_for_its_holder_and_keeps_since(store) -> None:
    store.acquire_lock("s", "op-1", 60)
    first = store.lock_info("s")
    store.acquire_lock("s", "op-1", 120)
    again = store.lock_info("s")
    assert again.holder == "op-1"
    assert again.since == first.since
    assert again.expires_at > first.expires_at


def test_an_expired_lease_is_taken_over_and_its_old_holder_loses_it(store) -> None:
    store.acquire_lock("s", "op-1", 60)
    StackLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    store.acquire_lock("s", "op-2", 60)
    assert store.lock_info("s").holder == "op-2"
    assert StackLock.objects.count() == 1
    with pytest.raises(LockLost):
        store.renew_lock("s", "op-1", 60)
    store.release_lock("s", "op-1")  # not the holder: nothing happens
    assert store.lock_info("s").holder == "op-2"
    store.release_lock("s", "op-2")
    assert store.lock_info("s") is None
    store.acquire_lock("s", "op-3", 60)  # free again
    assert store.lock_info("s").holder == "op-3"


def test_write_upserts_by_name_and_deletes_in_one_batch(store) -> None:
    store.write("s", [record("a"), record("b")], [])
    store.write("s", [record("b", generation=2, outputs={"id": "new"}), record("c")], ["a"])
    loaded = store.load("s")
    assert sorted(loaded) == ["b", "c"]
    assert loaded["b"] == record("b", generation=2, outputs={"id": "new"})
    assert loaded["c"] == record("c")  # every field round-trips, JSON included
    assert store.load("t") == {}


def test_a_declared_record_keeps_its_unresolved_inputs(store) -> None:
    declared = record(
        "web",
        status=ResourceStatus.DECLARED,
        inputs={"name": "${db.name}-web"},
        outputs={},
        provider_resource_id=None,
        depends_on=("db",),
    )
    store.write("s", [declared], [])
    assert store.load("s")["web"] == declared


def test_write_of_more_records_than_one_statement_holds(store) -> None:
    many = [record(f"r{i:04d}") for i in range(1203)]
    store.write("s", many, [])
    assert StackResource.objects.filter(stack__name="s").count() == 1203
    store.write("s", [record(f"r{i:04d}", generation=3) for i in range(1, 1203)], ["r0000"])
    loaded = store.load("s")
    assert len(loaded) == 1202 and {r.generation for r in loaded.values()} == {3}


def test_snapshots_are_numbered_per_stack_and_hold_the_records_given(store) -> None:
    store.write("s", [record("a")], [])
    assert store.snapshot("s", {"created": 1}, store.load("s")) == 1
    store.write("s", [record("b")], [])
    assert store.snapshot("s", {"created": 1}, store.load("s")) == 2
    assert store.snapshot("t", {}, {}) == 1
    versions = list(StateVersion.objects.filter(stack__name="s").order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[1].summary == {"created": 1}
    assert list(versions[1].resources) == ["a", "b"]
    assert versions[1].resources["b"] == {
        "type": "bucket",
        "provider": "sandbox",
        "dock": "main",
        "inputs": {"name": "b", "tags": {"a": "b"}},
        "outputs": {"id": "id-b"},
        "provider_resource_id": "id-b",
        "status": "created",
        "generation": 1,
        "depends_on": ["base"],
        "deletion_policy": "delete",
    }


def test_an_unknown_stack_is_a_lookup_error(store) -> None:
    with pytest.raises(LookupError, match="'nope'"):
        store.acquire_lock("nope", "op-1", 60)


def test_the_final_snapshot_writes_the_last_batch_and_releases_the_lock(
    store, django_assert_max_num_queries
) -> None:
    """The end of an operation: last checkpoints, version and release (one statement on
    PostgreSQL, three on SQLite)."""
    store.acquire_lock("s", "op-1", 60)
    store.write("s", [record("a", status=ResourceStatus.PENDING_CREATE)], [])
    final = [record("a"), record("b")]
    budget = 1 if connection.vendor == "postgresql" else 3
    with django_assert_max_num_queries(budget):
        number = store.snapshot(
            "s", {"created": 2}, {r.name: r for r in final}, puts=final, release="op-1"
        )
    assert number == 1
    assert store.load("s") == {"a": record("a"), "b": record("b")}
    assert store.lock_info("s") is None
    assert list(StateVersion.objects.get(stack__name="s").resources) == ["a", "b"]


def test_the_final_snapshot_releases_only_its_own_lock_and_applies_deletes(store) -> None:
    store.acquire_lock("s", "op-2", 60)
    store.write("s", [record("a"), record("b")], [])
    kept = {"b": record("b")}
    assert store.snapshot("s", {}, kept, deletes=["a"], release="op-1") == 1
    assert store.lock_info("s").holder == "op-2"  # not op-1's to release
    assert store.load("s") == kept
    assert store.snapshot("s", {}, kept, release="op-2") == 2
    assert store.lock_info("s") is None
