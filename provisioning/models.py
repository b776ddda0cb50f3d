"""Stacks, engine state, operations and their events (see docs/ENGINE.md).

An Operation is what the API calls a ``provision_id``: one queued unit of work
(a provision, update or delete of one resource, or a deploy, destroy or
refresh of a stack) run by a Celery worker. Its status changes only through
``provisioning.transitions``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from provisioning.engine.state import ResourceStatus
from stackdock.permissions import TenantQuerySet
from stackdock.utils.models import TimeStampedModel


class StackKind(models.TextChoices):
    STACK = "stack", "Stack"
    SINGLE = "single", "Single resource"


class FailurePolicy(models.TextChoices):
    ROLLBACK = "rollback", "Roll back what this apply created"
    STOP = "stop", "Stop and keep what was created"


class Stack(TimeStampedModel):
    """A declarative stack, or the hidden one-resource stack of a single provision."""

    org = models.ForeignKey(
        "stackdock.Organization", on_delete=models.CASCADE, related_name="stacks"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=StackKind.choices, default=StackKind.STACK)
    spec = models.JSONField(default=dict, blank=True)
    spec_text = models.TextField(blank=True, default="")
    on_failure = models.CharField(
        max_length=10, choices=FailurePolicy.choices, default=FailurePolicy.STOP
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = TenantQuerySet.as_manager()
    dock_lookup = None

    class Meta:
        ordering = ["org", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name"], name="%(app_label)s_%(class)s_unique_org_name"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=StackKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(on_failure__in=FailurePolicy.values),
                name="%(app_label)s_%(class)s_on_failure_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StackResource(models.Model):
    """The engine's record of one resource of one stack (``ResourceState``)."""

    stack = models.ForeignKey(Stack, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=64)
    provider = models.CharField(max_length=32)
    dock_ref = models.CharField(max_length=64)
    inputs = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    provider_resource_id = models.CharField(max_length=255, null=True, blank=True)
    status = models.CharField(max_length=20)
    token = models.CharField(max_length=64, blank=True, default="")
    generation = models.PositiveIntegerField(default=0)
    depends_on = models.JSONField(default=list, blank=True)
    deletion_policy = models.CharField(max_length=10, default="delete")
    engine_updated_at = models.FloatField(default=0.0)

    class Meta:
        ordering = ["stack", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["stack", "name"], name="%(app_label)s_%(class)s_unique_stack_name"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[str(status) for status in ResourceStatus]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stack.name}/{self.name}"


class ResourceClaim(models.Model):
    """One provider resource, named before it exists, and the one stack that manages it.

    ``key`` is what the provider tells resources of ``resource_type`` apart by on
    the dock's account (``ResourceType.key_of``: a bucket's name). The unique
    constraint is the invariant "one manager per provider resource"; see
    ``provisioning.claims``.
    """

    org = models.ForeignKey("stackdock.Organization", on_delete=models.CASCADE, related_name="+")
    dock = models.ForeignKey("docks.Dock", on_delete=models.CASCADE, related_name="claims")
    resource_type = models.CharField(max_length=64)
    key = models.CharField(max_length=512)
    stack = models.ForeignKey(Stack, on_delete=models.CASCADE, related_name="claims")
    resource = models.CharField(max_length=100, help_text="the logical name in the stack")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dock", "resource_type", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["dock", "resource_type", "key"],
                name="%(app_label)s_%(class)s_one_manager_per_resource",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.key} on dock {self.dock_id}: {self.stack_id}"


class StateVersion(models.Model):
    """A numbered snapshot of a stack's state after each apply."""

    stack = models.ForeignKey(Stack, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    summary = models.JSONField(default=dict, blank=True)
    resources = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stack", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["stack", "number"], name="%(app_label)s_%(class)s_unique_stack_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stack.name} v{self.number}"


class StackLock(models.Model):
    """One apply, destroy or refresh per stack: held by an operation, with a lease."""

    stack = models.OneToOneField(
        Stack, on_delete=models.CASCADE, primary_key=True, related_name="lock"
    )
    holder = models.CharField(max_length=64)
    since = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["since"]

    def __str__(self) -> str:
        return f"{self.stack.name} locked by {self.holder}"


class OperationKind(models.TextChoices):
    PROVISION = "provision", "Provision"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    DEPLOY = "deploy", "Deploy"
    DESTROY = "destroy", "Destroy"
    REFRESH = "refresh", "Refresh"
    PLAN = "plan", "Plan"
    SYNC = "sync", "Sync"


class OperationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATUSES = (OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.CANCELLED)


class Operation(TimeStampedModel):
    org = models.ForeignKey(
        "stackdock.Organization", on_delete=models.CASCADE, related_name="operations"
    )
    kind = models.CharField(max_length=10, choices=OperationKind.choices)
    status = models.CharField(
        max_length=10, choices=OperationStatus.choices, default=OperationStatus.QUEUED
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_repr = models.CharField(max_length=300)
    stack = models.ForeignKey(
        Stack, on_delete=models.SET_NULL, null=True, blank=True, related_name="operations"
    )
    stack_name = models.CharField(max_length=100, blank=True, default="")
    dock = models.ForeignKey(
        "docks.Dock", on_delete=models.SET_NULL, null=True, blank=True, related_name="operations"
    )
    resource_table = models.CharField(max_length=20, blank=True, default="")
    resource_id = models.BigIntegerField(null=True, blank=True)
    resource_type = models.CharField(max_length=64, blank=True, default="")
    targets = models.JSONField(default=list, blank=True)
    request = models.JSONField(default=dict, blank=True, help_text="what was asked (no secrets)")
    plan = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    drift = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    dock_lookup = "dock"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=OperationKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=OperationStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.UniqueConstraint(
                fields=["org", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="%(app_label)s_%(class)s_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["lease_expires_at"],
                name="provisioning_op_active",
                condition=models.Q(status__in=["queued", "running"]),
            ),
            models.Index(fields=["org", "-created_at"], name="provisioning_op_org_created"),
        ]

    def __str__(self) -> str:
        # no status: this text is copied into audit records, where a status would be
        # stale the moment the operation moves on ("(deploy, running)" for a finished one)
        return f"operation {self.pk} ({self.kind})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Plan(models.Model):
    """A saved plan (``terraform plan -out``): what deploying ``spec`` on the state it
    read would change. Deploying it applies exactly that spec, and is refused when the
    stack's state or spec changed since (``provisioning.plans``)."""

    org = models.ForeignKey("stackdock.Organization", on_delete=models.CASCADE, related_name="+")
    stack = models.ForeignKey(Stack, on_delete=models.CASCADE, related_name="plans")
    spec = models.JSONField(default=dict, blank=True)
    spec_text = models.TextField(blank=True, default="")
    targets = models.JSONField(default=list, blank=True)
    #: a digest of the stack's state records when the plan read them
    state_digest = models.CharField(max_length=64)
    #: when the plan was made, the stack's own last change (a spec saved after it)
    stack_updated_at = models.DateTimeField()
    changes = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    #: a digest of spec, state digest, targets and changes: what was reviewed
    digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    #: the deploy that applied it (one at most)
    operation = models.OneToOneField(
        "Operation", on_delete=models.SET_NULL, null=True, blank=True, related_name="saved_plan"
    )

    objects = TenantQuerySet.as_manager()
    dock_lookup = None

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"plan {self.pk} of {self.stack.name}"


class OperationEvent(models.Model):
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    resource = models.CharField(max_length=100, blank=True, default="")
    action = models.CharField(max_length=20)
    status = models.CharField(max_length=20)
    message = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["operation", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "seq"], name="%(app_label)s_%(class)s_unique_operation_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.resource} {self.action} {self.status}"
