from __future__ import annotations

import pytest

from provisioning.engine import SpecError

from .conftest import assert_consistent, doc, res


def three_tier(parse):
    return parse(
        doc(
            db=res("database", name="db"),
            api=res("server", name="${db.name}-api"),
            web=res("web-service", name="${api.name}-web"),
            solo=res("bucket", name="solo"),
        )
    )


def test_destroy_deletes_dependents_first(recording_orch, parse, recorder, store, backend) -> None:
    orch = recording_orch()
    orch.apply(three_tier(parse), holder="op")
    result = orch.destroy("s", holder="op")
    assert result.status == "succeeded" and result.summary["deleted"] == 4
    deletes = recorder.ops("delete")
    assert deletes.index("db-api-web") < deletes.index("db-api") < deletes.index("db")
    assert recorder.index("end", "delete", "db-api") < recorder.index("start", "delete", "db")
    assert backend.all() == [] and store.load("s") == {}
    assert result.version == 2


def test_destroy_forgets_retained_resources(make_orch, parse, store, backend) -> None:
    orch = make_orch()
    orch.apply(
        parse(
            doc(
                keep=res("bucket", name="keep", _extra={"deletion_policy": "retain"}),
                go=res("bucket", name="go"),
            )
        ),
        holder="op",
    )
    result = orch.destroy("s", holder="op")
    assert result.summary["retained"] == 1 and result.summary["deleted"] == 1
    assert store.load("s") == {}
    assert [r.name for r in backend.all()] == ["keep"]


def test_targeted_destroy_includes_dependents(make_orch, parse, store, backend) -> None:
    orch = make_orch()
    orch.apply(three_tier(parse), holder="op")
    result = orch.destroy("s", holder="op", targets=["api"])
    assert result.summary["deleted"] == 2
    assert set(store.load("s")) == {"db", "solo"}
    assert {r.name for r in backend.all()} == {"db", "solo"}
    with pytest.raises(SpecError, match="unknown resource 'nope'"):
        orch.destroy("s", holder="op", targets=["nope"])
    assert store.lock_info("s") is None


def test_destroy_failure_stops_and_keeps_state_true(make_orch, parse, store, backend) -> None:
    orch = make_orch()
    orch.apply(parse(doc(a=res("server", name="a", fail="transient"))), holder="op")
    result = make_orch(max_attempts=1).destroy("s", holder="op")
    assert result.status == "failed"
    assert_consistent(store, backend, "s")
    assert make_orch().destroy("s", holder="op").status == "succeeded"
    assert backend.all() == []


def test_refresh_records_drift_and_never_changes_the_provider(
    recording_orch, parse, recorder, store, backend
) -> None:
    orch = recording_orch()
    orch.apply(
        parse(doc(a=res("server", name="a", size="s"), b=res("bucket", name="b"))), holder="op"
    )
    a_id = store.load("s")["a"].provider_resource_id
    backend.tamper(a_id, size="xl")
    recorder.calls.clear()
    result = orch.refresh("s", holder="op")
    assert result.status == "succeeded"
    assert result.drift == {"a": {"size": {"old": "s", "new": "xl"}}}
    assert {op for _, op, _ in recorder.calls} == {"read"}
    assert store.load("s")["a"].outputs["size"] == "xl"
    # the next plan shows the way back to the spec
    plan = orch.plan(parse(doc(a=res("server", name="a", size="s"), b=res("bucket", name="b"))))
    assert {c.resource: c.action for c in plan.changes} == {"a": "update", "b": "no-op"}


def test_refresh_reports_a_resource_gone_at_the_provider_and_forgets_it(
    make_orch, parse, store, backend
) -> None:
    orch = make_orch()
    orch.apply(parse(doc(a=res("server", name="a"))), holder="op")
    backend.delete(store.load("s")["a"].provider_resource_id)
    result = orch.refresh("s", holder="op")
    assert result.drift == {"a": {"__exists__": {"old": True, "new": False}}}
    assert store.load("s") == {}
    assert orch.plan(parse(doc(a=res("server", name="a")))).changes[0].action == "create"
    assert store.lock_info("s") is None and result.version == 2
