from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from docks.adapters.sandbox import SandboxAdapter
from provisioning.engine import InMemoryStateStore, StackLocked
from provisioning.engine import orchestrator as orchestrator_module
from provisioning.engine import pools as pools_module

from .conftest import FakeClock, assert_consistent, doc, res


def names_at_provider(backend) -> set[str]:
    return {r.name for r in backend.all()}


def test_apply_resolves_references_from_dependency_outputs(
    make_orch, parse, store, backend
) -> None:
    stack = parse(
        doc(
            db=res("database", name="main-db", size="large"),
            web=res("web-service", name="${db.name}-web", size="${db.size}"),
        )
    )
    result = make_orch().apply(stack, holder="op")
    assert result.status == "succeeded" and result.error is None
    assert result.summary["created"] == 2
    assert result.outputs["web"]["name"] == "main-db-web"
    assert result.outputs["web"]["size"] == "large"
    assert names_at_provider(backend) == {"main-db", "main-db-web"}
    records = store.load("s")
    assert records["web"].depends_on == ("db",)
    assert records["web"].inputs["name"] == "main-db-web"
    assert_consistent(store, backend, "s")


def test_apply_reports_what_the_universal_tables_need(make_orch, parse) -> None:
    result = make_orch().apply(parse(doc(web=res("server", name="w", size="xl"))), holder="op")
    (applied,) = result.applied
    assert (applied.resource, applied.type, applied.table, applied.dock) == (
        "web",
        "server",
        "servers",
        "main",
    )
    assert applied.result.universal["instance_type"] == "xl"
    assert result.removed == []


def test_dependencies_finish_before_dependents_start(recording_orch, parse, recorder) -> None:
    stack = parse(
        doc(
            a=res("server", name="a", latency_ms=20),
            b=res("server", name="${a.name}-b", latency_ms=20),
            c=res("server", name="c", latency_ms=20, _extra={"depends_on": ["b"]}),
            d=res("server", name="d", latency_ms=20),
        )
    )
    assert recording_orch().apply(stack, holder="op").status == "succeeded"
    assert recorder.index("end", "create", "a") < recorder.index("start", "create", "a-b")
    assert recorder.index("end", "create", "a-b") < recorder.index("start", "create", "c")
    # d depends on nothing: it ran alongside a
    assert recorder.index("start", "create", "d") < recorder.index("end", "create", "a")


def test_parallelism_is_bounded(recording_orch, parse, recorder) -> None:
    stack = parse(doc(**{f"r{i}": res("bucket", name=f"b{i}", latency_ms=30) for i in range(12)}))
    result = recording_orch(parallelism=3).apply(stack, holder="op")
    assert result.summary["created"] == 12
    assert recorder.max_active == 3


def test_events_come_in_order_from_the_calling_thread(make_orch, parse) -> None:
    seen: list[tuple[int, int]] = []
    orch = make_orch(on_event=lambda e: seen.append((e.seq, threading.get_ident())))
    orch.apply(parse(doc(**{f"r{i}": res("bucket", name=f"b{i}") for i in range(20)})), holder="op")
    assert [s for s, _ in seen] == list(range(1, len(seen) + 1))
    assert {t for _, t in seen} == {threading.get_ident()}


def test_only_the_calling_thread_touches_the_store(make_orch, parse) -> None:
    threads: set[int] = set()

    class Watching(InMemoryStateStore):
        def __getattribute__(self, name):
            if name in {"acquire_lock", "renew_lock", "release_lock", "load", "write", "snapshot"}:
                threads.add(threading.get_ident())
            return super().__getattribute__(name)

    orch = make_orch(store=Watching())
    stack = parse(
        doc(**{f"r{i}": res("bucket", name=f"b{i}", fail="transient") for i in range(10)})
    )
    assert orch.apply(stack, holder="op").status == "succeeded"
    assert threads == {threading.get_ident()}


def test_checkpoints_are_batched(make_orch, parse, store) -> None:
    stack = parse(doc(**{f"r{i}": res("bucket", name=f"b{i}") for i in range(300)}))
    assert make_orch().apply(stack, holder="op").summary["created"] == 300
    # one write-ahead batch plus a few checkpoint batches, not 600 writes
    assert store.write_calls < 60


def test_transient_errors_are_retried_then_succeed(
    make_orch, parse, events, store, backend
) -> None:
    sleeps: list[float] = []
    result = make_orch(sleep=sleeps.append).apply(
        parse(doc(a=res("server", name="a", fail="transient"))), holder="op"
    )
    assert result.status == "succeeded"
    retrying = [e for e in events if e.status == "retrying"]
    assert [e.resource for e in retrying] == ["a", "a"]
    assert "injected transient failure" in retrying[0].message
    assert len(sleeps) == 2
    assert_consistent(store, backend, "s")


def test_permanent_failure_rolls_back_what_this_apply_created(
    make_orch, parse, store, backend, events
) -> None:
    orch = make_orch()
    orch.apply(parse(doc(keep=res("bucket", name="keep"))), holder="op1")
    stack = parse(
        doc(
            keep=res("bucket", name="keep"),
            db=res("database", name="db"),
            web=res("server", name="${db.name}-web"),
            bad=res("server", name="bad", fail="permanent", _extra={"depends_on": ["web"]}),
        )
    )
    result = orch.apply(stack, holder="op2")
    assert result.status == "failed"
    assert "injected permanent failure" in result.error
    assert result.summary["created"] == 2 and result.summary["rolled_back"] == 2
    assert result.summary["failed"] == 1
    assert names_at_provider(backend) == {"keep"}
    assert set(store.load("s")) == {"keep"}
    rolled = [e.resource for e in events if e.status == "rolled_back"]
    assert rolled == ["web", "db"]  # dependents first
    assert_consistent(store, backend, "s")


def test_stop_policy_keeps_what_was_created(make_orch, parse, store, backend) -> None:
    stack = parse(
        doc(
            db=res("database", name="db"),
            bad=res("server", name="bad", fail="permanent", _extra={"depends_on": ["db"]}),
            after=res("server", name="after", _extra={"depends_on": ["bad"]}),
        )
    )
    result = make_orch().apply(stack, holder="op", on_failure="stop")
    assert result.status == "failed" and result.summary["rolled_back"] == 0
    assert names_at_provider(backend) == {"db"}
    assert set(store.load("s")) == {"db"}
    assert_consistent(store, backend, "s")


def test_failure_stops_scheduling_but_lets_in_flight_steps_finish(
    make_orch, parse, store, backend, events
) -> None:
    stack = parse(
        doc(
            bad=res("server", name="bad", fail="permanent", latency_ms=30),
            slow=res("server", name="slow", latency_ms=150),
            later=res("server", name="later", _extra={"depends_on": ["bad"]}),
        )
    )
    result = make_orch().apply(stack, holder="op", on_failure="stop")
    assert result.status == "failed"
    assert names_at_provider(backend) == {"slow"}  # finished, recorded
    assert set(store.load("s")) == {"slow"}
    assert any(e.resource == "later" and e.status == "skipped" for e in events)


def test_cancel_between_steps_stops_and_releases_the_lock(make_orch, parse, store, backend) -> None:
    calls = {"n": 0}

    def should_cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    chain = {"r0": res("server", name="n0")}
    for i in range(1, 6):
        chain[f"r{i}"] = res("server", name=f"${{r{i - 1}.name}}-{i}")
    result = make_orch(should_cancel=should_cancel).apply(parse(doc(**chain)), holder="op")
    assert result.status == "cancelled"
    assert 0 < len(backend.all()) < 6
    assert result.summary["rolled_back"] == 0
    assert_consistent(store, backend, "s")
    # the next apply finishes the job
    assert make_orch().apply(parse(doc(**chain)), holder="op2").status == "succeeded"
    assert len(backend.all()) == 6


def test_cancel_reverts_queued_steps_that_never_started(make_orch, parse, store, backend) -> None:
    flag = {"cancel": False}
    orch = make_orch(
        parallelism=1,
        should_cancel=lambda: flag["cancel"],
        on_event=lambda e: flag.update(cancel=e.status == "succeeded" or flag["cancel"]),
    )
    stack = parse(doc(**{f"r{i}": res("bucket", name=f"b{i}", latency_ms=5) for i in range(10)}))
    result = orch.apply(stack, holder="op")
    assert result.status == "cancelled"
    assert all(r.status == "created" for r in store.load("s").values())
    assert len(store.load("s")) == len(backend.all()) < 10
    assert_consistent(store, backend, "s")


def test_lock_conflict_raises_stack_locked_with_the_holder(
    make_orch, parse, store, backend
) -> None:
    store.acquire_lock("s", "other-op", 60)
    with pytest.raises(StackLocked) as info:
        make_orch().apply(parse(doc(a=res("bucket", name="a"))), holder="op")
    assert info.value.holder == "other-op"
    assert backend.all() == []
    assert store.lock_info("s").holder == "other-op"


def test_expired_lease_is_taken_over(make_orch, parse, backend) -> None:
    clock = FakeClock()
    store = InMemoryStateStore(clock=clock)
    store.acquire_lock("s", "dead-worker", 60)
    clock.advance(61)
    result = make_orch(store=store).apply(parse(doc(a=res("bucket", name="a"))), holder="op")
    assert result.status == "succeeded"
    assert store.lock_info("s") is None


def test_lease_is_renewed_and_on_tick_called_during_long_steps(make_orch, parse) -> None:
    renewals: list[str] = []
    ticks: list[int] = []

    class Counting(InMemoryStateStore):
        def renew_lock(self, stack, holder, lease_seconds):
            renewals.append(holder)
            super().renew_lock(stack, holder, lease_seconds)

    orch = make_orch(store=Counting(), lease_seconds=0.15, on_tick=lambda: ticks.append(1))
    orch.apply(parse(doc(a=res("bucket", name="a", latency_ms=200))), holder="op")
    assert len(renewals) >= 2 and len(ticks) >= len(renewals)  # ticks: every wake-up


def test_removed_resources_are_deleted_after_creates_in_reverse_order(
    recording_orch, parse, recorder, store, backend
) -> None:
    orch = recording_orch()
    orch.apply(
        parse(
            doc(
                db=res("database", name="db"),
                web=res("server", name="${db.name}-web"),
                x=res("bucket", name="x"),
            )
        ),
        holder="op",
    )
    result = orch.apply(
        parse(doc(x=res("bucket", name="x"), new=res("bucket", name="new"))), holder="op"
    )
    assert result.summary == {**result.summary, "created": 1, "deleted": 2, "unchanged": 1}
    assert recorder.ops("delete") == ["db-web", "db"]
    assert recorder.index("end", "create", "new") < recorder.index("start", "delete", "db-web")
    assert {r.resource for r in result.removed} == {"db", "web"}
    assert_consistent(store, backend, "s")


def test_retained_resource_removed_from_the_spec_is_forgotten_not_deleted(
    make_orch, parse, store, backend
) -> None:
    orch = make_orch()
    orch.apply(
        parse(doc(a=res("bucket", name="a", _extra={"deletion_policy": "retain"}))), holder="op"
    )
    result = orch.apply(parse(doc()), holder="op")
    assert result.summary["retained"] == 1 and result.summary["deleted"] == 0
    assert store.load("s") == {}
    assert names_at_provider(backend) == {"a"}
    assert result.removed[0].retained


def test_update_in_place_keeps_the_provider_id(make_orch, parse, store) -> None:
    orch = make_orch()
    first = orch.apply(parse(doc(a=res("server", name="a", size="s"))), holder="op")
    second = orch.apply(parse(doc(a=res("server", name="a", size="m"))), holder="op")
    assert second.summary["updated"] == 1
    assert second.outputs["a"]["id"] == first.outputs["a"]["id"]
    assert store.load("s")["a"].inputs["size"] == "m"


def test_replace_with_a_new_name_creates_before_deleting(
    recording_orch, parse, recorder, store, backend
) -> None:
    orch = recording_orch()
    first = orch.apply(parse(doc(a=res("server", name="old"))), holder="op")
    result = orch.apply(parse(doc(a=res("server", name="new"))), holder="op")
    assert result.summary["replaced"] == 1 and result.summary["deleted"] == 0
    assert recorder.index("end", "create", "new") < recorder.index("start", "delete", "old")
    assert result.outputs["a"]["id"] != first.outputs["a"]["id"]
    assert store.load("s")["a"].generation == 1
    assert names_at_provider(backend) == {"new"}
    assert_consistent(store, backend, "s")


def test_replace_keeping_the_name_deletes_first(
    recording_orch, parse, recorder, store, backend
) -> None:
    orch = recording_orch()
    orch.apply(parse(doc(a=res("bucket", name="same"))), holder="op")
    recorder.calls.clear()
    result = orch.apply(parse(doc(a=res("server", name="same"))), holder="op")  # type change
    assert result.summary["replaced"] == 1
    assert recorder.index("end", "delete", "same") < recorder.index("start", "create", "same")
    assert [r.resource_type for r in backend.all()] == ["server"]
    assert_consistent(store, backend, "s")


def test_rollback_of_a_replacement_restores_the_old_incarnation(
    make_orch, parse, store, backend
) -> None:
    orch = make_orch()
    orch.apply(parse(doc(a=res("server", name="old"))), holder="op")
    old_id = store.load("s")["a"].provider_resource_id
    stack = parse(
        doc(
            a=res("server", name="new"),
            bad=res("bucket", name="bad", fail="permanent", _extra={"depends_on": ["a"]}),
        )
    )
    result = orch.apply(stack, holder="op")
    assert result.status == "failed"
    assert store.load("s")["a"].provider_resource_id == old_id
    assert names_at_provider(backend) == {"old"}
    assert_consistent(store, backend, "s")


def test_targeted_apply_touches_targets_and_their_dependencies_only(
    make_orch, parse, backend
) -> None:
    stack = parse(
        doc(
            db=res("database", name="db"),
            web=res("server", name="${db.name}-w"),
            other=res("bucket", name="o"),
        )
    )
    result = make_orch().apply(stack, holder="op", targets=["web"])
    assert result.summary["created"] == 2
    assert names_at_provider(backend) == {"db", "db-w"}


def test_snapshots_are_numbered_per_apply(make_orch, parse, store) -> None:
    orch = make_orch()
    stack = parse(doc(a=res("bucket", name="a")))
    versions = [orch.apply(stack, holder="op").version for _ in range(3)]
    assert versions == [1, 2, 3]
    assert store.versions("s")[0].summary["created"] == 1
    assert store.versions("s")[2].summary["unchanged"] == 1


def test_secrets_never_reach_events_results_or_state_reprs(make_orch, parse, events, store) -> None:
    stack = parse(
        {
            "name": "s",
            "resources": {
                "v": {
                    "dock": "vault",
                    "type": "secret-box",
                    "properties": {"name": "v", "password": "hunter2"},
                }
            },
        }
    )
    result = make_orch().apply(stack, holder="op")
    assert result.status == "succeeded"
    blob = repr(events) + repr(result) + repr(store.load("s"))
    assert "hunter2" not in blob


def test_unexpected_adapter_exception_fails_the_step_without_leaking_its_text(
    make_orch, parse, backend, store
) -> None:
    class Buggy(SandboxAdapter):
        def create(self, resource_type, spec, *, token):
            raise TypeError("token=sk-live-123")

    orch = make_orch(adapter_for=lambda dock, provider: Buggy(backend=backend))
    result = orch.apply(parse(doc(a=res("bucket", name="a"))), holder="op")
    assert result.status == "failed"
    assert "sk-live-123" not in result.error and "TypeError" in result.error
    assert store.load("s") == {}


def test_a_dock_that_cannot_be_loaded_fails_the_step(make_orch, parse, store) -> None:
    def adapter_for(dock, provider):
        raise PermissionError("decrypt failed: key=abc")

    result = make_orch(adapter_for=adapter_for).apply(
        parse(doc(a=res("bucket", name="a"))), holder="op"
    )
    assert result.status == "failed"
    assert "cannot use dock 'main'" in result.error and "key=abc" not in result.error
    assert store.lock_info("s") is None


def test_adapter_is_built_once_per_dock_per_apply(make_orch, parse, backend) -> None:
    built: list[tuple] = []

    def adapter_for(dock, provider):
        built.append((dock, provider))
        return SandboxAdapter(backend=backend)

    stack = parse(
        doc(
            **{f"r{i}": res("bucket", name=f"b{i}") for i in range(5)},
            z={"dock": "other", "type": "bucket", "properties": {"name": "z"}},
        )
    )
    make_orch(adapter_for=adapter_for).apply(stack, holder="op")
    assert sorted(built, key=str) == [("main", "sandbox"), ("other", "sandbox")]


def test_3000_independent_resources_apply_with_low_engine_overhead(make_orch, parse, store) -> None:
    import time

    n = 3000
    stack = parse(
        {
            "name": "big",
            "resources": {
                f"r{i}": {"dock": "main", "type": "bucket", "properties": {"name": f"b{i}"}}
                for i in range(n)
            },
        }
    )
    started = time.perf_counter()
    result = make_orch(on_event=None).apply(stack, holder="op")
    elapsed = time.perf_counter() - started
    assert result.summary["created"] == n
    assert elapsed < 3.0, f"{elapsed:.2f}s for {n} resources"  # well under 1 ms each
    assert store.write_calls < 100


def test_a_dock_id_stored_as_text_is_the_same_dock(make_orch, parse, store) -> None:
    from dataclasses import replace as dc_replace

    orch = make_orch()
    stack = parse(doc(a={"dock": 7, "type": "bucket", "properties": {"name": "a"}}))
    orch.apply(stack, holder="op")
    record = store.load("s")["a"]
    store.write("s", [dc_replace(record, dock="7")], [])  # as an ORM store may keep it
    assert not orch.plan(stack).has_changes


def test_losing_the_lock_mid_apply_raises_lock_lost(
    make_orch, parse, store, backend, events
) -> None:
    from provisioning.engine import LockLost

    def steal() -> None:
        store.force_unlock("s")
        store.acquire_lock("s", "thief", 60)

    orch = make_orch(lease_seconds=0.1, on_tick=steal)
    with pytest.raises(LockLost):
        orch.apply(parse(doc(a=res("bucket", name="a", latency_ms=150))), holder="op")
    assert store.lock_info("s").holder == "thief"
    assert events[-1].resource is None and events[-1].status == "failed"
    # the write-ahead record lets the next holder adopt what the lost run made
    store.force_unlock("s")
    assert (
        make_orch().apply(parse(doc(a=res("bucket", name="a"))), holder="op2").status == "succeeded"
    )
    assert len(backend.all()) == 1
    assert_consistent(store, backend, "s")


def test_at_most_two_steps_per_worker_are_handed_to_the_pool(
    make_orch, parse, store, backend, monkeypatch
) -> None:
    """The rest wait in the orchestrator's backlog (submitting thousands at once made
    the orchestrator fight the running workers for the pool's locks)."""
    counts = {"now": 0, "max": 0}
    lock = threading.Lock()

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            with lock:
                counts["now"] += 1
                counts["max"] = max(counts["max"], counts["now"])
            future = super().submit(fn, *args, **kwargs)

            def finished(_future) -> None:
                with lock:
                    counts["now"] -= 1

            future.add_done_callback(finished)
            return future

    monkeypatch.setattr(pools_module, "ThreadPoolExecutor", Counting)
    monkeypatch.setattr(orchestrator_module, "SHELF", pools_module.PoolShelf())
    stack = parse(doc(**{f"r{i}": res("bucket", name=f"b{i}", latency_ms=2) for i in range(40)}))
    result = make_orch(parallelism=2).apply(stack, holder="op")
    assert result.summary["created"] == 40
    assert 2 <= counts["max"] <= 4
    assert_consistent(store, backend, "s")
