"""The engine's property test once more, with the real AWS adapter against moto server.

Random stacks of S3 buckets (random references, versioning and tags), then a random
sequence of plan / apply / cancelled apply / refresh / out-of-band deletion / destroy.
After every action, the engine's state and what moto holds agree: every recorded bucket
exists, no bucket exists that state does not know about, and the stack is not locked.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docks.adapters.aws import AwsAdapter
from provisioning.engine import DeploymentOrchestrator, InMemoryStateStore, Registry, parse_stack

STACK = "aws-prop"
CREDS = {
    "access_key_id": "AKIATESTTESTTEST0001",
    "secret_access_key": "x",
    "region": "us-east-1",
    "sync_regions": ["us-east-1"],
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    present = sorted(draw(st.lists(st.integers(0, 4), min_size=1, max_size=4, unique=True)))
    resources: dict[str, Any] = {}
    for i in present:
        earlier = [j for j in present if j < i]
        ref = draw(st.sampled_from([None, *earlier])) if earlier else None
        variant = draw(st.sampled_from([0, 0, 1]))
        name = f"${{b{ref}.name}}-b{i}v{variant}" if ref is not None else f"prop-b{i}v{variant}"
        props: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            props["versioning"] = draw(st.booleans())
        if draw(st.booleans()):
            props["tags"] = {"env": draw(st.sampled_from(["dev", "prod"]))}
        resources[f"b{i}"] = {"dock": "aws", "type": "s3-bucket", "properties": props}
    return {"name": STACK, "resources": resources}


actions = st.one_of(
    st.tuples(st.just("plan"), documents()),
    st.tuples(st.just("apply"), documents(), st.sampled_from(["rollback", "stop"])),
    st.tuples(st.just("cancel"), documents(), st.integers(0, 4)),
    st.tuples(st.just("refresh")),
    st.tuples(st.just("vanish"), st.integers(0, 9)),
    st.tuples(st.just("destroy")),
)


class World:
    def __init__(self, url: str) -> None:
        self.registry = Registry()
        self.registry.register(AwsAdapter)
        self.store = InMemoryStateStore()
        self.adapter = AwsAdapter(CREDS, url)
        self.s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=CREDS["access_key_id"],
            aws_secret_access_key="x",
        )

    def orch(self, **extra: Any) -> DeploymentOrchestrator:
        return DeploymentOrchestrator(
            registry=self.registry,
            store=self.store,
            adapter_for=lambda dock, provider: self.adapter,
            sleep=lambda s: None,
            parallelism=3,
            **extra,
        )

    def buckets(self) -> set[str]:
        return {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}

    def run(self, action: tuple[Any, ...]) -> None:
        kind = action[0]

        def parse(doc: dict[str, Any]) -> Any:
            return parse_stack(doc, registry=self.registry, dock_provider=lambda d: "aws")

        if kind == "plan":
            self.orch().plan(parse(action[1]))
        elif kind == "apply":
            result = self.orch().apply(parse(action[1]), holder="a", on_failure=action[2])
            if result.ok:
                assert not self.orch().plan(parse(action[1])).has_changes
        elif kind == "cancel":
            calls = {"n": 0}

            def should_cancel() -> bool:
                calls["n"] += 1
                return calls["n"] > action[2]

            self.orch(should_cancel=should_cancel).apply(parse(action[1]), holder="c")
        elif kind == "refresh":
            assert self.orch().refresh(STACK, holder="r").ok
        elif kind == "vanish":  # someone deletes a bucket behind StackDock's back
            live = sorted(self.buckets())
            if live:
                self.s3.delete_bucket(Bucket=live[action[1] % len(live)])
            assert self.orch().refresh(STACK, holder="r").ok
        elif kind == "destroy":
            assert self.orch().destroy(STACK, holder="d").ok
            assert self.buckets() == set()

    def check(self) -> None:
        records = self.store.load(STACK)
        created = {r.provider_resource_id for r in records.values() if r.status == "created"}
        pending = {r.inputs.get("name") for r in records.values() if r.status != "created"}
        live = self.buckets()
        assert created <= live, f"recorded but missing: {created - live}"
        assert live <= created | pending, f"orphans at the provider: {live - created - pending}"
        assert self.store.lock_info(STACK) is None


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=st.lists(actions, min_size=1, max_size=5))
def test_state_and_moto_always_agree(moto_server: str, sequence: list[tuple]) -> None:
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST", data=b""), timeout=10
    )
    world = World(moto_server)
    for action in sequence:
        world.run(action)
        world.check()


pytestmark = pytest.mark.timeout(600)
