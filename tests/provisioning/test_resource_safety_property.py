"""What StackDock promises about your resources (docs/ENGINE.md), as one stateful property.

Random sequences of what users, scripts, the provider and crashes do - single
provisions, updates (in place and replacing, confirmed or not), deletes, stack
saves, plans, deploys (of a saved plan or not), destroys, refreshes, cancels and
dock syncs, through the service layer, each queued operation run through the
worker's code path (``provisioning.runner.operation_run``) - on the sandbox
provider, with a small pool of names (so requests collide), resources created,
changed and deleted out of band at the provider, and injected crashes (the
sandbox's ``fail: crash-after-create``: the worker dies right after a create; the
reaper hands the operation on, as it would in production).

After every step:

1. every provider resource StackDock created is managed by exactly one record
   (a stack's state) and listed in exactly one universal row, which says it is
   StackDock's and names that record - unless it was released on purpose
   (``deletion_policy: retain``), after which it is no longer StackDock's;
2. nothing StackDock did not create (made out of band, or released) was deleted
   or changed by StackDock, nor is it managed by any record or row;
3. every key a stack's state holds is claimed by that stack, and a claim is held
   only for what the state holds or an operation still queued may create;
4. no operation is left queued or running once it was run, and no row is
   ``provisioning``/``deprovisioning`` without an operation that is queued for it;
5. a refused request queued nothing.

``STACKDOCK_PROPERTY_EXAMPLES`` raises the number of examples for a longer search
(the default keeps the test under a minute on a loaded 2-core machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conftest import actor_of
from docks.adapters.sandbox import SandboxAdapter, SandboxRecord, SimulatedCrash
from docks.models import UNIVERSAL_MODELS, ProvisioningSource, ProvisioningState
from provisioning import services
from provisioning.engine.state import CREATE_UNCERTAIN, base_name
from provisioning.models import (
    Operation,
    OperationStatus,
    ResourceClaim,
    Stack,
    StackKind,
    StackResource,
)
from provisioning.registry import get_registry
from provisioning.runner import operation_run, operations_reap
from stackdock.exceptions import ConfirmationRequired, Conflict, NotFound, ValidationError

NAMES = ("alpha", "beta", "gamma")
TYPES = ("bucket", "server")
TABLE = {"bucket": "buckets", "server": "servers"}
SIZES = (None, "s", "l")
STACKS = ("s1", "s2")
LOGICAL = ("a", "b")
ACTIVE = (OperationStatus.QUEUED, OperationStatus.RUNNING)
#: what a service may answer instead of queueing; anything else is a bug
REFUSALS = (Conflict, ValidationError, NotFound)
#: a worker that dies this many times on one operation would be failed by the reaper
MAX_RUNS = 8

fails = st.sampled_from((None, None, None, None, "crash-after-create", "permanent"))
sizes = st.sampled_from(SIZES)
names = st.sampled_from(NAMES)
types = st.sampled_from(TYPES)
picks = st.integers(min_value=0, max_value=15)


def _props(name: str, size: str | None, fail: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if size is not None:
        out["size"] = size
    if fail is not None:
        out["fail"] = fail
    return out


stack_resource = st.fixed_dictionaries(
    {
        "dock": st.just("sandbox"),
        "type": types,
        "properties": st.builds(_props, names, sizes, fails),
    },
    optional={"deletion_policy": st.sampled_from(("delete", "retain"))},
)
stack_resources = st.dictionaries(st.sampled_from(LOGICAL), stack_resource, max_size=2)


def _raise_crash() -> None:
    raise SimulatedCrash()


@dataclass(frozen=True)
class Contents:
    """What a resource at the provider looks like (to notice any change)."""

    resource_type: str
    name: str
    size: str | None
    spec: tuple[tuple[str, Any], ...]
    updated_at: float

    @classmethod
    def of(cls, record: SandboxRecord) -> Contents:
        return cls(
            record.resource_type,
            record.name,
            record.size,
            tuple(sorted(record.spec.items())),
            record.updated_at,
        )


class ResourceSafety(RuleBasedStateMachine):
    """One organization, one owner, one sandbox dock; see the module docstring."""

    #: set by the test function: the owner's actor, the sandbox dock, the sandbox backend
    env: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self.actor = self.env["actor"]
        self.dock = self.env["dock"]
        self.sandbox = self.env["sandbox"]
        self.sandbox.clear()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()  # every example starts from the same database
        self.queued: set[int] = set()
        #: resources StackDock did not create (or released): id -> contents
        self.foreign: dict[str, Contents] = {}
        self.foreign_tokens: set[str] = set()
        #: the deletion policy of each StackDock-created resource's manager, last seen
        self.policy: dict[str, str] = {}
        self.plans: dict[str, list[int]] = {}
        self.counter = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        self.sandbox.clear()

    # --- running operations as the worker (and the reaper) would ----------------------
    def _run(self, op_id: int) -> Operation:
        for _ in range(MAX_RUNS):
            try:
                operation_run(op_id, worker="property")
            except SimulatedCrash:
                event("crash")  # the worker died mid-operation: its lease runs out
            op = Operation.objects.get(pk=op_id)
            if op.is_terminal:
                event(f"{op.kind} {op.status}")
                self.queued.discard(op_id)
                return op
            if op.status == OperationStatus.RUNNING:
                Operation.objects.filter(pk=op_id).update(
                    lease_expires_at=timezone.now() - timedelta(seconds=1)
                )
                operations_reap()
        raise AssertionError(f"operation {op_id} is still {op.status} after {MAX_RUNS} runs")

    def _queued(self, op: Operation, run_now: bool) -> None:
        assert op.status == OperationStatus.QUEUED, op.status
        self.queued.add(op.pk)
        if run_now:
            self._run(op.pk)

    def _refusable(self, act: Any) -> Any:
        """``act()``; a refusal must leave no new operation behind."""
        before = Operation.objects.count()
        try:
            return act()
        except REFUSALS as exc:
            event(f"refused: {type(exc).__name__}")
            assert Operation.objects.count() == before, "a refused request queued something"
            return None

    def _single_rows(self) -> list[Any]:
        rows: list[Any] = []
        for rtype in TYPES:
            model = UNIVERSAL_MODELS[TABLE[rtype]]
            rows.extend(model.objects.filter(provisioning_source=ProvisioningSource.API))
        return sorted(rows, key=lambda r: (r.resource_type, r.pk))

    # --- what users and scripts do -------------------------------------------------------
    @rule(
        rtype=types, name=names, size=sizes, fail=fails, run_now=st.booleans(), retry=st.booleans()
    )
    def provision(
        self, rtype: str, name: str, size: str | None, fail: str | None, run_now: bool, retry: bool
    ) -> None:
        op = self._refusable(
            lambda: services.resource_provision(
                actor=self.actor, dock=self.dock, resource_type=rtype, spec=_props(name, size, fail)
            )
        )
        if op is not None:
            self._queued(op, run_now)

    @rule(
        pick=picks,
        name=st.none() | names,
        size=st.none() | sizes,
        fail=st.none() | fails,
        confirm=st.sampled_from(("", "replace")),
        run_now=st.booleans(),
    )
    def update(
        self,
        pick: int,
        name: str | None,
        size: str | None,
        fail: str | None,
        confirm: str,
        run_now: bool,
    ) -> None:
        rows = self._single_rows()
        if not rows:
            return
        row = rows[pick % len(rows)]
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if size is not None:
            changes["size"] = size
        if fail is not None:
            changes["fail"] = fail
        renames = name is not None and name != row.spec.get("name")
        try:
            op = self._refusable(
                lambda: services.resource_update(
                    actor=self.actor,
                    table=TABLE[row.resource_type],
                    row=row,
                    changes=changes,
                    confirm=confirm,
                )
            )
        except ConfirmationRequired:
            assert not confirm, "a confirmed replace was refused for want of confirmation"
            return
        if op is not None:
            state = StackResource.objects.filter(stack=op.stack, name="resource").first()
            if renames and not confirm and state is not None and state.status == "created":
                pytest.fail(f"renaming {row.name!r} was queued without confirmation")
            self._queued(op, run_now)

    @rule(pick=picks, run_now=st.booleans())
    def delete(self, pick: int, run_now: bool) -> None:
        rows = self._single_rows()
        if not rows:
            return
        row = rows[pick % len(rows)]
        op = self._refusable(
            lambda: services.resource_delete(
                actor=self.actor, table=TABLE[row.resource_type], row=row
            )
        )
        if op is not None:
            self._queued(op, run_now)

    @rule(stack=st.sampled_from(STACKS), resources=stack_resources)
    def stack_save(self, stack: str, resources: dict[str, Any]) -> None:
        self._refusable(
            lambda: services.stack_save(
                actor=self.actor, org=self.dock.org, doc={"name": stack, "resources": resources}
            )
        )

    def _stack(self, name: str) -> Stack | None:
        return Stack.objects.filter(org=self.dock.org, name=name, kind=StackKind.STACK).first()

    @rule(stack=st.sampled_from(STACKS), draft=st.none() | stack_resources)
    def stack_plan(self, stack: str, draft: dict[str, Any] | None) -> None:
        found = self._stack(stack)
        if found is None:
            return
        doc = None if draft is None else {"name": stack, "resources": draft}
        plan = self._refusable(lambda: services.stack_plan(actor=self.actor, stack=found, doc=doc))
        if plan is not None:
            self.plans.setdefault(stack, []).append(plan["id"])
            if doc is not None:  # planning a draft never changes the stored spec
                assert Stack.objects.get(pk=found.pk).spec == found.spec

    @rule(stack=st.sampled_from(STACKS), plan=st.none() | picks, run_now=st.booleans())
    def stack_deploy(self, stack: str, plan: int | None, run_now: bool) -> None:
        found = self._stack(stack)
        if found is None:
            return
        saved = self.plans.get(stack) or []
        plan_id = None if plan is None or not saved else saved[plan % len(saved)]
        op = self._refusable(
            lambda: services.stack_deploy(actor=self.actor, stack=found, plan=plan_id)
        )
        if op is not None:
            if plan_id is not None:  # the plan's spec is what is applied
                from provisioning.models import Plan

                assert Stack.objects.get(pk=found.pk).spec == Plan.objects.get(pk=plan_id).spec
            self._queued(op, run_now)

    @rule(stack=st.sampled_from(STACKS), run_now=st.booleans())
    def stack_destroy(self, stack: str, run_now: bool) -> None:
        found = self._stack(stack)
        if found is None:
            return
        op = self._refusable(lambda: services.stack_destroy(actor=self.actor, stack=found))
        if op is not None:
            self._queued(op, run_now)

    @rule(stack=st.sampled_from(STACKS))
    def stack_refresh(self, stack: str) -> None:
        found = self._stack(stack)
        if found is None:
            return
        op = self._refusable(lambda: services.stack_refresh(actor=self.actor, stack=found))
        if op is not None:
            self._queued(op, True)

    @rule()
    def sync(self) -> None:
        op = services.dock_sync_request(actor=self.actor, dock=self.dock)
        self._queued(op, True)

    @rule(pick=picks)
    def cancel_queued(self, pick: int) -> None:
        if not self.queued:
            return
        op_id = sorted(self.queued)[pick % len(self.queued)]
        services.operation_cancel(actor=self.actor, operation=Operation.objects.get(pk=op_id))
        assert Operation.objects.get(pk=op_id).status == OperationStatus.CANCELLED
        self.queued.discard(op_id)

    @rule(order=st.randoms(use_true_random=False))
    def run_queued(self, order: Any) -> None:
        pending = sorted(self.queued)
        order.shuffle(pending)
        for op_id in pending:
            self._run(op_id)

    # --- what happens at the provider behind StackDock's back ---------------------------
    @rule(rtype=types, name=names, size=sizes)
    def out_of_band_create(self, rtype: str, name: str, size: str | None) -> None:
        self.counter += 1
        token = f"oob-{self.counter}"
        record = SandboxRecord(
            id=f"oob-{rtype}-{self.counter}",
            token=token,
            resource_type=rtype,
            name=name,
            size=size,
            spec=_props(name, size, None),
            created_at=float(self.counter),
            updated_at=float(self.counter),
        )
        try:
            stored, _ = self.sandbox.insert(record)
        except Exception:  # the name is taken: nothing made
            return
        self.foreign_tokens.add(token)
        self.foreign[stored.id] = Contents.of(stored)

    @rule(pick=picks)
    def out_of_band_delete(self, pick: int) -> None:
        records = sorted(self.sandbox.all(), key=lambda r: (r.resource_type, r.name))
        if not records:
            return
        record = records[pick % len(records)]
        self.sandbox.delete(record.id)
        self.foreign.pop(record.id, None)

    @rule(pick=picks, size=sizes)
    def out_of_band_change(self, pick: int, size: str | None) -> None:
        records = sorted(self.sandbox.all(), key=lambda r: (r.resource_type, r.name))
        if not records:
            return
        record = records[pick % len(records)]
        self.counter += 1
        changed = self.sandbox.update(
            SandboxRecord(
                **{**record.__dict__, "size": size, "updated_at": 10_000.0 + self.counter}
            )
        )
        if changed.id in self.foreign:
            self.foreign[changed.id] = Contents.of(changed)

    # --- the promises ------------------------------------------------------------------------
    @invariant()
    def promises_hold(self) -> None:
        registry = get_registry()
        records = {r.id: r for r in self.sandbox.all()}
        state = list(StackResource.objects.select_related("stack"))
        rows = [
            row
            for rtype in TYPES
            for row in UNIVERSAL_MODELS[TABLE[rtype]].objects.filter(dock=self.dock)
        ]
        # 2. nothing StackDock did not create was deleted or changed
        for record_id, contents in self.foreign.items():
            assert record_id in records, f"StackDock deleted {contents.name!r}, not its own"
            assert Contents.of(records[record_id]) == contents, (
                f"StackDock changed {contents.name!r}, not its own"
            )
        # 1. one manager, one row, for every resource StackDock created
        for record in records.values():
            if record.id in self.foreign:
                managed = [s for s in state if s.provider_resource_id == record.id]
                assert not managed, f"{record.name!r}, not StackDock's, is in state: {managed}"
                listed = [r for r in rows if r.provider_resource_id == record.id]
                assert all(not r.is_provisioned_by_stackdock for r in listed), (
                    f"{record.name!r}, not StackDock's, has a managed row"
                )
                continue
            managers = [
                s
                for s in state
                if s.provider_resource_id == record.id
                or (s.provider_resource_id is None and s.token == record.token)
            ]
            listed = [r for r in rows if r.provider_resource_id == record.id]
            if not managers and self.policy.get(record.id) == "retain":
                # released on purpose: from now on it is not StackDock's
                assert [r.provisioning_source for r in listed] == ["manual"], (
                    f"retained {record.name!r} is not listed once as discovered: {listed}"
                )
                self.foreign[record.id] = Contents.of(record)
                continue
            assert len(managers) == 1, (
                f"{record.resource_type} {record.name!r} ({record.id}) has "
                f"{len(managers)} managers: {[(m.stack.name, m.name, m.status) for m in managers]}"
            )
            (manager,) = managers
            self.policy[record.id] = manager.deletion_policy
            assert len(listed) == 1, (
                f"{record.resource_type} {record.name!r} managed by "
                f"{manager.stack.name}/{manager.name} ({manager.status}) is listed in "
                f"{len(listed)} rows"
            )
            (row,) = listed
            assert row.is_provisioned_by_stackdock, (
                f"{record.name!r}, StackDock's, is listed as {row.provisioning_source!r}"
            )
            assert (row.sst_stack_name, row.sst_resource_id) == (
                manager.stack.name,
                base_name(manager.name),
            ), f"row {row.pk} names {row.sst_stack_name}/{row.sst_resource_id}"
        # a managed row names the state record of what it lists
        by_record = {(s.stack.name, base_name(s.name), s.provider_resource_id) for s in state}
        for row in rows:
            if row.is_provisioned_by_stackdock and row.provider_resource_id is not None:
                assert (row.sst_stack_name, row.sst_resource_id, row.provider_resource_id) in (
                    by_record
                ), f"row {row.pk} ({row.name!r}) says it is managed, but no state record has it"
        # 3. claims follow state
        claims = {
            (c.dock_id, c.resource_type, c.key): c for c in ResourceClaim.objects.select_related()
        }
        active_stacks = set(
            Operation.objects.filter(status__in=ACTIVE).values_list("stack_id", flat=True)
        )
        held = set()
        for s in state:
            if s.dock_ref not in (str(self.dock.pk), self.dock.name):
                continue
            key = registry.resource_type(s.provider, s.type).key_of(s.inputs)
            if key is None:
                continue
            ident = (self.dock.pk, s.type, key)
            held.add((s.stack_id, *ident))
            claim = claims.get(ident)
            assert claim is not None and claim.stack_id == s.stack_id, (
                f"{s.stack.name}/{s.name} ({s.type} {key!r}) is not claimed by its stack: {claim}"
            )
        for ident, claim in claims.items():
            assert (claim.stack_id, *ident) in held or claim.stack_id in active_stacks, (
                f"claim {claim} is held for nothing"
            )
        # 4. nothing left running; no row waiting for an operation that is not coming
        active = dict(Operation.objects.filter(status__in=ACTIVE).values_list("pk", "status"))
        assert set(active) <= self.queued, f"operations left active: {active}"
        assert OperationStatus.RUNNING not in active.values()
        waiting = {
            (op.resource_table, op.resource_id)
            for op in Operation.objects.filter(status__in=ACTIVE)
        }
        for row in rows:
            if row.provisioning_state in (
                ProvisioningState.PROVISIONING,
                ProvisioningState.DEPROVISIONING,
            ):
                assert (TABLE[row.resource_type], row.pk) in waiting, (
                    f"row {row.pk} ({row.name!r}) is {row.provisioning_state} with no operation"
                )
        # a crash leaves nothing uncertain once its operation ended
        for s in state:
            if s.stack_id not in active_stacks:
                assert s.status not in CREATE_UNCERTAIN or s.provider_resource_id, (
                    f"{s.stack.name}/{s.name} is {s.status} after its operation ended"
                )


EXAMPLES = int(os.environ.get("STACKDOCK_PROPERTY_EXAMPLES", "25"))


@pytest.mark.django_db
def test_resource_safety_holds_over_any_sequence(
    owner, sandbox_dock, sandbox, settings, monkeypatch
):
    """See the module docstring: the promises of docs/ENGINE.md over random sequences."""
    from docks import sync as sync_module
    from provisioning.tasks import run_operation

    settings.STACKDOCK_PARALLELISM = 1  # one provider call at a time: the same run every time
    monkeypatch.setattr(SandboxAdapter, "crash", staticmethod(_raise_crash))
    monkeypatch.setattr(sync_module, "NOT_SYNCED", ())  # one org here: sync the sandbox too
    monkeypatch.setattr(run_operation, "delay", lambda *args, **kwargs: None)  # we run them
    ResourceSafety.env = {"actor": actor_of(owner), "dock": sandbox_dock, "sandbox": sandbox}
    run_state_machine_as_test(
        ResourceSafety,
        settings=settings_for(EXAMPLES),
    )


def settings_for(examples: int) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=examples,
        stateful_step_count=25,
        deadline=None,
        derandomize=examples <= 25,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- what the property found, minimised ------------------------------------------------------


def _run_plain(op: Operation) -> Operation:
    assert operation_run(op.pk, worker="test") is not None
    op.refresh_from_db()
    return op


@pytest.mark.django_db
def test_a_delete_cancelled_before_it_ran_leaves_the_row_provisioned(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    """Found by the property: the row stayed ``deprovisioning`` with no operation."""
    from docks.models import Bucket

    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = services.resource_provision(
            actor=actor, dock=sandbox_dock, resource_type="bucket", spec={"name": "alpha"}
        )
    _run_plain(op)
    row = Bucket.objects.get(pk=op.resource_id)
    with django_capture_on_commit_callbacks(execute=False):
        rm = services.resource_delete(actor=actor, table="buckets", row=row)
    services.operation_cancel(actor=actor, operation=rm)
    row.refresh_from_db()
    assert row.provisioning_state == "provisioned"
    assert [r.name for r in sandbox.all()] == ["alpha"]


@pytest.mark.django_db
def test_a_spec_saved_while_a_deploy_waits_is_not_what_that_deploy_applies(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    """Found by the property: the queued deploy applied the spec saved after it was queued,
    whose names it had never claimed (and not the plan it recorded)."""
    actor = actor_of(owner)

    def doc(name: str) -> dict[str, Any]:
        return {
            "name": "s1",
            "resources": {"a": {"dock": "sandbox", "type": "bucket", "properties": {"name": name}}},
        }

    stack = services.stack_save(actor=actor, org=sandbox_dock.org, doc=doc("alpha"))
    with django_capture_on_commit_callbacks(execute=False):
        op = services.stack_deploy(actor=actor, stack=stack)
    stack = services.stack_save(actor=actor, org=sandbox_dock.org, doc=doc("beta"))
    assert _run_plain(op).status == "succeeded", op.error
    assert [r.name for r in sandbox.all()] == ["alpha"]  # what was planned and claimed
    assert [c.key for c in ResourceClaim.objects.filter(stack=stack)] == ["alpha"]
    assert Stack.objects.get(pk=stack.pk).spec == doc("beta")  # for the next deploy
