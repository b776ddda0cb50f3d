"""The audit log's keys: from the settings, rotated by putting a new one first, never
sent to the database."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.keys import audit_keys, derived_dev_keys, parse
from audit.models import AuditLaneRecord
from audit.services import audit_checkpoint, audit_log
from audit.verify import problems, verify_chain


def _key(kid: str) -> str:
    return f"{kid}:" + base64.b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is empty"),
        ("nocolon", "expected id:base64key"),
        ("bad id!:" + base64.b64encode(b"x" * 32).decode(), "expected id:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "at least 32 bytes"),
        (f"{_key('k1')},{_key('k1')}", "appears twice"),
    ],
)
def test_a_malformed_key_setting_is_refused_naming_it(spec, message):
    with pytest.raises(ImproperlyConfigured, match=message) as info:
        parse(spec)
    assert "STACKDOCK_AUDIT_KEYS" in str(info.value)


def test_the_dev_key_is_derived_from_the_secret_key_and_differs_with_it():
    assert derived_dev_keys("a") == derived_dev_keys("a") != derived_dev_keys("b")
    assert parse(derived_dev_keys("a")).signing_id == "dev"


@pytest.mark.django_db
def test_a_new_key_put_first_signs_and_the_old_one_still_verifies(org, settings):
    old, new = _key("k1"), _key("k2")
    settings.STACKDOCK_AUDIT_KEYS = old
    first = audit_log(actor=None, org=org, operation="before")
    settings.STACKDOCK_AUDIT_KEYS = f"{new},{old}"
    second = audit_log(actor=None, org=org, operation="after")
    assert (first.key_id, second.key_id) == ("k1", "k2")
    assert verify_chain(org=org) is None
    settings.STACKDOCK_AUDIT_KEYS = new  # dropped while it still signs rows
    found = list(problems(org=org))
    assert found and all("unknown key" in p.reason for p in found)


@pytest.mark.django_db
def test_no_statement_carries_the_key(org, settings):
    spec = _key("k9")
    settings.STACKDOCK_AUDIT_KEYS = spec
    raw = audit_keys().keys[0][1]
    with CaptureQueriesContext(connection) as queries:
        audit_log(actor=None, org=org, operation="first")  # opens the lanes too
        audit_log(actor=None, org=org, operation="second")
        audit_checkpoint(scope=f"org:{org.pk}")
    sent = repr([(q["sql"], q.get("params")) for q in queries.captured_queries])
    for secret in (raw.hex(), spec.split(":", 1)[1], repr(raw)[2:-1]):
        assert secret not in sent
    assert len(queries.captured_queries) > 3  # something was captured


@pytest.mark.django_db
def test_postgres_trigger_refuses_update_and_delete_of_register_entries(org):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    audit_log(actor=None, org=org, operation="opens the register")
    record = AuditLaneRecord.objects.filter(scope=f"org:{org.pk}").first()
    for statement in (
        "UPDATE audit_auditlanerecord SET lanes = '{}' WHERE id = %s",
        "DELETE FROM audit_auditlanerecord WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(statement, [record.pk])
    with pytest.raises(TypeError):
        AuditLaneRecord.objects.filter(pk=record.pk).delete()
