from __future__ import annotations

import time

import pytest

from provisioning.engine import SpecError

from .conftest import doc, res


def actions(plan) -> dict[str, str]:
    return {c.resource: c.action for c in plan.changes}


def test_plan_of_a_new_stack_creates_everything_in_dependency_order(make_orch, parse) -> None:
    stack = parse(doc(web=res("web-service", name="${db.name}-web"), db=res("database", name="d")))
    plan = make_orch().plan(stack)
    assert [(c.resource, c.action) for c in plan.changes] == [("db", "create"), ("web", "create")]
    assert plan.changes[0].diff == {"name": {"old": None, "new": "d"}}
    assert plan.changes[1].diff == {"name": {"old": None, "new": "(known after apply)"}}
    assert plan.summary == {"create": 2, "update": 0, "replace": 0, "delete": 0, "no-op": 0}


def test_plan_is_read_only(make_orch, parse, store, backend) -> None:
    make_orch().plan(parse(doc(a=res("bucket", name="a"))))
    assert backend.all() == [] and store.load("s") == {}
    assert store.lock_info("s") is None and store.versions("s") == []


def test_plan_after_apply_is_all_no_op(make_orch, parse) -> None:
    stack = parse(doc(db=res("database", name="d"), web=res("server", name="${db.name}-w")))
    orch = make_orch()
    orch.apply(stack, holder="op")
    plan = orch.plan(stack)
    assert actions(plan) == {"db": "no-op", "web": "no-op"}
    assert not plan.has_changes


def test_plan_shows_update_replace_and_delete(make_orch, parse) -> None:
    orch = make_orch()
    orch.apply(
        parse(
            doc(
                a=res("server", name="a", size="s"),
                b=res("server", name="b"),
                c=res("server", name="c"),
                d=res("server", name="d"),
            )
        ),
        holder="op",
    )
    plan = orch.plan(
        parse(
            doc(
                a=res("server", name="a", size="m"),
                b=res("server", name="b2"),
                d=res("server", name="d"),
            )
        )
    )
    assert actions(plan) == {"a": "update", "b": "replace", "c": "delete", "d": "no-op"}
    assert next(c for c in plan.changes if c.resource == "a").diff == {
        "size": {"old": "s", "new": "m"}
    }
    assert plan.summary == {"create": 0, "update": 1, "replace": 1, "delete": 1, "no-op": 1}


def test_plan_marks_outputs_of_replaced_and_updated_resources_unknown(make_orch, parse) -> None:
    orch = make_orch()
    orch.apply(
        parse(
            doc(
                db=res("database", name="d", size="s"),
                web=res("server", name="w", size="${db.size}"),
            )
        ),
        holder="op",
    )
    plan = orch.plan(
        parse(
            doc(
                db=res("database", name="d", size="m"),
                web=res("server", name="w", size="${db.size}"),
            )
        )
    )
    web = next(c for c in plan.changes if c.resource == "web")
    assert web.action == "update"
    assert web.diff == {"size": {"old": "s", "new": "(known after apply)"}}


def test_plan_masks_secret_fields(make_orch, parse) -> None:
    orch = make_orch()
    box = {"dock": "vault", "type": "secret-box"}
    create = orch.plan(
        parse(
            {
                "name": "s",
                "resources": {"v": {**box, "properties": {"name": "v", "password": "hunter2"}}},
            }
        )
    )
    assert create.changes[0].diff["password"] == {"old": None, "new": "********"}
    orch.apply(
        parse(
            {
                "name": "s",
                "resources": {"v": {**box, "properties": {"name": "v", "password": "hunter2"}}},
            }
        ),
        holder="op",
    )
    plan = orch.plan(
        parse(
            {
                "name": "s",
                "resources": {"v": {**box, "properties": {"name": "v", "password": "swordfish"}}},
            }
        )
    )
    assert plan.changes[0].action == "update"
    assert plan.changes[0].diff == {"password": {"old": "********", "new": "********"}}
    assert "hunter2" not in repr(plan) and "swordfish" not in repr(plan)


def test_plan_reports_invalid_resolved_properties_with_their_path(make_orch, parse) -> None:
    orch = make_orch()
    orch.apply(parse(doc(db=res("database", name="d"))), holder="op")  # size is null
    stack = parse(doc(db=res("database", name="d"), web=res("server", name="${db.size}")))
    with pytest.raises(SpecError) as info:
        orch.plan(stack)
    assert info.value.errors[0][0] == "resources.web.properties.name"


def test_targeted_plan_includes_dependencies_only(make_orch, parse) -> None:
    stack = parse(
        doc(
            db=res("database", name="d"),
            web=res("server", name="${db.name}-w"),
            other=res("bucket", name="o"),
        )
    )
    assert actions(make_orch().plan(stack, targets=["web"])) == {"db": "create", "web": "create"}
    with pytest.raises(SpecError, match="unknown resource 'nope'"):
        make_orch().plan(stack, targets=["nope"])


def test_no_op_plan_of_3000_resources_takes_under_half_a_second(make_orch, parse) -> None:
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
    orch = make_orch(on_event=None)
    assert orch.apply(stack, holder="op").summary["created"] == n
    started = time.perf_counter()
    plan = orch.plan(stack)
    elapsed = time.perf_counter() - started
    assert plan.summary["no-op"] == n
    assert elapsed < 0.5, f"no-op plan took {elapsed:.3f}s"


# --- a value equal to the dock's default is not a change -------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from docks.adapters.aws.specs import S3BucketSpec  # noqa: E402
from docks.adapters.base import ResourceType  # noqa: E402
from provisioning.engine.planner import decide, effective  # noqa: E402
from provisioning.engine.spec import ResourceSpec  # noqa: E402
from provisioning.engine.state import ResourceState, ResourceStatus  # noqa: E402

BUCKET = ResourceType(
    name="s3-bucket",
    table="buckets",
    spec_model=S3BucketSpec,
    replace_fields=frozenset({"name", "region"}),
)
REGIONS = st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"])


def _state(inputs):
    return ResourceState(
        name="b",
        type="s3-bucket",
        provider="aws",
        dock="d",
        inputs=inputs,
        status=ResourceStatus.CREATED,
        provider_resource_id="b",
    )


def _res():
    return ResourceSpec(name="b", dock="d", provider="aws", type="s3-bucket")


@given(default=REGIONS, old_says=st.booleans(), new_says=st.booleans())
def test_saying_the_default_region_out_loud_or_not_is_never_a_change(default, old_says, new_says):
    old = {"name": "b", "region": default if old_says else None, "versioning": False}
    new = {"name": "b", "region": default if new_says else None, "versioning": False}
    change = decide(_state(old), _res(), new, BUCKET, {"region": default})
    assert change.action == "no-op", change


@given(default=REGIONS, other=REGIONS)
def test_another_region_than_the_one_a_bucket_is_in_is_a_replace(default, other):
    old = effective({"name": "b", "region": None}, BUCKET, {"region": default})
    change = decide(
        _state(old), _res(), {"name": "b", "region": other}, BUCKET, {"region": default}
    )
    assert change.action == ("no-op" if other == default else "replace")
    if other != default:
        assert change.changes == {"region": (default, other)}


def test_effective_fills_only_fields_the_type_has():
    assert effective({"name": "b"}, BUCKET, {"region": "eu-west-1", "zone": "x"}) == {
        "name": "b",
        "region": "eu-west-1",
    }
