"""The append-only, hash-chained audit log.

Each event stores the hash of the previous event of its chain (16 chains,
"lanes", per organization and for events without an organization: a writer
appends to its thread's lane, see ``audit.services.AUDIT_LANES``) and its own
hash: an HMAC-SHA256, under a key from ``STACKDOCK_AUDIT_KEYS`` (``key_id``
names it), over a canonical form of its fields. Each lane's head is signed the
same way, and each organization keeps a chained, signed register of its lanes
and their lengths (``AuditLaneRecord``). ``audit.verify`` checks all of it.
Rows are never updated or deleted by code, admin or API; on PostgreSQL a
trigger refuses UPDATE and DELETE (migrations 0002, 0003).

Foreign keys carry no database constraint and copies of the names
(``actor_repr``, ``target_repr``) are kept, so a record outlives what it names.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from stackdock.permissions import TenantQuerySet


class AuditStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class ActorType(models.TextChoices):
    USER = "user", "User"
    TOKEN = "token", "API token"
    SYSTEM = "system", "System"


class AuditEventQuerySet(TenantQuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("audit events are append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise TypeError("audit events are append-only")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("audit lane records are append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise TypeError("audit lane records are append-only")


class AuditEvent(models.Model):
    chain = models.CharField(max_length=40, editable=False)
    seq = models.PositiveBigIntegerField(editable=False)
    org = models.ForeignKey(
        "stackdock.Organization",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_token_prefix = models.CharField(max_length=16, blank=True)
    actor_repr = models.CharField(max_length=300)
    operation = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=10, choices=AuditStatus.choices)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=32, editable=False)

    objects = AuditEventQuerySet.as_manager()
    dock_lookup = None

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "seq"], name="%(app_label)s_%(class)s_unique_chain_seq"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AuditStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(actor_type__in=ActorType.values),
                name="%(app_label)s_%(class)s_actor_type_valid",
            ),
        ]
        indexes = [models.Index(fields=["org", "-created_at"], name="audit_org_created")]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_repr} {self.operation} {self.status}"
        )

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise TypeError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("audit events are append-only")


class AuditChainHead(models.Model):
    """The tip of each chain (and of each lane register, ``<scope>/lanes``); locked
    while appending so two writers never fork it. ``mac`` signs ``(chain, seq, hash)``:
    a head moved back over cut-off events does not verify."""

    chain = models.CharField(max_length=40, primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32, default="")
    mac = models.CharField(max_length=64, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["chain"]

    def __str__(self) -> str:
        return f"{self.chain}@{self.seq}"


class AuditLaneRecord(models.Model):
    """One entry of a scope's lane register (``org:<id>`` or ``global``): every chain
    of the scope with its length and last hash (``lanes``: ``{chain: [seq, hash]}``)
    when the entry was written. Written when lanes are opened and at each checkpoint;
    chained and signed like events, so a lane deleted whole (events and head) or cut
    back below a recorded length is found by ``audit_verify``."""

    scope = models.CharField(max_length=40, editable=False)
    seq = models.PositiveBigIntegerField(editable=False)
    lanes = models.JSONField(default=dict)
    #: what re-keying found wrong with the chains it re-signed (migration 0003)
    legacy_problems = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=32)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["scope", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "seq"], name="%(app_label)s_%(class)s_unique_scope_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} lanes #{self.seq}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise TypeError("audit lane records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("audit lane records are append-only")
