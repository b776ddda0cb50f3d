"""Sync: read a dock's resources from its provider into the universal tables.

Upsert by ``(dock, provider_resource_id)``. A resource that disappeared at the
provider is deleted only when StackDock did not provision it; a provisioned
one is marked drifted instead. ``full_api_data`` comes from the adapter, which
strips secrets; the keys are redacted once more here as a second line.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_log, redact
from docks.adapters.base import ProviderError
from docks.models import (
    UNIVERSAL_MODELS,
    Dock,
    ProvisioningSource,
    SyncStatus,
    universal_columns,
)
from docks.services import dock_credentials
from stackdock.permissions import Actor

log = logging.getLogger(__name__)
MANAGED = (ProvisioningSource.API, ProvisioningSource.SST)
GONE = {"__exists__": {"old": True, "new": False}}
#: providers with nothing to discover (the sandbox's records are shared by every org)
NOT_SYNCED = ("sandbox",)


def backoff(failures: int) -> timedelta:
    """After n consecutive failures wait min(2^n, 60) minutes."""
    return timedelta(minutes=min(2 ** max(failures, 1), 60))


def dock_sync(*, dock: Dock, actor: Actor | None = None) -> dict[str, int]:
    """Sync one dock now. Returns counts; raises ProviderError after recording it."""
    from provisioning.registry import adapter_class

    actor = actor or Actor.system("sync", dock.org)
    if dock.provider in NOT_SYNCED:
        Dock.objects.filter(pk=dock.pk).update(
            sync_status=SyncStatus.OK, last_sync_at=timezone.now(), sync_error=""
        )
        return {"created": 0, "updated": 0, "deleted": 0, "drifted": 0}
    cls = adapter_class(dock.provider)
    creds = (
        {}
        if cls.credentialless
        else dock_credentials(dock=dock, actor=actor, purpose="sync", which="api")
    )
    adapter = cls(creds, dock.endpoint_url or None)
    try:
        found = list(adapter.sync())
    except ProviderError as exc:
        _record_failure(dock, exc.message)
        raise
    return _apply(dock, found, skipped=adapter.sync_skipped)


def _apply(dock: Dock, found: list[Any], *, skipped: set[str]) -> dict[str, int]:
    now = timezone.now()
    counts = {"created": 0, "updated": 0, "deleted": 0, "drifted": 0}
    seen: dict[str, set[str]] = {table: set() for table in UNIVERSAL_MODELS}
    with transaction.atomic():
        for item in found:
            if item.table not in UNIVERSAL_MODELS:
                continue
            model = UNIVERSAL_MODELS[item.table]
            pid = item.result.provider_resource_id
            seen[item.table].add(pid)
            values = {
                "name": "",  # a discovered row needs a name even if the provider gives none
                **universal_columns(item.table, item.result.universal),
                "full_api_data": redact(item.result.full_api_data),
                "last_seen_at": now,
            }
            row = model.objects.filter(dock=dock, provider_resource_id=pid).first()
            if row is None:
                model.objects.create(
                    org_id=dock.org_id,
                    dock=dock,
                    provider=dock.provider,
                    provider_resource_id=pid,
                    resource_type=item.resource_type or "",
                    provisioning_source=ProvisioningSource.MANUAL,
                    **values,
                )
                counts["created"] += 1
            else:
                if row.drift == GONE:
                    values["drift"] = {}
                model.objects.filter(pk=row.pk).update(**values, updated_at=now)
                counts["updated"] += 1
        for table, model in UNIVERSAL_MODELS.items():
            missing = (
                model.objects.filter(dock=dock, provider_resource_id__isnull=False)
                .exclude(provider_resource_id__in=seen[table])
                .exclude(resource_type__in=skipped)  # not listed: unknown, not gone
            )
            counts["deleted"] += missing.filter(
                Q(provisioning_source="") | Q(provisioning_source=ProvisioningSource.MANUAL)
            ).delete()[0]
            counts["drifted"] += (
                missing.filter(provisioning_source__in=MANAGED)
                .exclude(drift=GONE)
                .update(drift=GONE, updated_at=now)
            )
        Dock.objects.filter(pk=dock.pk).update(
            sync_status=SyncStatus.OK,
            last_sync_at=now,
            sync_error="",
            sync_failures=0,
            next_sync_at=now + timedelta(seconds=dock.sync_interval_seconds),
        )
        audit_log(
            actor=Actor.system("sync", dock.org),
            org=dock.org,
            operation="dock.sync",
            target=dock,
            metadata=counts,
        )
    return counts


def _record_failure(dock: Dock, message: str) -> None:
    failures = dock.sync_failures + 1
    now = timezone.now()
    Dock.objects.filter(pk=dock.pk).update(
        sync_status=SyncStatus.ERROR,
        sync_error=message[:2000],
        sync_failures=failures,
        last_sync_at=now,
        next_sync_at=now + backoff(failures),
    )
    audit_log(
        actor=Actor.system("sync", dock.org),
        org=dock.org,
        operation="dock.sync",
        status="failure",
        target=dock,
        metadata={"error": message[:500], "failures": failures},
    )


def docks_due(now: Any = None) -> list[Any]:
    """Claim the docks whose sync is due (a conditional UPDATE, so one claimer wins)."""
    now = now or timezone.now()
    due = list(
        Dock.objects.exclude(provider__in=NOT_SYNCED)
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .exclude(sync_status=SyncStatus.SYNCING)
        .values_list("pk", flat=True)[:200]
    )
    claimed = []
    for pk in due:
        if (
            Dock.objects.filter(pk=pk)
            .exclude(sync_status=SyncStatus.SYNCING)
            .update(sync_status=SyncStatus.SYNCING, next_sync_at=now + timedelta(minutes=10))
        ):
            claimed.append(pk)
    return claimed
