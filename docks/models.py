"""Docks (connected provider accounts) and the universal resource tables."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from guardian.models import UserObjectPermissionBase

from docks.changes import DockQuerySet, UniversalQuerySet, rows_changed, table_of
from stackdock.outbound import validate_endpoint_url
from stackdock.utils.models import TimeStampedModel

#: encrypted credential columns, never shown anywhere
SECRET_FIELDS = ("api_credentials", "provisioning_credentials", "previous_provisioning_credentials")


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    SYNCING = "syncing", "Syncing"
    OK = "ok", "OK"
    ERROR = "error", "Error"


class Dock(TimeStampedModel):
    """One provider account of an organization.

    The ``*_credentials`` columns hold AES-GCM envelopes (docks.crypto) bound to
    this row and column; read them only through ``docks.services.dock_credentials``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        "stackdock.Organization", on_delete=models.CASCADE, related_name="docks"
    )
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=32)
    api_credentials = models.TextField(blank=True, default="")
    provisioning_credentials = models.TextField(blank=True, default="")
    previous_provisioning_credentials = models.TextField(blank=True, default="")
    previous_credentials_expire_at = models.DateTimeField(null=True, blank=True)
    credentials_changed_at = models.DateTimeField(null=True, blank=True)
    credential_fields = models.JSONField(
        default=list, blank=True, help_text="names of the credential fields that are set"
    )
    defaults = models.JSONField(
        default=dict,
        blank=True,
        help_text="spec values this dock's resources get when they leave them out "
        "(an AWS dock's region); not secret",
    )
    endpoint_url = models.URLField(
        max_length=500, blank=True, default="", validators=[validate_endpoint_url]
    )
    emulated = models.BooleanField(default=False, help_text="points at a local emulator")
    sync_interval_seconds = models.PositiveIntegerField(default=120)
    sync_status = models.CharField(
        max_length=10, choices=SyncStatus.choices, default=SyncStatus.NEVER
    )
    last_sync_at = models.DateTimeField(null=True, blank=True)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True, default="")
    sync_failures = models.PositiveIntegerField(default=0)

    objects = DockQuerySet.as_manager()
    dock_lookup = "pk"

    class Meta:
        ordering = ["org", "name"]
        permissions = [("provision_dock", "Can provision resources on this dock")]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name"], name="%(app_label)s_%(class)s_unique_org_name"
            ),
            models.CheckConstraint(
                condition=models.Q(sync_status__in=SyncStatus.values),
                name="%(app_label)s_%(class)s_sync_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(sync_interval_seconds__gte=60),
                name="%(app_label)s_%(class)s_sync_interval_min",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_sync_at"],
                name="docks_dock_sync_due",
                condition=~models.Q(provider="sandbox"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"

    def __repr__(self) -> str:
        return f"<Dock {self.pk} {self.name!r} provider={self.provider!r}>"


class ProvisioningSource(models.TextChoices):
    SST = "sst", "Stack (engine)"
    API = "api", "Single resource"
    MANUAL = "manual", "Discovered"


class ProvisioningState(models.TextChoices):
    PROVISIONING = "provisioning", "Provisioning"
    PROVISIONED = "provisioned", "Provisioned"
    FAILED = "failed", "Failed"
    DEPROVISIONING = "deprovisioning", "Deprovisioning"


class UniversalResource(TimeStampedModel):
    """Columns shared by every universal table.

    ``provisioning_*`` and ``sst_*`` are empty for a resource discovered by
    sync; ``full_api_data`` is the provider's description with secrets removed.
    """

    org = models.ForeignKey(
        "stackdock.Organization", on_delete=models.CASCADE, related_name="%(class)ss"
    )
    dock = models.ForeignKey(
        Dock, on_delete=models.SET_NULL, null=True, blank=True, related_name="%(class)ss"
    )
    provider = models.CharField(max_length=32)
    provider_resource_id = models.CharField(max_length=255, null=True, blank=True)
    resource_type = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=64, blank=True, default="")
    region = models.CharField(max_length=64, blank=True, default="")
    full_api_data = models.JSONField(default=dict, blank=True)
    spec = models.JSONField(default=dict, blank=True, help_text="the spec it was provisioned with")
    provisioning_source = models.CharField(
        max_length=10, choices=ProvisioningSource.choices, blank=True, default=""
    )
    sst_resource_id = models.CharField(max_length=255, blank=True, default="")
    sst_stack_name = models.CharField(max_length=255, blank=True, default="")
    provisioning_state = models.CharField(
        max_length=16, choices=ProvisioningState.choices, blank=True, default=""
    )
    provisioned_at = models.DateTimeField(null=True, blank=True)
    drift = models.JSONField(default=dict, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    objects = UniversalQuerySet.as_manager()
    dock_lookup = "dock"

    class Meta:
        abstract = True
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dock", "provider_resource_id"],
                name="%(app_label)s_%(class)s_unique_dock_resource",
            ),
            models.CheckConstraint(
                condition=models.Q(provisioning_source__in=["", *ProvisioningSource.values]),
                name="%(app_label)s_%(class)s_source_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(provisioning_state__in=["", *ProvisioningState.values]),
                name="%(app_label)s_%(class)s_state_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["provisioning_source", "org"], name="%(app_label)s_%(class)s_src_org"
            ),
            models.Index(
                fields=["sst_stack_name", "sst_resource_id"],
                name="%(app_label)s_%(class)s_stack_res",
            ),
            models.Index(fields=["org", "name"], name="%(app_label)s_%(class)s_org_name"),
        ]

    def __str__(self) -> str:
        return self.name

    # writes replace the table's change marker (docks.changes), which cached list pages check
    def save(self, *args: Any, **kwargs: Any) -> None:
        rows_changed(table_of(type(self)))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        rows_changed(table_of(type(self)))
        return super().delete(*args, **kwargs)

    @property
    def is_provisioned_by_stackdock(self) -> bool:
        return self.provisioning_source in (ProvisioningSource.SST, ProvisioningSource.API)


class Server(UniversalResource):
    primary_ip = models.GenericIPAddressField(null=True, blank=True)
    instance_type = models.CharField(max_length=64, blank=True, default="")

    class Meta(UniversalResource.Meta):
        pass


class WebService(UniversalResource):
    production_url = models.URLField(max_length=500, blank=True, default="")
    environment = models.CharField(max_length=64, blank=True, default="")

    class Meta(UniversalResource.Meta):
        pass


class Domain(UniversalResource):
    domain_name = models.CharField(max_length=253, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta(UniversalResource.Meta):
        pass


class Database(UniversalResource):
    engine = models.CharField(max_length=64, blank=True, default="")
    version = models.CharField(max_length=64, blank=True, default="")
    endpoint = models.CharField(max_length=500, blank=True, default="")

    class Meta(UniversalResource.Meta):
        pass


class Bucket(UniversalResource):
    endpoint = models.CharField(max_length=500, blank=True, default="")

    class Meta(UniversalResource.Meta):
        pass


#: API/URL name -> model
UNIVERSAL_MODELS: dict[str, type[UniversalResource]] = {
    "servers": Server,
    "web-services": WebService,
    "domains": Domain,
    "databases": Database,
    "buckets": Bucket,
}
#: columns each table has beyond the shared ones
TABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "servers": ("primary_ip", "instance_type"),
    "web-services": ("production_url", "environment"),
    "domains": ("domain_name", "expires_at"),
    "databases": ("engine", "version", "endpoint"),
    "buckets": ("endpoint",),
}


def universal_columns(table: str, universal: dict[str, object]) -> dict[str, object]:
    """The columns of ``table`` an adapter's ``ResourceResult.universal`` sets (None skipped)."""
    allowed = {"name", "status", "region", *TABLE_FIELDS[table]}
    values = {k: v for k, v in universal.items() if k in allowed and v is not None}
    if "name" in values:
        values["name"] = str(values["name"])[:255]
    return values


class DockGrant(TimeStampedModel, UserObjectPermissionBase):
    """A member's object grant on one dock: django-guardian's direct foreign-key table
    for Dock (``view_dock`` / ``provision_dock``; see ``stackdock.permissions``).

    A grant dies with its dock (the foreign key cascades) and with its membership
    (``docks.services.dock_grants_end_for``, called by ``member_remove``); both removals
    are audited with the grants they ended.
    """

    content_object = models.ForeignKey(Dock, on_delete=models.CASCADE, related_name="grants")

    class Meta(UserObjectPermissionBase.Meta):
        ordering = ["content_object", "user", "permission"]
        verbose_name = "dock grant"

    def __str__(self) -> str:
        return f"{self.permission.codename} on {self.content_object_id} for user {self.user_id}"
