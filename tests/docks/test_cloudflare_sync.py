"""Dock sync through the real Cloudflare SDK against the local emulator."""

from __future__ import annotations

import pytest
from cloudflare import Cloudflare

from conftest import actor_of
from docks.models import Bucket, Database, Domain, ProvisioningSource
from docks.services import dock_connect
from docks.sync import dock_sync
from tests.fakes.cloudflare.fixtures import CF_ACCOUNT_ID, CF_TOKEN

LIMITED = "cf-limited-token-0123456789abcdefghij"


def sdk(emulator, token=CF_TOKEN) -> Cloudflare:
    return Cloudflare(api_token=token, base_url=emulator.base_url, max_retries=0)


def connect(org, owner, emulator, token=CF_TOKEN):
    return dock_connect(
        actor=actor_of(owner),
        org=org,
        name="cf",
        provider="cloudflare",
        credentials={"api_token": token, "account_id": CF_ACCOUNT_ID},
        endpoint_url=emulator.base_url,
    )


@pytest.mark.django_db
def test_sync_reads_zones_r2_and_d1_into_the_universal_tables(org, owner, cf_emulator):
    client = sdk(cf_emulator)
    client.zones.create(account={"id": CF_ACCOUNT_ID}, name="example.com")
    client.r2.buckets.create(account_id=CF_ACCOUNT_ID, name="assets")
    client.d1.database.create(account_id=CF_ACCOUNT_ID, name="app-db")
    dock = connect(org, owner, cf_emulator)
    counts = dock_sync(dock=dock)
    assert counts["created"] == 3
    assert Domain.objects.get().domain_name == "example.com"
    assert Bucket.objects.get().name == "assets"
    assert Database.objects.get().engine == "d1"
    assert Domain.objects.get().provisioning_source == ProvisioningSource.MANUAL
    assert CF_TOKEN not in str(list(Domain.objects.values("full_api_data")))


@pytest.mark.django_db
def test_products_the_token_may_not_list_are_left_alone(org, owner, cf_emulator):
    client = sdk(cf_emulator)
    client.zones.create(account={"id": CF_ACCOUNT_ID}, name="example.com")
    client.r2.buckets.create(account_id=CF_ACCOUNT_ID, name="assets")
    dock = connect(org, owner, cf_emulator)
    dock_sync(dock=dock)
    assert Bucket.objects.count() == 1
    # the dock's token is replaced by one that may read zones only
    cf_emulator.add_token(LIMITED, CF_ACCOUNT_ID, permissions=["Zone Read"])
    from docks.services import dock_set_credentials

    dock = dock_set_credentials(
        actor=actor_of(owner),
        dock=dock,
        credentials={"api_token": LIMITED, "account_id": CF_ACCOUNT_ID},
    )
    counts = dock_sync(dock=dock)
    assert counts["deleted"] == 0
    assert Bucket.objects.count() == 1  # not listed is not gone
    assert Domain.objects.count() == 1


@pytest.mark.django_db
def test_a_rejected_token_fails_the_sync_with_cloudflares_reason(org, owner, cf_emulator):
    dock = connect(org, owner, cf_emulator)
    cf_emulator.state.clear_tokens()
    from docks.adapters.base import ProviderError

    with pytest.raises(ProviderError):
        dock_sync(dock=dock)
    dock.refresh_from_db()
    assert dock.sync_status == "error" and dock.sync_error
    assert CF_TOKEN not in dock.sync_error
