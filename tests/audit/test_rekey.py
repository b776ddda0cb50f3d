"""Migration 0003: a log written before it was keyed is re-signed once, and what was
already wrong with it is recorded, not laundered."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.chain import GENESIS, legacy_hash
from audit.models import AuditChainHead, AuditEvent, AuditLaneRecord
from audit.services import audit_log
from audit.verify import problems, verify_chain

MIGRATION = ("audit", "0003_keyed_chains")
CLEAN, TAMPERED = 9001, 9002  # organizations by id only: the log outlives them


def _legacy_chain(chain: str, org_id: int | None, n: int) -> list[AuditEvent]:
    """``n`` events as the log wrote them before migration 0003: plain SHA-256, no key."""
    events, prev = [], GENESIS
    start = timezone.now() - dt.timedelta(days=30)
    for seq in range(1, n + 1):
        event = AuditEvent(
            chain=chain,
            seq=seq,
            org_id=org_id,
            actor_type="system",
            actor_repr="system",
            operation=f"old.{seq}",
            status="success",
            metadata={"n": seq},
            created_at=start + dt.timedelta(seconds=seq),
            prev_hash=prev,
            key_id="",
        )
        event.hash = legacy_hash(event)
        prev = event.hash
        events.append(event)
    AuditEvent.objects.bulk_create(events)
    AuditChainHead.objects.create(chain=chain, seq=n, hash=prev)
    return events


def _migrate_rekey() -> None:
    """Run migration 0003's data step with its historical models."""
    executor = MigrationExecutor(connection)
    migration = executor.loader.get_migration(*MIGRATION)
    apps = executor.loader.project_state(MIGRATION).apps
    migration.operations[-1].code(apps, _Editor())


class _Editor:
    """What the data step uses of a schema editor (SQLite's cannot open inside a test's
    transaction)."""

    connection = connection

    def execute(self, sql: str, params: object = None) -> None:
        with connection.cursor() as cur:
            cur.execute(sql, params)


@pytest.mark.django_db
def test_rekeying_signs_every_legacy_chain_and_the_log_goes_on_from_there(capsys):
    _legacy_chain(f"org:{CLEAN}", CLEAN, 3)  # the single chain before lanes
    _legacy_chain(f"org:{CLEAN}:5", CLEAN, 2)
    _legacy_chain("global:1", None, 2)
    tampered = _legacy_chain(f"org:{TAMPERED}:0", TAMPERED, 3)
    with connection.cursor() as cur:  # edited before the log was keyed
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cur.execute(
            "UPDATE audit_auditevent SET operation = 'edited' WHERE chain = %s AND seq = 2",
            [tampered[0].chain],
        )
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")

    _migrate_rekey()

    assert not AuditEvent.objects.filter(key_id="").exists()
    assert verify_chain() is None
    recorded = [p for p in problems() if p.recorded]
    assert [p.chain for p in recorded] == [f"org:{TAMPERED}/lanes"]
    assert "contents had been changed" in recorded[0].reason
    register = AuditLaneRecord.objects.get(scope=f"org:{CLEAN}")
    assert register.lanes[f"org:{CLEAN}"][0] == 3 and register.lanes[f"org:{CLEAN}:5"][0] == 2
    assert len(register.lanes) == 17  # the old chain and the 16 lanes
    call_command("audit_verify")  # recorded problems are notes, not a failure
    assert "note (recorded when the log was re-keyed)" in capsys.readouterr().out

    later = audit_log(actor=None, org=None, operation="new")  # appends to a re-signed lane
    assert later.key_id and verify_chain() is None


@pytest.mark.django_db
def test_rekeying_twice_changes_nothing():
    _legacy_chain(f"org:{CLEAN}:1", CLEAN, 2)
    _migrate_rekey()
    before = list(AuditEvent.objects.order_by("id").values_list("hash", flat=True))
    _migrate_rekey()
    assert list(AuditEvent.objects.order_by("id").values_list("hash", flat=True)) == before
    assert AuditLaneRecord.objects.filter(scope=f"org:{CLEAN}").count() == 1
    assert verify_chain() is None


@pytest.mark.django_db
def test_an_unkeyed_legacy_log_fails_verification_until_it_is_rekeyed():
    _legacy_chain(f"org:{CLEAN}:1", CLEAN, 2)
    found = list(problems())
    assert any("no lane register" in p.reason for p in found)
