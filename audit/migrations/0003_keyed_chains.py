"""Keyed audit chains: a key id on every event, signed heads, the lane register, and
the one-time re-signing of existing chains under ``STACKDOCK_AUDIT_KEYS``
(``audit.rekey``). On PostgreSQL the append-only trigger also covers the register."""

from __future__ import annotations

from django.db import migrations, models

TRIGGER = """
DROP TRIGGER IF EXISTS audit_auditlanerecord_append_only ON audit_auditlanerecord;
CREATE TRIGGER audit_auditlanerecord_append_only
    BEFORE UPDATE OR DELETE ON audit_auditlanerecord
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS audit_auditlanerecord_append_only ON audit_auditlanerecord;"
EVENTS_OFF = "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only"
EVENTS_ON = "ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only"


def rekey(apps, schema_editor):  # type: ignore[no-untyped-def]
    from audit.rekey import rekey_all

    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(EVENTS_OFF, params=None)
    done = rekey_all(
        apps.get_model("audit", "AuditEvent"),
        apps.get_model("audit", "AuditChainHead"),
        apps.get_model("audit", "AuditLaneRecord"),
    )
    if postgres:
        schema_editor.execute(EVENTS_ON, params=None)
        schema_editor.execute(TRIGGER, params=None)
    if done:
        print(f"  audit: re-signed {sum(done.values())} events in {len(done)} scopes")


def unrekey(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(default="", editable=False, max_length=32),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="key_id",
            field=models.CharField(default="", max_length=32),
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="mac",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.CreateModel(
            name="AuditLaneRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scope", models.CharField(editable=False, max_length=40)),
                ("seq", models.PositiveBigIntegerField(editable=False)),
                ("lanes", models.JSONField(default=dict)),
                ("legacy_problems", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField()),
                ("key_id", models.CharField(max_length=32)),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64, unique=True)),
            ],
            options={
                "ordering": ["scope", "seq"],
                "constraints": [
                    models.UniqueConstraint(fields=("scope", "seq"), name="audit_auditlanerecord_unique_scope_seq")
                ],
            },
        ),
        migrations.RunPython(rekey, unrekey),
    ]
