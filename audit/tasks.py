"""The audit log's periodic work."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_checkpoint_all


@shared_task(name="audit.checkpoint", ignore_result=True)
def checkpoint() -> None:
    """Record every scope's lane lengths in its register (``STACKDOCK_AUDIT_CHECKPOINT_SECONDS``)."""
    audit_checkpoint_all()
