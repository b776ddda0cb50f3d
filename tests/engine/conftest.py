"""Fixtures for the pure-Python engine tests: in-memory store, sandbox backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import Field

from docks.adapters.base import ResourceType, SpecModel
from docks.adapters.sandbox import InMemorySandboxBackend, SandboxAdapter, SimulatedCrash
from provisioning.engine import (
    DeploymentOrchestrator,
    Event,
    InMemoryStateStore,
    Registry,
    StackSpec,
    parse_stack,
)

DOCKS: dict[str | int, str] = {
    "main": "sandbox",
    7: "sandbox",
    "other": "sandbox",
    "vault": "vault",
}


class VaultSpec(SpecModel):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9.-]*$")
    password: str = Field(min_length=1, json_schema_extra={"secret": True})
    size: str | None = None


class VaultAdapter(SandboxAdapter):
    """A sandbox variant with a secret property, to check masking."""

    provider = "vault"
    label = "Vault (test)"
    resource_types = {
        "secret-box": ResourceType(
            name="secret-box",
            table=None,
            spec_model=VaultSpec,
            replace_fields=frozenset({"name"}),
            outputs=("id", "name", "size"),
            secret_fields=frozenset({"password"}),
        )
    }


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def raise_crash() -> None:
    raise SimulatedCrash()


def doc(name: str = "s", **resources: dict[str, Any]) -> dict[str, Any]:
    """A stack document; each resource defaults to dock "main"."""
    return {
        "name": name,
        "resources": {r: {"dock": "main", **body} for r, body in resources.items()},
    }


def res(type_: str = "bucket", **properties: Any) -> dict[str, Any]:
    """One resource body: ``res("server", name="web", size="s")``."""
    extra = properties.pop("_extra", {})
    return {"type": type_, "properties": properties, **extra}


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.005)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.register(SandboxAdapter)
    reg.register(VaultAdapter)
    return reg


@pytest.fixture
def backend() -> InMemorySandboxBackend:
    return InMemorySandboxBackend()


@pytest.fixture
def store() -> InMemoryStateStore:
    return InMemoryStateStore()


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def parse(registry: Registry) -> Callable[[Any], StackSpec]:
    def _parse(document: Any) -> StackSpec:
        return parse_stack(document, registry=registry, dock_provider=DOCKS.__getitem__)

    return _parse


@pytest.fixture
def make_orch(
    registry: Registry,
    store: InMemoryStateStore,
    backend: InMemorySandboxBackend,
    events: list[Event],
) -> Callable[..., DeploymentOrchestrator]:
    def _make(**overrides: Any) -> DeploymentOrchestrator:
        options: dict[str, Any] = {
            "registry": registry,
            "store": store,
            "adapter_for": lambda dock, provider: registry.adapter_class(provider)(backend=backend),
            "on_event": events.append,
            "sleep": lambda seconds: None,
        }
        options.update(overrides)
        return DeploymentOrchestrator(**options)

    return _make


@pytest.fixture(autouse=True)
def _crash_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """``crash-after-create`` raises SimulatedCrash instead of killing pytest."""
    monkeypatch.setattr(SandboxAdapter, "crash", staticmethod(raise_crash))


class Recorder:
    """Counts and orders provider calls across worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, str]] = []  # (phase, operation, name)
        self.active = 0
        self.max_active = 0

    def enter(self, operation: str, name: str) -> None:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append(("start", operation, name))

    def leave(self, operation: str, name: str) -> None:
        with self.lock:
            self.active -= 1
            self.calls.append(("end", operation, name))

    def ops(self, operation: str) -> list[str]:
        return [n for phase, op, n in self.calls if phase == "start" and op == operation]

    def index(self, phase: str, operation: str, name: str) -> int:
        return self.calls.index((phase, operation, name))


class RecordingAdapter(SandboxAdapter):
    recorder: Recorder

    def _name(self, resource_type: str, pid: str) -> str:
        record = self.backend.get(pid)
        return record.name if record else pid

    def create(self, resource_type, spec, *, token):
        self.recorder.enter("create", spec.name)
        try:
            return super().create(resource_type, spec, token=token)
        finally:
            self.recorder.leave("create", spec.name)

    def update(self, resource_type, provider_resource_id, old, new):
        self.recorder.enter("update", new.name)
        try:
            return super().update(resource_type, provider_resource_id, old, new)
        finally:
            self.recorder.leave("update", new.name)

    def delete(self, resource_type, provider_resource_id, spec):
        name = self._name(resource_type, provider_resource_id)
        self.recorder.enter("delete", name)
        try:
            return super().delete(resource_type, provider_resource_id, spec)
        finally:
            self.recorder.leave("delete", name)

    def read(self, resource_type, provider_resource_id, spec):
        name = self._name(resource_type, provider_resource_id)
        self.recorder.enter("read", name)
        try:
            return super().read(resource_type, provider_resource_id, spec)
        finally:
            self.recorder.leave("read", name)

    def find(self, resource_type, spec, *, token):
        self.recorder.enter("find", spec.name)
        try:
            return super().find(resource_type, spec, token=token)
        finally:
            self.recorder.leave("find", spec.name)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def recording_orch(
    make_orch: Callable[..., DeploymentOrchestrator],
    backend: InMemorySandboxBackend,
    recorder: Recorder,
) -> Callable[..., DeploymentOrchestrator]:
    """An orchestrator whose sandbox adapter records every provider call."""

    def _make(**overrides: Any) -> DeploymentOrchestrator:
        def adapter_for(dock: Any, provider: str) -> SandboxAdapter:
            adapter = RecordingAdapter(backend=backend)
            adapter.recorder = recorder
            return adapter

        return make_orch(adapter_for=adapter_for, **overrides)

    return _make


def assert_consistent(
    store: InMemoryStateStore, backend: InMemorySandboxBackend, stack: str
) -> None:
    """State and provider agree: every recorded id exists, nothing else does."""
    records = store.load(stack)
    live = {r.id: r for r in backend.all()}
    pending_tokens = {
        r.token for r in records.values() if r.status in ("pending_create", "declared")
    }
    recorded_ids = [r.provider_resource_id for r in records.values() if r.provider_resource_id]
    assert len(recorded_ids) == len(set(recorded_ids)), "two records share a provider id"
    for record in records.values():
        # a pending create or delete may or may not have happened; the next
        # operation resolves it (find / delete again)
        if record.status in ("created", "pending_update"):
            assert record.provider_resource_id in live, f"{record.name} missing at the provider"
        if record.provider_resource_id in live:
            assert live[record.provider_resource_id].resource_type == record.type
    for rid, rec in live.items():
        assert rid in recorded_ids or rec.token in pending_tokens, f"orphan {rec.name} ({rid})"
    names = [(r.resource_type, r.name) for r in live.values()]
    assert len(names) == len(set(names)), "duplicate names at the provider"
    assert store.lock_info(stack) is None, "stack left locked"
