"""The audit log: redaction, append-only, hash chain verification."""

from __future__ import annotations

import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit import services as audit_services
from audit.chain import event_mac
from audit.models import AuditChainHead, AuditEvent
from audit.services import CENSOR, audit_log, redact
from audit.verify import verify_chain
from conftest import actor_of


def test_redact_censors_secret_keys_recursively():
    data = {
        "name": "web",
        "password": "p",
        "nested": {"api_token": "t", "items": [{"secret_access_key": "s", "ok": 1}]},
        "Authorization": "Bearer x",
    }
    assert redact(data) == {
        "name": "web",
        "password": CENSOR,
        "nested": {"api_token": CENSOR, "items": [{"secret_access_key": CENSOR, "ok": 1}]},
        "Authorization": CENSOR,
    }


@pytest.mark.django_db
def test_audit_log_records_actor_target_and_redacted_metadata(org, owner):
    event = audit_log(
        actor=actor_of(owner),
        org=org,
        operation="dock.create",
        target=org,
        metadata={"provider": "aws", "credentials": {"secret": "x"}},
    )
    event.refresh_from_db()
    assert event.actor_repr == "owner@acme.test"
    assert event.actor_type == "user"
    assert event.target_type == "stackdock.organization"
    assert event.target_repr == "acme"
    assert event.metadata == {"provider": "aws", "credentials": CENSOR}


@pytest.mark.django_db
def test_audit_is_written_inside_the_callers_transaction(org, owner):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_log(actor=actor_of(owner), org=org, operation="x.y")
        raise RuntimeError("roll back")
    assert not AuditEvent.objects.filter(operation="x.y").exists()


@pytest.mark.django_db
def test_events_cannot_be_updated_or_deleted_through_the_orm(org, owner):
    event = audit_log(actor=actor_of(owner), org=org, operation="a.b")
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(operation="c.d")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()


def _chain(org, owner, n=5):
    return [audit_log(actor=actor_of(owner), org=org, operation=f"op.{i}") for i in range(n)]


@pytest.mark.django_db
def test_intact_chain_verifies(org, owner):
    _chain(org, owner)
    assert verify_chain(org=org) is None
    call_command("audit_verify", "--org", org.slug)


def _raw_update(event_id: int, column: str, value: str) -> None:
    with connection.cursor() as cur:
        cur.execute(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, event_id])


def _as_dba(sql: str, params: list) -> None:
    """Edit behind the application's back, as someone with the database's owner rights
    (on PostgreSQL that means switching the append-only trigger off first)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cur.execute(sql, params)
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")


@pytest.mark.django_db
def test_verify_names_the_first_edited_event(org, owner):
    events = _chain(org, owner)
    _as_dba("UPDATE audit_auditevent SET actor_repr = %s WHERE id = %s", ["x", events[2].pk])
    problem = verify_chain(org=org)
    assert problem is not None and problem.event_id == events[2].pk
    assert "contents were changed" in problem.reason
    with pytest.raises(CommandError, match=f"audit event {events[2].pk} "):
        call_command("audit_verify")


@pytest.mark.django_db
def test_verify_detects_a_deleted_event(org, owner):
    events = _chain(org, owner)
    _as_dba("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    problem = verify_chain(org=org)
    assert problem is not None and problem.event_id == events[2].pk


@pytest.mark.django_db
def test_postgres_trigger_refuses_update_and_delete(org, owner):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    event = audit_log(actor=actor_of(owner), org=org, operation="a.b")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        _raw_update(event.pk, "operation", "forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).operation == "a.b"


@pytest.mark.django_db
def test_chains_are_per_org(org, owner, other_org, outsider):
    a = audit_log(actor=actor_of(owner), org=org, operation="x")
    b = audit_log(actor=actor_of(outsider), org=other_org, operation="x")
    assert a.chain != b.chain
    assert a.seq == b.seq


@pytest.mark.django_db
def test_audit_events_visible_only_to_their_org_with_audit_read(org, owner, viewer, outsider):
    audit_log(actor=actor_of(owner), org=org, operation="x")
    assert AuditEvent.objects.visible_to(actor_of(owner), "audit").count() >= 1
    assert not AuditEvent.objects.visible_to(actor_of(viewer), "audit").exists()
    assert not AuditEvent.objects.visible_to(actor_of(outsider), "audit").filter(org=org).exists()


# --- lanes: several chains per organization ----------------------------------------------


def _in_lane(lane: int, monkeypatch, org, owner, n: int = 3):
    monkeypatch.setattr(audit_services._thread, "lane", lane, raising=False)
    return _chain(org, owner, n)


@pytest.mark.django_db
def test_writers_in_other_lanes_append_to_chains_of_their_own(org, owner, monkeypatch):
    first = _in_lane(2, monkeypatch, org, owner)
    second = _in_lane(5, monkeypatch, org, owner)
    assert {e.chain for e in first} == {f"org:{org.pk}:2"}
    assert {e.chain for e in second} == {f"org:{org.pk}:5"}
    assert [e.seq for e in second] == [1, 2, 3]  # not queued behind the other lane
    assert verify_chain(org=org) is None


@pytest.mark.django_db
def test_one_thread_keeps_one_lane_so_a_transaction_locks_one_chain_head(org, owner):
    with transaction.atomic():
        events = _chain(org, owner, 4)
    assert len({e.chain for e in events}) == 1
    assert [e.seq for e in events] == [1, 2, 3, 4]


@pytest.mark.django_db
def test_verify_checks_every_lane_of_the_organization(org, owner, monkeypatch):
    _in_lane(1, monkeypatch, org, owner)
    edited = _in_lane(9, monkeypatch, org, owner)
    _as_dba("UPDATE audit_auditevent SET operation = %s WHERE id = %s", ["x", edited[1].pk])
    problem = verify_chain(org=org)
    assert problem is not None and problem.event_id == edited[1].pk


@pytest.mark.django_db
def test_the_tail_of_any_lane_cannot_be_cut_unnoticed(org, owner, monkeypatch):
    _in_lane(3, monkeypatch, org, owner)
    cut = _in_lane(4, monkeypatch, org, owner)
    _as_dba("DELETE FROM audit_auditevent WHERE id = %s", [cut[-1].pk])
    problem = verify_chain(org=org)
    assert problem is not None and "missing" in problem.reason and problem.chain.endswith(":4")


@pytest.mark.django_db
def test_a_chain_written_before_lanes_is_still_verified(org, owner, monkeypatch):
    monkeypatch.setattr(audit_services, "_chain_for", lambda org_id: f"org:{org_id}")
    legacy = _chain(org, owner, 3)
    monkeypatch.undo()
    _chain(org, owner, 2)
    assert verify_chain(org=org) is None
    _as_dba("UPDATE audit_auditevent SET operation = %s WHERE id = %s", ["x", legacy[0].pk])
    problem = verify_chain(org=org)
    assert problem is not None and problem.event_id == legacy[0].pk


@pytest.mark.django_db
def test_verifying_one_organization_reads_none_of_another(org, owner, other_org, outsider):
    _chain(org, owner, 2)
    bad = audit_log(actor=actor_of(outsider), org=other_org, operation="x")
    _as_dba("UPDATE audit_auditevent SET operation = %s WHERE id = %s", ["y", bad.pk])
    assert verify_chain(org=org) is None
    assert verify_chain(org=other_org).event_id == bad.pk


def test_a_forked_process_picks_its_own_lane(monkeypatch):
    monkeypatch.setattr(audit_services._thread, "lane", 3, raising=False)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: what lane would it write to?
        os.write(write, str(getattr(audit_services._thread, "lane", "none")).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"none"
    assert audit_services._lane() == 3  # the parent keeps its own


@pytest.mark.django_db
def test_the_chain_head_follows_each_event(org, owner):
    first, second = _chain(org, owner, 2)
    head = AuditChainHead.objects.get(chain=second.chain)
    assert (head.seq, head.hash) == (2, second.hash)
    assert second.prev_hash == first.hash
    assert abs((head.updated_at - second.created_at).total_seconds()) < 1


AWKWARD = {
    "quote": 'say "hi" \\ back',
    "percent": "100% %s %(x)s",
    "unicode": "Zürich ✓ 雲",
    "nested": {"list": [1, 2.5, None, True], "empty": {}},
    "seq": 7,
    "prev_hash": "looks like a field",
}


@pytest.mark.django_db
def test_an_event_hashes_the_same_as_verify_recomputes_it_whatever_it_holds(org, owner):
    events = [
        audit_log(actor=actor_of(owner), org=org, operation="odd.data", metadata=AWKWARD),
        audit_log(actor=None, org=None, operation="global.thing", target=("kind", "1", "x")),
    ]
    for event in events:
        stored = AuditEvent.objects.get(pk=event.pk)
        assert (stored.seq, stored.prev_hash, stored.hash) == (
            event.seq,
            event.prev_hash,
            event.hash,
        )
        assert event_mac(stored) == stored.hash
    assert events[0].metadata == AWKWARD
    assert verify_chain(org=org) is None
    assert verify_chain() is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_to_one_chain_keep_it_whole(org, owner, monkeypatch):
    """Threads appending to the same lane at once: every number once, hashes linked."""
    import threading

    from django.db import connections

    monkeypatch.setattr(audit_services, "_lane", lambda: 3)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                with transaction.atomic():
                    audit_log(actor=None, org=org, operation=f"w{n}.{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    chain = f"org:{org.pk}:3"
    seqs = list(
        AuditEvent.objects.filter(chain=chain).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, 41))
    assert verify_chain(org=org) is None
