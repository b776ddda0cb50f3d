"""Celery tasks for docks: periodic sync and the end of credential grace windows."""

from __future__ import annotations

import logging

from celery import shared_task

from docks.adapters.base import ProviderError
from docks.models import Dock
from docks.services import erase_expired_previous_credentials
from docks.sync import dock_sync, docks_due

log = logging.getLogger(__name__)


@shared_task(name="docks.sync_due", ignore_result=True)
def sync_due() -> None:
    for dock_id in docks_due():
        sync_dock.delay(str(dock_id))


@shared_task(name="docks.sync_dock", acks_late=True, ignore_result=True)
def sync_dock(dock_id: str) -> None:
    dock = Dock.objects.select_related("org").filter(pk=dock_id).first()
    if dock is None:
        return
    try:
        dock_sync(dock=dock)
    except ProviderError as exc:  # recorded on the dock, with backoff; nothing to retry here
        log.info("sync of dock %s failed: %s", dock_id, exc.message)


@shared_task(name="docks.erase_expired_credentials", ignore_result=True)
def erase_expired_credentials() -> None:
    erase_expired_previous_credentials()
