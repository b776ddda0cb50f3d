from __future__ import annotations

import pytest

from provisioning.engine import (
    InMemoryStateStore,
    LockLost,
    ResourceState,
    ResourceStatus,
    StackLocked,
    StateManager,
)
from provisioning.engine.state import make_token

from .conftest import FakeClock


def record(name: str, **kw) -> ResourceState:
    return ResourceState(name=name, type="bucket", provider="sandbox", dock="main", **kw)


def test_lock_conflict_raises_stack_locked_naming_holder_and_time() -> None:
    clock = FakeClock(0.0)
    store = InMemoryStateStore(clock=clock)
    store.acquire_lock("s", "op-1", 60)
    clock.advance(10)
    with pytest.raises(StackLocked) as info:
        store.acquire_lock("s", "op-2", 60)
    assert info.value.holder == "op-1"
    assert info.value.since == 0.0
    assert str(info.value) == "stack locked by operation op-1 since 1970-01-01T00:00:00+00:00"


def test_lock_is_reentrant_for_the_same_holder_and_keeps_since() -> None:
    clock = FakeClock(100.0)
    store = InMemoryStateStore(clock=clock)
    store.acquire_lock("s", "op-1", 60)
    clock.advance(5)
    store.acquire_lock("s", "op-1", 60)
    info = store.lock_info("s")
    assert info is not None and info.since == 100.0 and info.expires_at == 165.0


def test_expired_lease_may_be_taken_over_and_the_old_holder_loses_it() -> None:
    clock = FakeClock(0.0)
    store = InMemoryStateStore(clock=clock)
    store.acquire_lock("s", "op-1", 30)
    clock.advance(31)
    store.acquire_lock("s", "op-2", 30)
    assert store.lock_info("s").holder == "op-2"
    with pytest.raises(LockLost):
        store.renew_lock("s", "op-1", 30)
    store.release_lock("s", "op-1")  # not the holder: no effect
    assert store.lock_info("s").holder == "op-2"


def test_renew_extends_the_lease() -> None:
    clock = FakeClock(0.0)
    store = InMemoryStateStore(clock=clock)
    store.acquire_lock("s", "op-1", 30)
    clock.advance(20)
    store.renew_lock("s", "op-1", 30)
    clock.advance(20)  # 40s after acquiring, 20s after renewing
    with pytest.raises(StackLocked):
        store.acquire_lock("s", "op-2", 30)


def test_force_unlock_returns_what_it_dropped() -> None:
    store = InMemoryStateStore()
    store.acquire_lock("s", "op-1", 30)
    dropped = store.force_unlock("s")
    assert dropped is not None and dropped.holder == "op-1"
    assert store.lock_info("s") is None
    assert store.force_unlock("s") is None


def test_write_is_a_batch_of_puts_and_deletes() -> None:
    store = InMemoryStateStore()
    store.write("s", [record("a"), record("b")], [])
    store.write("s", [record("c")], ["a"])
    assert sorted(store.load("s")) == ["b", "c"]
    assert store.load("other") == {}


def test_snapshots_are_numbered_per_stack_and_freeze_the_state() -> None:
    store = InMemoryStateStore()
    store.write("s", [record("a")], [])
    assert store.snapshot("s", {"kind": "apply"}, store.load("s")) == 1
    store.write("s", [record("b")], [])
    assert store.snapshot("s", {"kind": "apply"}, store.load("s")) == 2
    assert store.snapshot("t", {}, {}) == 1
    versions = store.versions("s")
    assert [v.number for v in versions] == [1, 2]
    assert list(versions[0].resources) == ["a"]
    assert sorted(versions[1].resources) == ["a", "b"]


def test_state_manager_batches_staged_changes_into_one_write() -> None:
    store = InMemoryStateStore()
    manager = StateManager(store, "s", "op", lease_seconds=30)
    manager.stage(record("a"))
    manager.stage(record("b"))
    manager.stage_delete("a")
    assert store.write_calls == 0
    manager.flush()
    manager.flush()  # nothing staged: no call
    assert store.write_calls == 1
    assert list(store.load("s")) == ["b"]


def test_state_manager_heartbeat_is_due_every_quarter_of_the_lease() -> None:
    clock = FakeClock(0.0)
    store = InMemoryStateStore(clock=clock)
    manager = StateManager(store, "s", "op", lease_seconds=30, clock=clock)
    manager.lock()
    clock.advance(7.4)
    assert not manager.heartbeat_due()
    clock.advance(0.1)
    assert manager.heartbeat_due()
    manager.renew()
    assert not manager.heartbeat_due()
    assert store.lock_info("s").expires_at == 37.5


def test_repr_of_a_record_never_shows_inputs() -> None:
    state = record("a", inputs={"password": "hunter2"}, status=ResourceStatus.CREATED)
    assert "hunter2" not in repr(state)
    assert state.display_inputs(frozenset({"password"})) == {"password": "********"}


def test_token_is_deterministic_and_short() -> None:
    assert make_token("s", "a", 0, "n") == make_token("s", "a", 0, "n")
    assert make_token("s", "a", 0, "n") != make_token("s", "a", 1, "n")
    assert len(make_token("s", "a", 0)) == 32
