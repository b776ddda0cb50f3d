"""Creates declared ahead: a dependent's write-ahead record is written while its
dependencies are still being created, so that its own create starts the moment
they finish, without a write in between (docs/ENGINE.md, "Declared creates")."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from docks.adapters.sandbox import SandboxAdapter, SandboxRecord, SimulatedCrash
from provisioning.engine import InMemoryStateStore, ResourceState, ResourceStatus

from .conftest import assert_consistent, doc, res


class TimelineStore(InMemoryStateStore):
    """An in-memory store that logs each write on a shared timeline."""

    def __init__(self, timeline: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.timeline = timeline
        self.timeline_lock = threading.Condition()

    def write(self, stack, puts, deletes) -> None:
        super().write(stack, puts, deletes)
        with self.timeline_lock:
            self.timeline.append(("write", {r.name: r.status for r in puts}))
            self.timeline_lock.notify_all()

    def wait_for_declaration(self, name: str, timeout: float = 5.0) -> bool:
        """True once a write has declared ``name`` (False after ``timeout``)."""

        def declared() -> bool:
            return any(
                kind == "write" and value.get(name) == ResourceStatus.DECLARED
                for kind, value in self.timeline
            )

        with self.timeline_lock:
            return self.timeline_lock.wait_for(declared, timeout=timeout)


@pytest.fixture
def timeline() -> list[tuple[str, Any]]:
    return []


@pytest.fixture
def store(timeline) -> TimelineStore:
    return TimelineStore(timeline)


@pytest.fixture
def watched_orch(make_orch, backend, store, timeline):
    """An orchestrator whose creates log, on the timeline, what state held when
    they began; ``c<i>``'s create returns only once ``c<i+1>`` is declared (or
    5 s passed), so that the order of events does not depend on thread timing."""

    class Watching(SandboxAdapter):
        def create(self, resource_type, spec, *, token):
            durable = store.load("s")
            with store.timeline_lock:
                timeline.append(("create", (spec.name, token, durable)))
            result = super().create(resource_type, spec, token=token)
            if spec.name != last:
                following = f"c{int(spec.name[1:]) + 1}"
                in_time = store.wait_for_declaration(following)
                timeline.append(("declared in time", (spec.name, in_time)))
            with store.timeline_lock:
                timeline.append(("created", spec.name))
            return result

    last = ""

    def _make(n: int, **overrides: Any):
        nonlocal last
        last = f"c{n - 1}"
        return make_orch(adapter_for=lambda dock, provider: Watching(backend=backend), **overrides)

    return _make


def chain(n: int, **extra: Any) -> dict[str, Any]:
    """``c0 <- c1 <- ...``: each takes the previous one's ``id`` as its size."""
    resources = {"c0": res("bucket", name="c0", **extra)}
    for i in range(1, n):
        resources[f"c{i}"] = res("bucket", name=f"c{i}", size=f"${{c{i - 1}.id}}", **extra)
    return doc(**resources)


def test_every_create_starts_with_its_token_already_in_durable_state(
    watched_orch, parse, timeline
) -> None:
    result = watched_orch(4).apply(parse(chain(4)), holder="op")
    assert result.status == "succeeded"
    creates = [value for kind, value in timeline if kind == "create"]
    assert [name for name, _, _ in creates] == ["c0", "c1", "c2", "c3"]
    for name, token, durable in creates:
        assert durable[name].token == token
        assert durable[name].status in ("pending_create", "declared")


def test_a_chain_declares_each_create_while_its_dependency_runs(
    watched_orch, parse, timeline
) -> None:
    watched_orch(4).apply(parse(chain(4)), holder="op")
    in_time = dict(value for kind, value in timeline if kind == "declared in time")
    assert in_time == {"c0": True, "c1": True, "c2": True}
    declared = [
        [name for name, status in value.items() if status == ResourceStatus.DECLARED]
        for kind, value in timeline
        if kind == "write"
    ]
    assert [d for d in declared if d] == [["c1"], ["c2"], ["c3"]]


def test_a_declared_record_holds_the_spec_properties_unresolved(watched_orch, parse, store) -> None:
    seen: dict[str, ResourceState] = {}
    original = store.write

    def write(stack, puts, deletes) -> None:
        for record in puts:
            if record.status == ResourceStatus.DECLARED:
                seen[record.name] = record
        original(stack, puts, deletes)

    store.write = write
    watched_orch(3).apply(parse(chain(3)), holder="op")
    assert sorted(seen) == ["c1", "c2"]
    assert seen["c1"].inputs["size"] == "${c0.id}"
    assert seen["c2"].inputs["size"] == "${c1.id}"
    assert seen["c1"].token == store.load("s")["c1"].token  # the create used its token


def test_a_declared_create_starts_before_its_own_record_is_written_again(
    make_orch, parse, store, backend
) -> None:
    """Writes of c1's and c2's resolved records wait (up to 5 s) for their creates
    to start: a create that needed its write first would not start in time."""
    started = {name: threading.Event() for name in ("c1", "c2")}
    in_time: dict[str, bool] = {}
    original = store.write

    def write(stack, puts, deletes) -> None:
        for record in puts:
            if record.name in started and record.status == ResourceStatus.PENDING_CREATE:
                in_time[record.name] = started[record.name].wait(timeout=5)
        original(stack, puts, deletes)

    class Signalling(SandboxAdapter):
        def create(self, resource_type, spec, *, token):
            if spec.name in started:
                started[spec.name].set()
            return super().create(resource_type, spec, token=token)

    store.write = write
    orch = make_orch(adapter_for=lambda dock, provider: Signalling(backend=backend))
    assert orch.apply(parse(chain(3)), holder="op").status == "succeeded"
    assert in_time == {"c1": True, "c2": True}


def test_the_state_a_chain_leaves_holds_resolved_inputs_only(
    make_orch, parse, store, backend
) -> None:
    result = make_orch().apply(parse(chain(3)), holder="op")
    records = store.load("s")
    assert {r.status for r in records.values()} == {ResourceStatus.CREATED}
    assert records["c2"].inputs["size"] == records["c1"].outputs["id"]
    assert result.summary["created"] == 3
    assert_consistent(store, backend, "s")


@pytest.mark.parametrize("on_failure", ["rollback", "stop"])
def test_declarations_of_creates_that_never_started_are_removed_when_a_step_fails(
    make_orch, parse, store, backend, on_failure
) -> None:
    document = doc(
        a=res("bucket", name="a"),
        b=res("bucket", name="b", size="${a.id}", fail="permanent"),
        c=res("bucket", name="c", size="${b.id}"),
        d=res("bucket", name="d", size="${c.id}"),
    )
    result = make_orch().apply(parse(document), holder="op", on_failure=on_failure)
    assert result.status == "failed"
    records = store.load("s")
    assert all(r.status != ResourceStatus.DECLARED for r in records.values())
    assert "c" not in records and "d" not in records
    assert sorted(records) == ([] if on_failure == "rollback" else ["a"])
    assert_consistent(store, backend, "s")


def test_cancel_removes_the_declarations_it_leaves_unstarted(make_orch, parse, store) -> None:
    calls = {"n": 0}

    def should_cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    result = make_orch(should_cancel=should_cancel).apply(parse(chain(5)), holder="op")
    assert result.status == "cancelled"
    assert all(r.status == ResourceStatus.CREATED for r in store.load("s").values())
    assert store.lock_info("s") is None


def test_a_validation_error_after_resolving_drops_the_declaration(
    make_orch, parse, store, backend
) -> None:
    # c0's id is not a valid name: c1 fails on the spot, before any provider call
    document = doc(c0=res("bucket", name="c0"), c1=res("bucket", name="${c0.id}_BAD"))
    result = make_orch().apply(parse(document), holder="op", on_failure="stop")
    assert result.status == "failed"
    assert "resources.c1.properties.name" in result.error
    assert sorted(store.load("s")) == ["c0"]
    assert_consistent(store, backend, "s")


# --- after a crash ----------------------------------------------------------------------


def declared(key: str, token: str, **properties: Any) -> ResourceState:
    return ResourceState(
        name=key,
        type="bucket",
        provider="sandbox",
        dock="main",
        inputs=properties,
        status=ResourceStatus.DECLARED,
        token=token,
        depends_on=("a",),
    )


def pending(name: str, token: str) -> ResourceState:
    return ResourceState(
        name=name,
        type="bucket",
        provider="sandbox",
        dock="main",
        inputs={"name": name},
        status=ResourceStatus.PENDING_CREATE,
        token=token,
    )


def crashed_chain(store, backend, *, a_created: bool, b_created: bool) -> None:
    """What a process killed during b's create leaves: a's checkpoint was not
    written yet (a pending), b only declared; the provider has what it has."""
    store.write("s", [pending("a", "tok-a"), declared("b", "tok-b", name="${a.name}-b")], [])
    if a_created:
        backend.insert(SandboxRecord(id="bkt-a", token="tok-a", resource_type="bucket", name="a"))
    if b_created:
        backend.insert(SandboxRecord(id="bkt-b", token="tok-b", resource_type="bucket", name="a-b"))


DOCUMENT = doc(a=res("bucket", name="a"), b=res("bucket", name="${a.name}-b"))


def test_a_declared_create_that_happened_is_adopted_once_its_reference_is(
    make_orch, parse, store, backend, events
) -> None:
    crashed_chain(store, backend, a_created=True, b_created=True)
    result = make_orch().apply(parse(DOCUMENT), holder="op2")
    assert result.status == "succeeded"
    assert sorted((r.id, r.name) for r in backend.all()) == [("bkt-a", "a"), ("bkt-b", "a-b")]
    records = store.load("s")
    assert records["b"].provider_resource_id == "bkt-b"
    assert records["b"].inputs["name"] == "a-b"
    adopted = [e.resource for e in events if e.action == "adopt" and e.status == "succeeded"]
    assert sorted(adopted) == ["a", "b"]
    assert_consistent(store, backend, "s")


def test_a_declared_create_that_never_happened_is_created_with_its_token(
    make_orch, parse, store, backend
) -> None:
    crashed_chain(store, backend, a_created=True, b_created=False)
    result = make_orch().apply(parse(DOCUMENT), holder="op2")
    assert result.status == "succeeded"
    assert sorted((r.token, r.name) for r in backend.all()) == [("tok-a", "a"), ("tok-b", "a-b")]
    assert_consistent(store, backend, "s")


def test_a_declared_create_whose_reference_never_resolved_is_forgotten(
    make_orch, parse, store, backend
) -> None:
    crashed_chain(store, backend, a_created=False, b_created=False)
    plan = make_orch().plan(parse(DOCUMENT))
    notes = {c.resource: c.note for c in plan.changes}
    assert "interrupted create" in notes["b"]
    result = make_orch().apply(parse(DOCUMENT), holder="op2")
    assert result.status == "succeeded"
    assert sorted(r.token for r in backend.all()) == ["tok-a", "tok-b"]  # tokens reused
    assert_consistent(store, backend, "s")


def test_refresh_resolves_declared_creates_like_recovery(make_orch, store, backend) -> None:
    crashed_chain(store, backend, a_created=True, b_created=True)
    result = make_orch().refresh("s", holder="refresh")
    assert result.status == "succeeded"
    records = store.load("s")
    assert {k: r.status for k, r in records.items()} == {"a": "created", "b": "created"}
    assert records["b"].provider_resource_id == "bkt-b"
    assert_consistent(store, backend, "s")


def test_destroy_after_a_crash_deletes_a_declared_create_that_happened(
    make_orch, store, backend
) -> None:
    crashed_chain(store, backend, a_created=True, b_created=True)
    result = make_orch().destroy("s", holder="destroy")
    assert result.status == "succeeded"
    assert backend.all() == []
    assert store.load("s") == {}


def test_crash_in_the_middle_of_a_chain_then_reapply_leaves_no_duplicate(
    make_orch, parse, store, backend
) -> None:
    document = doc(
        a=res("bucket", name="a"),
        b=res("bucket", name="${a.name}-b", fail="crash-after-create"),
        c=res("bucket", name="${b.name}-c"),
    )
    with pytest.raises(SimulatedCrash):
        make_orch().apply(parse(document), holder="op1")
    assert store.lock_info("s") is None
    fixed = doc(
        a=res("bucket", name="a"),
        b=res("bucket", name="${a.name}-b"),
        c=res("bucket", name="${b.name}-c"),
    )
    result = make_orch().apply(parse(fixed), holder="op2")
    assert result.status == "succeeded"
    assert sorted(r.name for r in backend.all()) == ["a", "a-b", "a-b-c"]
    assert_consistent(store, backend, "s")
