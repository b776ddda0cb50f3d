"""Celery tasks: thin - take ids, call a service, let Celery retry what is transient."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from provisioning.runner import operation_run, operations_reap


@shared_task(name="provisioning.run_operation", acks_late=True, ignore_result=True)
def run_operation(operation_id: int) -> None:
    operation_run(operation_id)


@shared_task(name="provisioning.reap_operations", ignore_result=True)
def reap_operations() -> None:
    operations_reap(max_attempts=settings.STACKDOCK_REAP_MAX_ATTEMPTS)
