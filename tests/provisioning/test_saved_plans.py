"""Plans are saved and applied as reviewed (docs/ENGINE.md, "What StackDock promises")."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.models import Database
from provisioning.models import Operation, Plan
from provisioning.runner import operation_run
from provisioning.services import (
    stack_deploy,
    stack_plan,
    stack_refresh,
    stack_save,
)
from stackdock.exceptions import Conflict, NotFound, ValidationError

DOC = """
name: web
resources:
  db:
    dock: sandbox
    type: database
    properties: {{name: {name}}}
"""


def run(op):
    assert operation_run(op.pk, worker="test") is not None
    op.refresh_from_db()
    return op


@pytest.fixture
def web(owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=DOC.format(name="one"))
    with django_capture_on_commit_callbacks(execute=False):
        assert run(stack_deploy(actor=actor, stack=stack)).status == "succeeded"
    stack.refresh_from_db()
    return stack


@pytest.mark.django_db
def test_planning_a_draft_never_changes_the_stored_spec(owner, web):
    before = (web.spec, web.spec_text)
    plan = stack_plan(actor=actor_of(owner), stack=web, doc=DOC.format(name="two"))
    web.refresh_from_db()
    assert (web.spec, web.spec_text) == before
    assert plan["summary"]["replace"] == 1 and plan["id"]
    assert Plan.objects.get(pk=plan["id"]).spec["resources"]["db"]["properties"] == {"name": "two"}


@pytest.mark.django_db
def test_deploying_a_plan_applies_exactly_its_spec_and_makes_it_the_stack_spec(
    owner, web, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    plan = stack_plan(actor=actor, stack=web, doc=DOC.format(name="two"))
    with django_capture_on_commit_callbacks(execute=False):
        op = stack_deploy(actor=actor, stack=web, plan=plan["id"])
    assert op.plan["id"] == plan["id"] and op.plan["summary"] == plan["summary"]
    assert run(op).status == "succeeded"
    assert [r.name for r in sandbox.all()] == ["two"]
    web.refresh_from_db()
    assert web.spec["resources"]["db"]["properties"] == {"name": "two"}
    with pytest.raises(Conflict, match="already deployed"):
        stack_deploy(actor=actor, stack=web, plan=plan["id"])


STALERS = {
    "the spec was saved": lambda actor, stack: stack_save(
        actor=actor, org=stack.org, doc=DOC.format(name="three")
    ),
    "another plan was deployed": lambda actor, stack: run(
        stack_deploy(
            actor=actor,
            stack=stack,
            plan=stack_plan(actor=actor, stack=stack, doc=DOC.format(name="four"))["id"],
        )
    ),
    "a deploy without a plan ran": lambda actor, stack: (
        stack_save(actor=actor, org=stack.org, doc=DOC.format(name="five")),
        run(stack_deploy(actor=actor, stack=stack)),
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("what", STALERS)
def test_a_plan_is_stale_once_the_spec_or_state_changed(
    owner, web, sandbox, django_capture_on_commit_callbacks, what
):
    actor = actor_of(owner)
    plan = stack_plan(actor=actor, stack=web, doc=DOC.format(name="two"))
    with django_capture_on_commit_callbacks(execute=False):
        STALERS[what](actor, web)
    web.refresh_from_db()
    spec, operations, resources = web.spec, Operation.objects.count(), sandbox.all()
    with pytest.raises(Conflict) as info:
        stack_deploy(actor=actor, stack=web, plan=plan["id"])
    assert "stale" in str(info.value) and "Plan again" in str(info.value)
    web.refresh_from_db()
    assert (web.spec, Operation.objects.count(), sandbox.all()) == (spec, operations, resources)


@pytest.mark.django_db
def test_a_refresh_that_records_drift_makes_a_plan_stale(
    owner, web, sandbox, django_capture_on_commit_callbacks
):
    from dataclasses import replace

    actor = actor_of(owner)
    plan = stack_plan(actor=actor, stack=web)
    record = sandbox.all()[0]
    sandbox.update(replace(record, size="huge"))
    with django_capture_on_commit_callbacks(execute=False):
        assert run(stack_refresh(actor=actor, stack=web)).status == "succeeded"
    with pytest.raises(Conflict, match="state changed"):
        stack_deploy(actor=actor, stack=web, plan=plan["id"])


@pytest.mark.django_db
def test_an_unknown_or_foreign_plan_is_refused(owner, web, sandbox_dock, org):
    actor = actor_of(owner)
    with pytest.raises(NotFound):
        stack_deploy(actor=actor, stack=web, plan=999999)
    with pytest.raises(ValidationError) as info:
        stack_deploy(actor=actor, stack=web, plan="latest")
    assert "plan" in info.value.fields
    other = stack_save(actor=actor, org=org, doc=DOC.format(name="x").replace("web", "other"))
    foreign = stack_plan(actor=actor, stack=other)
    with pytest.raises(NotFound):
        stack_deploy(actor=actor, stack=web, plan=foreign["id"])


@pytest.mark.django_db
def test_a_deploy_without_a_plan_records_the_plan_it_applied(
    owner, web, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack_save(actor=actor, org=web.org, doc=DOC.format(name="two"))
    with django_capture_on_commit_callbacks(execute=False):
        op = stack_deploy(actor=actor, stack=web)
    saved = Plan.objects.get(operation=op)
    assert op.plan == {"id": saved.pk, "changes": saved.changes, "summary": saved.summary}
    assert saved.summary["replace"] == 1
    assert Database.objects.get().name == "one"  # nothing applied yet
