"""Forging the audit log with SQL, class by class: every forgery is found.

Each case builds the same log (three lanes of one organization, a checkpoint of its
lane register, more events after it, another organization and the global scope as
bystanders), then edits its own copy of it - the test's transaction, rolled back
afterwards - directly with SQL, as someone with the database owner's rights but
without ``STACKDOCK_AUDIT_KEYS`` (on PostgreSQL: switching the append-only triggers
off first). The classes are generated: every column of an event edited at every
position, deletions at every position with and without moving the head back, whole
lanes, inserted events and chains, chains re-hashed with the old plain SHA-256 or
an attacker's own key, and the lane register itself. Runs on PostgreSQL and SQLite.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from audit import services as audit_services
from audit.chain import GENESIS, event_mac, head_mac, legacy_hash, record_mac, register_of
from audit.models import AuditChainHead, AuditEvent, AuditLaneRecord
from audit.services import audit_checkpoint, audit_log
from audit.verify import problems, verify_chain
from conftest import actor_of
from stackdock.utils.rows import db_time

#: lanes of the organization under attack and how many events each gets before the
#: checkpoint; lane 4 gets AFTER more events after it
LANES = {1: 3, 4: 4, 9: 2}
AFTER = 2


@dataclass
class Log:
    org: Any
    other: Any
    scope: str
    lanes: dict[int, list[AuditEvent]]
    snapshots: dict[str, tuple[int, str, str, str]] = field(default_factory=dict)

    def lane(self, n: int) -> str:
        return f"{self.scope}:{n}"

    def event(self, lane: int, seq: int) -> AuditEvent:
        return AuditEvent.objects.get(chain=self.lane(lane), seq=seq)


def _in_lane(monkeypatch: Any, lane: int) -> None:
    monkeypatch.setattr(audit_services._thread, "lane", lane, raising=False)


def _head_row(chain: str) -> tuple[int, str, str, str]:
    head = AuditChainHead.objects.get(chain=chain)
    return head.seq, head.hash, head.key_id, head.mac


@pytest.fixture
def log(org, owner, other_org, outsider, monkeypatch) -> Log:
    scope = f"org:{org.pk}"
    lanes: dict[int, list[AuditEvent]] = {}
    for lane, count in LANES.items():
        _in_lane(monkeypatch, lane)
        lanes[lane] = [
            audit_log(actor=actor_of(owner), org=org, operation=f"op.{lane}.{i}", metadata={"i": i})
            for i in range(count)
        ]
    # an attacker's copy of lane 4's head before its last pre-checkpoint event
    snapshots = {"4-old": _snapshot_before_last(f"{scope}:4", lanes[4])}
    assert audit_checkpoint(scope=scope) is not None
    _in_lane(monkeypatch, 4)
    lanes[4] += [
        audit_log(actor=actor_of(owner), org=org, operation=f"late.{i}") for i in range(AFTER)
    ]
    _in_lane(monkeypatch, 2)
    for i in range(3):
        audit_log(actor=actor_of(outsider), org=other_org, operation=f"other.{i}")
        audit_log(actor=None, org=None, operation=f"global.{i}")
    monkeypatch.undo()
    result = Log(org=org, other=other_org, scope=scope, lanes=lanes, snapshots=snapshots)
    assert verify_chain(org=org) is None and verify_chain() is None
    return result


def _snapshot_before_last(chain: str, events: list[AuditEvent]) -> tuple[int, str, str, str]:
    """The head row as it was before the lane's last event (seq, hash, key id, mac)."""
    prev = events[-2]
    return prev.seq, prev.hash, prev.key_id, head_mac(chain, prev.seq, prev.hash, prev.key_id)


# --- the attacker's tools: SQL as the database owner ---------------------------------

TRIGGERS = {
    "audit_auditevent": "audit_auditevent_append_only",
    "audit_auditlanerecord": "audit_auditlanerecord_append_only",
}


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for table, trigger in TRIGGERS.items():
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        cur.execute(statement, params or [])
        if connection.vendor == "postgresql":
            for table, trigger in TRIGGERS.items():
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def set_event(event_id: int, **values: Any) -> None:
    for column, value in values.items():
        sql(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, event_id])  # noqa: S608


def set_head(
    chain: str, seq: int, hash_: str, key_id: str | None = None, mac: str | None = None
) -> None:
    head = AuditChainHead.objects.get(chain=chain)
    sql(
        "UPDATE audit_auditchainhead SET seq = %s, hash = %s, key_id = %s, mac = %s WHERE chain = %s",
        [seq, hash_, key_id or head.key_id, mac if mac is not None else head.mac, chain],
    )


def insert_copy(source: AuditEvent, **changes: Any) -> AuditEvent:
    """An event inserted without the audit service: a copy of ``source`` with changes,
    its hash the plain SHA-256 of its text (what anyone can compute)."""
    new = AuditEvent(
        **{f.attname: getattr(source, f.attname) for f in AuditEvent._meta.concrete_fields}
    )
    new.pk = None
    for name, value in changes.items():
        setattr(new, name, value)
    new.hash = changes.get("hash") or legacy_hash(new)
    AuditEvent.objects.bulk_create([new])
    return new


ATTACKER_KEY = "dev:" + base64.b64encode(hashlib.sha256(b"not the real key").digest()).decode()


def resign_with_attacker_key(settings: Any, log: Log, chains: list[str], *, register: bool) -> None:
    """Recompute every signature of ``chains`` (and of the register) under a key the
    attacker made up, with the real key's id."""
    real = settings.STACKDOCK_AUDIT_KEYS
    settings.STACKDOCK_AUDIT_KEYS = ATTACKER_KEY
    try:
        for chain in chains:
            prev = GENESIS
            last = 0
            for event in AuditEvent.objects.filter(chain=chain).order_by("seq"):
                event.prev_hash = prev
                event.hash = event_mac(event)
                set_event(event.pk, prev_hash=event.prev_hash, hash=event.hash)
                prev, last = event.hash, event.seq
            set_head(chain, last, prev, mac=head_mac(chain, last, prev, "dev"))
        if register:
            prev = GENESIS
            for record in AuditLaneRecord.objects.filter(scope=log.scope).order_by("seq"):
                record.prev_hash = prev
                record.hash = record_mac(record)
                sql(
                    "UPDATE audit_auditlanerecord SET prev_hash = %s, hash = %s WHERE id = %s",
                    [record.prev_hash, record.hash, record.pk],
                )
                prev, last = record.hash, record.seq
            name = register_of(log.scope)
            set_head(name, last, prev, mac=head_mac(name, last, prev, "dev"))
    finally:
        settings.STACKDOCK_AUDIT_KEYS = real


# --- the classes ---------------------------------------------------------------------

#: positions in lane 4: its first event, one in the middle, the last one the register
#: recorded, and the newest (after the checkpoint: only its head protects it)
POSITIONS = {"first": 1, "middle": 2, "recorded": LANES[4], "newest": LANES[4] + AFTER}


def _changed(event: AuditEvent, f: models.Field, log: Log) -> Any:
    """A different value for column ``f`` of ``event``, valid for the column's type."""
    value = getattr(event, f.attname)
    if f.attname == "seq":
        return value + 1000
    if f.attname == "org_id":
        return log.other.pk
    if f.attname == "actor_user_id":
        return (value or 0) + 1
    if f.attname == "chain":
        return value + "7"  # an unknown lane of the same scope
    if f.attname == "status":
        return "failure" if value != "failure" else "success"
    if f.attname == "actor_type":
        return "system" if value != "system" else "user"
    if f.attname in ("hash", "prev_hash"):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    if isinstance(f, models.GenericIPAddressField):
        return "10.9.9.9" if value != "10.9.9.9" else "10.9.9.8"
    if isinstance(f, models.DateTimeField):
        return db_time(value + dt.timedelta(seconds=1))
    if isinstance(f, models.JSONField):
        return '{"forged": true}'
    if isinstance(f, models.CharField):
        return (value + "x")[-f.max_length :] if value else "x"
    raise AssertionError(f"no forgery for column {f.attname!r}: add one")


EDITABLE = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]


def _edit(column: models.Field, position: str) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        event = log.event(4, POSITIONS[position])
        set_event(event.pk, **{column.column: _changed(event, column, log)})

    return forge


def _delete(position: str, move_head: bool) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        seq = POSITIONS[position]
        event = log.event(4, seq)
        sql("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
        if move_head:  # renumber what follows and point the head at the new last one
            later = AuditEvent.objects.filter(chain=log.lane(4), seq__gt=seq).order_by("seq")
            prev = event.prev_hash
            for e in later:
                set_event(e.pk, seq=e.seq - 1, prev_hash=prev)
                prev = e.hash
            set_head(log.lane(4), LANES[4] + AFTER - 1, prev)

    return forge


def _delete_lane(lane: int, *, events: bool, head: bool) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        if events:
            sql("DELETE FROM audit_auditevent WHERE chain = %s", [log.lane(lane)])
        if head:
            sql("DELETE FROM audit_auditchainhead WHERE chain = %s", [log.lane(lane)])

    return forge


def _restore_old_head(log: Log, settings: Any) -> None:
    """Cut lane 4 back to a copy of its head row saved before the checkpoint."""
    seq, hash_, key_id, mac = log.snapshots["4-old"]
    sql("DELETE FROM audit_auditevent WHERE chain = %s AND seq > %s", [log.lane(4), seq])
    set_head(log.lane(4), seq, hash_, key_id, mac)


def _insert_new_chain(with_head: bool, chain: Callable[[Log], str]) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        name = chain(log)
        new = insert_copy(log.event(1, 1), chain=name, seq=1, prev_hash=GENESIS, operation="forged")
        if with_head:
            sql(
                "INSERT INTO audit_auditchainhead (chain, seq, hash, key_id, mac, updated_at) "
                "VALUES (%s, 1, %s, 'dev', %s, %s)",
                [name, new.hash, "0" * 64, db_time(new.created_at)],
            )

    return forge


def _append_after_head(move_head: bool) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        last = log.event(1, LANES[1])
        new = insert_copy(last, seq=last.seq + 1, prev_hash=last.hash, operation="forged")
        if move_head:
            set_head(
                log.lane(1), new.seq, new.hash, mac=hashlib.sha256(new.hash.encode()).hexdigest()
            )

    return forge


def _rehash_plain(log: Log, settings: Any) -> None:
    """Edit an event, then redo lane 1's hashes the old way (plain SHA-256) and its head."""
    prev = GENESIS
    for event in AuditEvent.objects.filter(chain=log.lane(1)).order_by("seq"):
        if event.seq == 2:
            event.operation = "forged"
        event.prev_hash = prev
        event.hash = legacy_hash(event)
        set_event(event.pk, operation=event.operation, prev_hash=event.prev_hash, hash=event.hash)
        prev = event.hash
    set_head(log.lane(1), LANES[1], prev, mac=hashlib.sha256(prev.encode()).hexdigest())


def _rehash_keyed(scope_wide: bool) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        set_event(log.event(1, 2).pk, operation="forged")
        chains = [log.lane(n) for n in LANES] if scope_wide else [log.lane(1)]
        resign_with_attacker_key(settings, log, chains, register=scope_wide)

    return forge


def _register(action: str) -> Callable[..., None]:
    def forge(log: Log, settings: Any) -> None:
        records = list(AuditLaneRecord.objects.filter(scope=log.scope).order_by("seq"))
        name = register_of(log.scope)
        if action == "delete first entry":
            sql("DELETE FROM audit_auditlanerecord WHERE id = %s", [records[0].pk])
        elif action == "delete last entry, move head back":
            sql("DELETE FROM audit_auditlanerecord WHERE id = %s", [records[-1].pk])
            set_head(name, records[-2].seq, records[-2].hash)
        elif action == "lower a recorded length":
            lanes = dict(records[-1].lanes)
            lanes[log.lane(4)] = [1, log.event(4, 1).hash]
            sql(
                "UPDATE audit_auditlanerecord SET lanes = %s WHERE id = %s",
                [_json_param(lanes), records[-1].pk],
            )
        elif action == "delete the register head":
            sql("DELETE FROM audit_auditchainhead WHERE chain = %s", [name])
        elif action == "delete the whole register":
            sql("DELETE FROM audit_auditlanerecord WHERE scope = %s", [log.scope])
            sql("DELETE FROM audit_auditchainhead WHERE chain = %s", [name])
        elif action == "delete a lane and every entry that names it":
            sql("DELETE FROM audit_auditlanerecord WHERE scope = %s", [log.scope])
            sql("DELETE FROM audit_auditchainhead WHERE chain = %s", [name])
            sql("DELETE FROM audit_auditevent WHERE chain = %s", [log.lane(9)])
            sql("DELETE FROM audit_auditchainhead WHERE chain = %s", [log.lane(9)])
        else:
            raise AssertionError(action)

    return forge


def _json_param(value: Any) -> str:
    import json

    return json.dumps(value)


def _unknown_key(log: Log, settings: Any) -> None:
    """Not an SQL edit: the key that signed the log is dropped from the settings."""
    settings.STACKDOCK_AUDIT_KEYS = "k2:" + base64.b64encode(os.urandom(32)).decode()


#: (case id, forgery, whether it also touches the other organization's scope)
CASES: list[tuple[str, Callable[..., None], bool]] = [
    *(
        (f"edit {f.attname} of the {pos} event", _edit(f, pos), f.attname == "org_id")
        for f in EDITABLE
        for pos in POSITIONS
    ),
    *(
        (
            f"delete the {pos} event{', move the head back' if move else ''}",
            _delete(pos, move),
            False,
        )
        for pos in POSITIONS
        for move in (False, True)
    ),
    ("delete a lane with its head", _delete_lane(9, events=True, head=True), False),
    ("delete a lane's events, keep its head", _delete_lane(9, events=True, head=False), False),
    ("delete a lane's head", _delete_lane(9, events=False, head=True), False),
    ("delete an unused lane's head", _delete_lane(12, events=False, head=True), False),
    ("cut a lane back to a head row saved before the checkpoint", _restore_old_head, False),
    (
        "insert an event in a new lane, no head",
        _insert_new_chain(False, lambda log: log.lane(77)),
        False,
    ),
    (
        "insert an event in a new lane with a head",
        _insert_new_chain(True, lambda log: log.lane(78)),
        False,
    ),
    (
        "insert an event in the single pre-lane chain",
        _insert_new_chain(False, lambda log: log.scope),
        False,
    ),
    (
        "insert an event of the org in a global chain",
        _insert_new_chain(False, lambda log: "global:70"),
        False,
    ),
    (
        "insert an event of the org in another org's chain",
        _insert_new_chain(False, lambda log: f"org:{log.other.pk}:70"),
        True,
    ),
    (
        "insert an event of the org in a chain of no scope",
        _insert_new_chain(False, lambda log: "zzz"),
        False,
    ),
    ("append an event after the head", _append_after_head(False), False),
    ("append an event and move the head", _append_after_head(True), False),
    ("re-hash a lane with plain SHA-256", _rehash_plain, False),
    ("re-hash a lane with another key", _rehash_keyed(False), False),
    ("re-hash the whole scope and its register with another key", _rehash_keyed(True), False),
    *(
        (f"register: {a}", _register(a), False)
        for a in (
            "delete first entry",
            "delete last entry, move head back",
            "lower a recorded length",
            "delete the register head",
            "delete the whole register",
            "delete a lane and every entry that names it",
        )
    ),
    ("the signing key is no longer configured", _unknown_key, True),
]


@pytest.mark.parametrize(
    ("forge", "touches_other"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_forgery_is_found(log, settings, forge, touches_other):
    forge(log, settings)
    found = [p for p in problems(org=log.org) if not p.recorded]
    assert found, "the forgery verified clean"
    assert verify_chain() is not None  # the whole log too
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command("audit_verify", "--org", log.org.slug)
    if not touches_other:
        assert verify_chain(org=log.other) is None  # a bystander stays clean


def test_the_matrix_edits_every_column_of_an_event():
    edited = {case[0].split()[1] for case in CASES if case[0].startswith("edit ")}
    assert edited == {f.attname for f in EDITABLE}


def test_an_untouched_log_verifies_and_the_command_says_so(log, capsys):
    call_command("audit_verify", "--org", log.org.slug)
    call_command("audit_verify")
    assert "audit chain intact" in capsys.readouterr().out


def test_a_checkpoint_records_each_lane_and_only_when_something_changed(log):
    assert audit_checkpoint(scope=log.scope) is not None  # lane 4 grew after the first
    assert audit_checkpoint(scope=log.scope) is None
    last = AuditLaneRecord.objects.filter(scope=log.scope).order_by("-seq").first()
    assert last.lanes[log.lane(4)] == [LANES[4] + AFTER, log.lanes[4][-1].hash]
    assert last.lanes[log.lane(9)] == [LANES[9], log.lanes[9][-1].hash]
    assert verify_chain(org=log.org) is None


def test_a_checkpoint_never_records_a_head_moved_behind_the_logs_back(log):
    bad = insert_copy(log.event(1, LANES[1]), seq=LANES[1] + 1, operation="forged")
    set_head(log.lane(1), bad.seq, bad.hash)  # its signature is now wrong
    audit_checkpoint(scope=log.scope)
    last = AuditLaneRecord.objects.filter(scope=log.scope).order_by("-seq").first()
    assert last.lanes[log.lane(1)][0] == LANES[1]
    assert verify_chain(org=log.org) is not None
