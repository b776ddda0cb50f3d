"""Authority covers everything an operation touches (issue 15 rule 5): a grant on some
docks is never used on others, whatever the new spec mentions."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.services import dock_grant
from provisioning.models import Operation
from provisioning.runner import operation_run
from provisioning.services import stack_deploy, stack_destroy, stack_plan, stack_refresh, stack_save
from stackdock.exceptions import PermissionDenied
from tests.factories import DockFactory

BOTH = """
name: web
resources:
  a: {dock: dock-a, type: bucket, properties: {name: on-a}}
  b: {dock: dock-b, type: bucket, properties: {name: on-b}}
"""
ONLY_A = """
name: web
resources:
  a: {dock: dock-a, type: bucket, properties: {name: on-a}}
"""


def run(op):
    assert operation_run(op.pk, worker="test") is not None
    op.refresh_from_db()
    return op


@pytest.fixture
def deployed(owner, developer, org, sandbox, django_capture_on_commit_callbacks):
    """A stack with a bucket on dock A and one on dock B, deployed by the owner; the
    developer may provision on dock A only."""
    dock_a = DockFactory(org=org, name="dock-a", provider="sandbox")
    DockFactory(org=org, name="dock-b", provider="sandbox")
    dock_grant(actor=actor_of(owner), dock=dock_a, membership=developer, perm="provision_dock")
    stack = stack_save(actor=actor_of(owner), org=org, doc=BOTH)
    with django_capture_on_commit_callbacks(execute=False):
        assert run(stack_deploy(actor=actor_of(owner), stack=stack)).status == "succeeded"
    return stack


ACTS = {
    # the new spec names dock A only; the plan deletes the bucket on dock B
    "deploy dropping B": lambda dev, stack: stack_deploy(
        actor=dev, stack=stack_save(actor=dev, org=stack.org, doc=ONLY_A)
    ),
    "deploy of a plan dropping B": lambda dev, stack: stack_deploy(
        actor=dev,
        stack=stack,
        plan=stack_plan(actor=dev, stack=stack, doc=ONLY_A)["id"],
    ),
    "destroy": lambda dev, stack: stack_destroy(actor=dev, stack=stack),
    "destroy of A only": lambda dev, stack: stack_destroy(actor=dev, stack=stack, targets=["a"]),
    "refresh": lambda dev, stack: stack_refresh(actor=dev, stack=stack),
}


@pytest.mark.django_db
@pytest.mark.parametrize("act", ACTS)
def test_a_grant_on_one_dock_does_not_reach_the_resources_on_another(
    deployed, developer, owner, sandbox, act, django_capture_on_commit_callbacks
):
    before = (Operation.objects.count(), sorted(r.name for r in sandbox.all()))
    with pytest.raises(PermissionDenied):
        with django_capture_on_commit_callbacks(execute=False):
            ACTS[act](actor_of(developer), deployed)
    assert (Operation.objects.count(), sorted(r.name for r in sandbox.all())) == before
    assert sorted(before[1]) == ["on-a", "on-b"]


@pytest.mark.django_db
def test_the_same_acts_are_allowed_with_a_grant_on_every_dock_reached(
    deployed, developer, owner, sandbox, org, django_capture_on_commit_callbacks
):
    from docks.models import Dock

    dock_grant(
        actor=actor_of(owner),
        dock=Dock.objects.get(name="dock-b"),
        membership=developer,
        perm="provision_dock",
    )
    dev = actor_of(developer)
    with django_capture_on_commit_callbacks(execute=False):
        op = ACTS["deploy of a plan dropping B"](dev, deployed)
    assert run(op).status == "succeeded"
    assert [r.name for r in sandbox.all()] == ["on-a"]


@pytest.mark.django_db
def test_every_dock_the_new_spec_names_is_reached_even_where_nothing_changes(
    deployed, developer, sandbox
):
    dev = actor_of(developer)
    plan = stack_plan(actor=dev, stack=deployed, doc=BOTH.replace("name: on-a", "name: on-a-2"))
    assert plan["summary"]["replace"] == 1 and plan["summary"]["no-op"] == 1
    with pytest.raises(PermissionDenied):  # b is a no-op on dock B, but the spec names B
        stack_deploy(actor=dev, stack=deployed, plan=plan["id"])
