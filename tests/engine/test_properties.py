"""Property-based test of the engine (after Pulumi's lifecycle fuzzing).

Random stacks of 1-8 sandbox resources (random DAGs through ``${...}``
references and ``depends_on``, random injected faults), then a random
sequence of plan/apply/refresh/destroy/cancelled-apply. After every action
the state store and the sandbox agree: every recorded id exists, nothing
exists that state does not know about, no name is taken twice, and no
stack is left locked.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docks.adapters.sandbox import InMemorySandboxBackend, SandboxAdapter, SimulatedCrash
from provisioning.engine import (
    DeploymentOrchestrator,
    InMemoryStateStore,
    Registry,
    StackSpec,
    parse_stack,
)

from .conftest import assert_consistent

TYPES = ["server", "web-service", "domain", "database", "bucket"]
FAULTS = [None] * 15 + ["transient", "permanent", "crash-after-create"]
STACK = "prop"


@st.composite
def stack_documents(draw: st.DrawFn) -> dict[str, Any]:
    present = draw(st.lists(st.integers(0, 7), min_size=1, max_size=8, unique=True))
    present.sort()
    resources: dict[str, Any] = {}
    for i in present:
        earlier = [j for j in present if j < i]
        refs = draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        variant = draw(st.sampled_from([0, 0, 0, 1, 2]))  # mostly stable: updates, no-ops
        # own suffix keeps names unique per resource; references prefix them
        name = "-".join([*(f"${{r{j}.name}}" for j in refs[:1]), f"r{i}-v{variant}"])
        properties: dict[str, Any] = {"name": name}
        size = draw(st.sampled_from([None, "s", "m", "ref-size", "ref-id"]))
        if size in ("ref-size", "ref-id") and earlier:
            j = draw(st.sampled_from(earlier))
            properties["size"] = f"${{r{j}.{'size' if size == 'ref-size' else 'id'}}}"
        elif size in ("s", "m"):
            properties["size"] = size
        fault = draw(st.sampled_from(FAULTS))
        if fault:
            properties["fail"] = fault
        body: dict[str, Any] = {
            "dock": "main",
            "type": draw(st.sampled_from([TYPES[i % len(TYPES)]] * 4 + TYPES)),
            "properties": properties,
        }
        if len(refs) > 1:
            body["depends_on"] = [f"r{refs[1]}"]
        resources[f"r{i}"] = body
    return {"name": STACK, "resources": resources}


actions = st.one_of(
    st.tuples(st.just("plan"), stack_documents()),
    st.tuples(
        st.just("apply"),
        stack_documents(),
        st.sampled_from(["rollback", "stop"]),
        st.sampled_from([2, 5]),
    ),
    st.tuples(st.just("cancel"), stack_documents(), st.integers(0, 6)),
    st.tuples(st.just("refresh")),
    st.tuples(st.just("drift"), st.integers(0, 7), st.sampled_from(["resize", "delete"])),
    st.tuples(st.just("destroy"), st.sampled_from([2, 5])),
)


class World:
    def __init__(self) -> None:
        self.registry = Registry()
        self.registry.register(SandboxAdapter)
        self.backend = InMemorySandboxBackend()
        self.store = InMemoryStateStore()

    def orch(self, **overrides: Any) -> DeploymentOrchestrator:
        options: dict[str, Any] = {
            "registry": self.registry,
            "store": self.store,
            "adapter_for": lambda dock, provider: SandboxAdapter(backend=self.backend),
            "sleep": lambda seconds: None,
            "parallelism": 4,
        }
        options.update(overrides)
        return DeploymentOrchestrator(**options)

    def parse(self, document: dict[str, Any]) -> StackSpec:
        return parse_stack(document, registry=self.registry, dock_provider=lambda d: "sandbox")


def run_action(world: World, action: tuple[Any, ...]) -> None:
    kind = action[0]
    if kind == "plan":
        world.orch().plan(world.parse(action[1]))
        return
    if kind == "refresh":
        world.orch().refresh(STACK, holder="refresh")
        return
    if kind == "drift":  # someone changes the cloud behind our back, then we refresh
        records = sorted(world.backend.all(), key=lambda r: r.id)
        if records:
            victim = records[action[1] % len(records)]
            if action[2] == "delete":
                world.backend.delete(victim.id)
            else:
                world.backend.tamper(victim.id, size="drifted")
        assert world.orch().refresh(STACK, holder="refresh").status == "succeeded"
        return
    if kind == "destroy":
        try:
            result = world.orch(max_attempts=action[1]).destroy(STACK, holder="destroy")
        except SimulatedCrash:
            return
        if result.status == "succeeded":
            assert world.store.load(STACK) == {}
            assert world.backend.all() == []
        return
    stack = world.parse(action[1])
    if kind == "cancel":
        calls = {"n": 0}

        def should_cancel() -> bool:
            calls["n"] += 1
            return calls["n"] > action[2]

        try:
            world.orch(should_cancel=should_cancel).apply(stack, holder="cancel")
        except SimulatedCrash:
            pass
        return
    _, _, on_failure, attempts = action
    try:
        result = world.orch(max_attempts=attempts).apply(
            stack, holder="apply", on_failure=on_failure
        )
    except SimulatedCrash:
        return
    if result.status == "succeeded":
        records = world.store.load(STACK)
        assert set(records) == set(stack.resources)
        assert all(r.status == "created" for r in records.values())
        live = {r.id: r for r in world.backend.all()}
        for record in records.values():
            assert live[record.provider_resource_id].name == record.inputs["name"]
            assert "${" not in record.inputs["name"]
        # applying is idempotent: nothing left to do
        assert not world.orch().plan(stack).has_changes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=6))
def test_state_and_provider_always_agree(sequence: list[tuple]) -> None:
    # crash-after-create raises SimulatedCrash: conftest's autouse fixture
    world = World()
    for action in sequence:
        run_action(world, action)
        assert_consistent(world.store, world.backend, STACK)
