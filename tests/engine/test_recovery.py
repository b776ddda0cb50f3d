"""Crash safety: whatever a dead process left in state is resolved, never duplicated."""

from __future__ import annotations

import pytest

from docks.adapters.sandbox import SandboxRecord, SimulatedCrash
from provisioning.engine import ResourceState, ResourceStatus

from .conftest import assert_consistent, doc, res


def test_crash_after_create_leaves_a_pending_record_and_releases_the_lock(
    make_orch, parse, store, backend
) -> None:
    stack = parse(doc(a=res("server", name="a", fail="crash-after-create")))
    with pytest.raises(SimulatedCrash):
        make_orch().apply(stack, holder="op")
    (record,) = store.load("s").values()
    assert record.status == ResourceStatus.PENDING_CREATE
    assert record.provider_resource_id is None
    assert [r.token for r in backend.all()] == [record.token]
    assert store.lock_info("s") is None
    assert store.versions("s") == []  # the dead process never snapshotted


def test_reapply_after_a_crash_adopts_instead_of_duplicating(
    make_orch, parse, store, backend, events
) -> None:
    stack = parse(
        doc(
            a=res("server", name="a", fail="crash-after-create"),
            b=res("server", name="${a.name}-b"),
        )
    )
    with pytest.raises(SimulatedCrash):
        make_orch().apply(stack, holder="op1")
    result = make_orch().apply(stack, holder="op2")
    assert result.status == "succeeded"
    assert len(backend.all()) == 2
    assert (
        store.load("s")["a"].provider_resource_id
        == backend.get_by_token(store.load("s")["a"].token).id
    )
    assert any(e.action == "adopt" and e.status == "succeeded" for e in events)
    assert result.outputs["b"]["name"] == "a-b"
    assert_consistent(store, backend, "s")


def test_interrupted_create_that_never_happened_is_created_with_the_same_token(
    make_orch, parse, store, backend
) -> None:
    stack = parse(doc(a=res("server", name="a")))
    store.write(
        "s",
        [
            ResourceState(
                name="a",
                type="server",
                provider="sandbox",
                dock="main",
                inputs={"name": "a"},
                status=ResourceStatus.PENDING_CREATE,
                token="tok-1",
            )
        ],
        [],
    )
    plan = make_orch().plan(stack)
    assert plan.changes[0].action == "create" and "interrupted" in plan.changes[0].note
    result = make_orch().apply(stack, holder="op")
    assert result.summary["created"] == 1
    assert [r.token for r in backend.all()] == ["tok-1"]
    assert_consistent(store, backend, "s")


def test_interrupted_delete_is_deleted_again(make_orch, parse, store, backend) -> None:
    backend.insert(SandboxRecord(id="srv-1", token="t", resource_type="server", name="gone-soon"))
    store.write(
        "s",
        [
            ResourceState(
                name="x",
                type="server",
                provider="sandbox",
                dock="main",
                inputs={"name": "gone-soon"},
                provider_resource_id="srv-1",
                status=ResourceStatus.PENDING_DELETE,
            )
        ],
        [],
    )
    result = make_orch().apply(parse(doc()), holder="op")
    assert result.status == "succeeded"
    assert backend.all() == [] and store.load("s") == {}


def test_interrupted_update_is_read_and_reapplied(make_orch, parse, store, backend) -> None:
    backend.insert(
        SandboxRecord(
            id="srv-1",
            token="t",
            resource_type="server",
            name="a",
            size="s",
            spec={"name": "a", "size": "s"},
        )
    )
    store.write(
        "s",
        [
            ResourceState(
                name="a",
                type="server",
                provider="sandbox",
                dock="main",
                inputs={"name": "a", "size": "s"},
                outputs={"id": "srv-1"},
                provider_resource_id="srv-1",
                status=ResourceStatus.PENDING_UPDATE,
            )
        ],
        [],
    )
    result = make_orch().apply(parse(doc(a=res("server", name="a", size="m"))), holder="op")
    assert result.summary["updated"] == 1
    assert backend.get("srv-1").size == "m"
    record = store.load("s")["a"]
    assert record.status == ResourceStatus.CREATED and record.outputs["size"] == "m"


def test_crash_during_a_name_keeping_replace_recovers_without_duplicates(
    make_orch, parse, store, backend
) -> None:
    orch = make_orch()
    orch.apply(parse(doc(a=res("bucket", name="same"))), holder="op")
    with pytest.raises(SimulatedCrash):
        orch.apply(parse(doc(a=res("server", name="same", fail="crash-after-create"))), holder="op")
    assert_consistent(store, backend, "s")
    result = make_orch().apply(
        parse(doc(a=res("server", name="same", fail="crash-after-create"))), holder="op"
    )
    assert result.status == "succeeded"
    assert [(r.resource_type, r.name) for r in backend.all()] == [("server", "same")]
    assert set(store.load("s")) == {"a"}


def test_destroy_after_a_crash_deletes_the_adopted_resource(
    make_orch, parse, store, backend
) -> None:
    with pytest.raises(SimulatedCrash):
        make_orch().apply(
            parse(doc(a=res("server", name="a", fail="crash-after-create"))), holder="op"
        )
    result = make_orch().destroy("s", holder="op")
    assert result.status == "succeeded"
    assert backend.all() == [] and store.load("s") == {}


def test_uncertain_create_keeps_its_write_ahead_record(make_orch, parse, store, backend) -> None:
    # transient faults exhaust both create and find: outcome unknown
    result = make_orch(max_attempts=2).apply(
        parse(doc(a=res("server", name="a", fail="transient"))), holder="op", on_failure="stop"
    )
    assert result.status == "failed"
    assert store.load("s")["a"].status == ResourceStatus.PENDING_CREATE
    assert_consistent(store, backend, "s")
    # the next run resolves it: the third call of each operation succeeds
    assert (
        make_orch(max_attempts=2)
        .apply(parse(doc(a=res("server", name="a", fail="transient"))), holder="op")
        .status
        == "succeeded"
    )
    assert len(backend.all()) == 1
    assert_consistent(store, backend, "s")


def test_new_incarnation_never_reuses_the_key_of_an_old_one_awaiting_deletion(
    make_orch, parse, store, backend, events
) -> None:
    # an old incarnation (r0#0) awaiting deletion outlives its record
    backend.insert(SandboxRecord(id="srv-old", token="t0", resource_type="server", name="old"))
    parked = ResourceState(
        name="r0#0",
        type="server",
        provider="sandbox",
        dock="main",
        inputs={"name": "old"},
        provider_resource_id="srv-old",
        status=ResourceStatus.CREATED,
        generation=0,
    )
    store.write("s", [parked], [])

    def r0_created() -> bool:  # cancel once the creates are done, before deletes
        return any(e.resource == "r0" and e.status == "succeeded" for e in events)

    result = make_orch(should_cancel=r0_created).apply(
        parse(doc(r0=res("bucket", name="new"))), holder="op"
    )
    assert result.status == "cancelled"
    assert set(store.load("s")) == {"r0", "r0#0"}
    assert store.load("s")["r0"].generation == 1
    # a name-keeping replace must park r0 under a fresh key, not over r0#0
    result = make_orch().apply(parse(doc(r0=res("server", name="new"))), holder="op")
    assert result.status == "succeeded"
    assert_consistent(store, backend, "s")
    assert [r.name for r in backend.all()] == ["new"]
    assert set(store.load("s")) == {"r0"}
