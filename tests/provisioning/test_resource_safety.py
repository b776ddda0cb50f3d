"""What StackDock promises about your resources (docs/ENGINE.md), through the
services and the worker's code path on the sandbox provider."""

from __future__ import annotations

import pytest

from conftest import actor_of
from docks.models import Bucket, Database
from provisioning.runner import operation_run
from provisioning.services import resource_provision, resource_update, stack_deploy, stack_save


def run(op):
    assert operation_run(op.pk, worker="test") is not None
    op.refresh_from_db()
    return op


@pytest.mark.django_db
def test_replacing_a_single_resource_keeps_its_row(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = resource_provision(
            actor=actor, dock=sandbox_dock, resource_type="bucket", spec={"name": "logs"}
        )
    run(op)
    row = Bucket.objects.get(pk=op.resource_id)
    old_id = row.provider_resource_id
    with django_capture_on_commit_callbacks(execute=False):
        up = resource_update(
            actor=actor, table="buckets", row=row, changes={"name": "logs-2"}, confirm="replace"
        )
    assert run(up).status == "succeeded", up.error
    row.refresh_from_db()  # the same row: same id, new provider id, still managed
    assert row.name == "logs-2" and row.provider_resource_id != old_id
    assert (row.provisioning_source, row.provisioning_state) == ("api", "provisioned")
    assert [r.name for r in sandbox.all()] == ["logs-2"]


STACK = """
name: web
resources:
  db:
    dock: sandbox
    type: database
    properties: {{name: {name}}}
"""


@pytest.mark.django_db
def test_replacing_a_stack_resource_keeps_its_row(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK.format(name="app-db"))
    with django_capture_on_commit_callbacks(execute=False):
        op = stack_deploy(actor=actor, stack=stack)
    assert run(op).status == "succeeded"
    row = Database.objects.get()
    stack = stack_save(actor=actor, org=sandbox_dock.org, doc=STACK.format(name="app-db-2"))
    with django_capture_on_commit_callbacks(execute=False):
        op = stack_deploy(actor=actor, stack=stack)
    assert run(op).status == "succeeded", op.error
    assert Database.objects.get().pk == row.pk
    assert Database.objects.get().name == "app-db-2"
    assert [r.name for r in sandbox.all()] == ["app-db-2"]


# --- one manager per provider resource --------------------------------------------------

from provisioning.models import Operation, ResourceClaim  # noqa: E402
from provisioning.services import resource_delete  # noqa: E402
from stackdock.exceptions import Conflict, ValidationError  # noqa: E402

BUCKET_STACK = """
name: {stack}
resources:
  assets:
    dock: sandbox
    type: bucket
    properties: {{name: {name}}}
"""


def _by_single(actor, dock, name):
    return resource_provision(actor=actor, dock=dock, resource_type="bucket", spec={"name": name})


def _by_stack(actor, dock, name, stack="site"):
    saved = stack_save(actor=actor, org=dock.org, doc=BUCKET_STACK.format(stack=stack, name=name))
    return stack_deploy(actor=actor, stack=saved)


def _by_rename(actor, dock, name):
    """A single resource of another name (made now), renamed to ``name`` (by the
    returned callable)."""
    op = _by_single(actor, dock, "other-name")
    run(op)
    row = Bucket.objects.get(pk=op.resource_id)
    return lambda: resource_update(
        actor=actor, table="buckets", row=row, changes={"name": name}, confirm="replace"
    )


FIRST = {"single provision": _by_single, "stack deploy": _by_stack}
#: each prepares what it needs, then returns the act to refuse
SECOND = {
    "single provision": lambda a, d, n: lambda: _by_single(a, d, n),
    "stack deploy": lambda a, d, n: lambda: _by_stack(a, d, n, stack="other"),
    "single rename": _by_rename,
}


@pytest.mark.django_db
@pytest.mark.parametrize("first", FIRST)
@pytest.mark.parametrize("second", SECOND)
@pytest.mark.parametrize("first_ran", [False, True], ids=["first queued", "first done"])
def test_a_name_one_record_manages_is_refused_to_every_other_before_anything_is_queued(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks, first, second, first_ran
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = FIRST[first](actor, sandbox_dock, "shared")
    if first_ran:
        assert run(op).status == "succeeded", op.error
    with django_capture_on_commit_callbacks(execute=False):
        act = SECOND[second](actor, sandbox_dock, "shared")
    operations, rows = Operation.objects.count(), Bucket.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        with pytest.raises(Conflict) as info:
            act()
    message = str(info.value)
    assert "'shared'" in message and "already managed by StackDock" in message
    if first == "stack deploy":
        assert "stack 'site'" in message
    else:
        assert "provisioned alone" in message and "buckets row" in message
    if not first_ran:
        assert f"operation {op.pk}" in message
    assert (Operation.objects.count(), Bucket.objects.count()) == (operations, rows)
    assert queued == []
    assert ResourceClaim.objects.filter(key="shared").count() == 1


@pytest.mark.django_db
def test_a_name_is_free_again_once_its_manager_failed_or_deleted_it(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        failed = resource_provision(
            actor=actor,
            dock=sandbox_dock,
            resource_type="bucket",
            spec={"name": "b1", "fail": "permanent"},
        )
    assert run(failed).status == "failed"
    assert not ResourceClaim.objects.exists()  # nothing was made: nothing is held
    with django_capture_on_commit_callbacks(execute=False):
        made = _by_single(actor, sandbox_dock, "b1")
    assert run(made).status == "succeeded"
    row = Bucket.objects.get(pk=made.resource_id)
    with django_capture_on_commit_callbacks(execute=False):
        gone = resource_delete(actor=actor, table="buckets", row=row)
    assert run(gone).status == "succeeded"
    assert not ResourceClaim.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        again = _by_stack(actor, sandbox_dock, "b1")
    assert run(again).status == "succeeded"


@pytest.mark.django_db
def test_a_replace_releases_the_old_name(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = _by_single(actor, sandbox_dock, "old")
    run(op)
    row = Bucket.objects.get(pk=op.resource_id)
    with django_capture_on_commit_callbacks(execute=False):
        up = resource_update(
            actor=actor, table="buckets", row=row, changes={"name": "new"}, confirm="replace"
        )
    assert run(up).status == "succeeded"
    assert list(ResourceClaim.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db
def test_a_name_sync_found_at_the_provider_is_refused_naming_the_row(
    owner, sandbox_dock, django_capture_on_commit_callbacks
):
    found = Bucket.objects.create(
        org=sandbox_dock.org,
        dock=sandbox_dock,
        provider="sandbox",
        resource_type="bucket",
        name="theirs",
        provider_resource_id="bkt-theirs",
        provisioning_source="manual",
    )
    for make in (_by_single, _by_stack):
        with pytest.raises(Conflict) as info:
            make(actor_of(owner), sandbox_dock, "theirs")
        assert f"buckets row {found.pk}" in str(info.value) and "Import it" in str(info.value)
    assert not Operation.objects.exists() and not ResourceClaim.objects.exists()


@pytest.mark.django_db
def test_two_resources_of_one_stack_naming_the_same_bucket_are_refused(owner, sandbox_dock):
    doc = """
name: twice
resources:
  a: {dock: sandbox, type: bucket, properties: {name: same}}
  b: {dock: sandbox, type: bucket, properties: {name: same}}
"""
    stack = stack_save(actor=actor_of(owner), org=sandbox_dock.org, doc=doc)
    with pytest.raises(ValidationError) as info:
        stack_deploy(actor=actor_of(owner), stack=stack)
    assert "'a' and 'b' both name bucket 'same'" in str(info.value)


# --- destructive changes are shown and confirmed ---------------------------------------

from stackdock.exceptions import ConfirmationRequired  # noqa: E402


@pytest.mark.django_db
def test_an_update_that_would_replace_is_refused_with_its_plan_until_confirmed(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = _by_single(actor, sandbox_dock, "keep")
    run(op)
    row = Bucket.objects.get(pk=op.resource_id)
    before = (Operation.objects.count(), sandbox.all())
    with pytest.raises(ConfirmationRequired) as info:
        resource_update(actor=actor, table="buckets", row=row, changes={"name": "other"})
    assert info.value.fields == {
        "confirm": ["required: this update replaces the resource (name cannot change in place)"]
    }
    [change] = info.value.plan["changes"]
    assert change["action"] == "replace" and change["forces_replace"] == ["name"]
    assert change["resource"] == "keep"  # the resource's own name, not an internal one
    assert change["diff"]["name"] == {"old": "keep", "new": "other"}
    assert (Operation.objects.count(), sandbox.all()) == before  # nothing queued or changed
    with pytest.raises(ValidationError) as bad:
        resource_update(
            actor=actor, table="buckets", row=row, changes={"name": "other"}, confirm="yes"
        )
    assert "confirm" in bad.value.fields
    with django_capture_on_commit_callbacks(execute=False):
        up = resource_update(
            actor=actor, table="buckets", row=row, changes={"name": "other"}, confirm="replace"
        )
    assert up.plan["summary"]["replace"] == 1
    assert run(up).status == "succeeded"


@pytest.mark.django_db
def test_an_update_in_place_needs_no_confirmation_and_records_its_plan(
    owner, sandbox_dock, sandbox, django_capture_on_commit_callbacks
):
    actor = actor_of(owner)
    with django_capture_on_commit_callbacks(execute=False):
        op = _by_single(actor, sandbox_dock, "keep")
    run(op)
    row = Bucket.objects.get(pk=op.resource_id)
    with django_capture_on_commit_callbacks(execute=False):
        up = resource_update(actor=actor, table="buckets", row=row, changes={"size": "large"})
    assert up.plan["summary"]["update"] == 1 and up.plan["summary"]["replace"] == 0
    assert run(up).status == "succeeded"
    assert sandbox.all()[0].name == "keep" and sandbox.all()[0].id == row.provider_resource_id
