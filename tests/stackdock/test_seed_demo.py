"""``seed_demo``: moto coming up on another port moves the emulated dock the proper way."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from docks.models import Dock


@pytest.mark.django_db
def test_a_new_moto_port_moves_the_dock_with_its_credentials_entered_again(
    moto, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--moto-url", moto)
    dock = Dock.objects.get(name="AWS (emulated)")
    assert dock.endpoint_url == moto
    moved = moto.replace("127.0.0.1", "localhost")  # the same moto, a new destination

    call_command("seed_demo", "--moto-url", moved)

    dock.refresh_from_db()
    assert dock.endpoint_url == moved
    event = AuditEvent.objects.get(operation="dock.endpoint_change")
    assert (event.metadata["from"], event.metadata["to"]) == (moto, moved)
