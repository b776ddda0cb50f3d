"""Dock services through the real AWS adapter against a moto server process."""

from __future__ import annotations

import boto3
import pytest

from audit.models import AuditEvent
from conftest import actor_of
from docks.models import Bucket, Dock, ProvisioningSource
from docks.services import (
    credentials_rotate,
    dock_connect,
    dock_credentials,
    dock_delete,
    erase_expired_previous_credentials,
)
from docks.sync import backoff, dock_sync
from stackdock.exceptions import Conflict, PermissionDenied, ValidationError

CANARY = "CANARY-secret-7f3a"


def creds(secret: str = CANARY) -> dict:
    return {
        "access_key_id": "AKIATESTTESTTEST0001",
        "secret_access_key": secret,
        "region": "us-east-1",
        "sync_regions": ["us-east-1"],
    }


def s3(url: str):
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIATESTTESTTEST0001",
        aws_secret_access_key="x",
    )


@pytest.fixture
def aws_dock(org, owner, moto):
    return dock_connect(
        actor=actor_of(owner),
        org=org,
        name="aws",
        provider="aws",
        credentials=creds(),
        endpoint_url=moto,
    )


@pytest.mark.django_db
def test_connect_checks_credentials_and_stores_them_encrypted(aws_dock, owner):
    assert aws_dock.credential_fields == [
        "access_key_id",
        "region",
        "secret_access_key",
        "sync_regions",
    ]
    assert CANARY not in str(Dock.objects.filter(pk=aws_dock.pk).values().get())
    assert (
        dock_credentials(dock=aws_dock, actor=actor_of(owner), purpose="sync")["secret_access_key"]
        == CANARY
    )
    assert CANARY not in str(list(AuditEvent.objects.values()))


@pytest.mark.django_db
def test_connect_refuses_bad_fields_naming_them(org, owner, moto):
    with pytest.raises(ValidationError) as err:
        dock_connect(
            actor=actor_of(owner),
            org=org,
            name="aws",
            provider="aws",
            credentials={"access_key_id": "nope", "secret_access_key": CANARY},
            endpoint_url=moto,
        )
    assert "credentials.access_key_id" in err.value.fields
    assert CANARY not in str(err.value.message) + str(err.value.fields)
    with pytest.raises(ValidationError, match="Unknown provider 'gcp'"):
        dock_connect(actor=actor_of(owner), org=org, name="g", provider="gcp", credentials={})
    assert not Dock.objects.exists()


@pytest.mark.django_db
def test_connect_refuses_unreachable_provider(org, owner):
    with pytest.raises(ValidationError, match="Could not reach"):
        dock_connect(
            actor=actor_of(owner),
            org=org,
            name="aws",
            provider="aws",
            credentials=creds(),
            endpoint_url="http://127.0.0.1:9",
        )
    assert not Dock.objects.exists()


@pytest.mark.django_db
def test_developer_cannot_connect_docks(org, developer, moto):
    with pytest.raises(PermissionDenied):
        dock_connect(
            actor=actor_of(developer),
            org=org,
            name="aws",
            provider="aws",
            credentials=creds(),
            endpoint_url=moto,
        )


@pytest.mark.django_db
def test_sync_upserts_discovered_buckets_and_removes_vanished_ones(aws_dock, moto):
    client = s3(moto)
    client.create_bucket(Bucket="found-one")
    client.create_bucket(Bucket="found-two")
    counts = dock_sync(dock=aws_dock)
    assert counts["created"] == 2
    rows = Bucket.objects.filter(dock=aws_dock).order_by("name")
    assert [r.name for r in rows] == ["found-one", "found-two"]
    assert {r.provisioning_source for r in rows} == {ProvisioningSource.MANUAL}
    client.delete_bucket(Bucket="found-two")
    assert dock_sync(dock=aws_dock)["deleted"] == 1
    assert list(Bucket.objects.values_list("name", flat=True)) == ["found-one"]
    aws_dock.refresh_from_db()
    assert aws_dock.sync_status == "ok" and aws_dock.next_sync_at is not None


@pytest.mark.django_db
def test_sync_marks_a_vanished_provisioned_resource_drifted_instead_of_deleting(aws_dock, moto):
    s3(moto).create_bucket(Bucket="managed")
    dock_sync(dock=aws_dock)
    Bucket.objects.filter(name="managed").update(provisioning_source=ProvisioningSource.API)
    s3(moto).delete_bucket(Bucket="managed")
    assert dock_sync(dock=aws_dock)["drifted"] == 1
    row = Bucket.objects.get(name="managed")
    assert row.drift == {"__exists__": {"old": True, "new": False}}


@pytest.mark.django_db
def test_failing_sync_records_the_error_and_backs_off(aws_dock):
    Dock.objects.filter(pk=aws_dock.pk).update(endpoint_url="http://127.0.0.1:9")
    aws_dock.refresh_from_db()
    for expected in (1, 2):
        with pytest.raises(Exception):  # noqa: B017 - the adapter's ProviderError
            dock_sync(dock=aws_dock)
        aws_dock.refresh_from_db()
        assert aws_dock.sync_status == "error" and aws_dock.sync_failures == expected
        assert aws_dock.sync_error
    assert backoff(1).total_seconds() == 120 and backoff(10).total_seconds() == 3600


@pytest.mark.django_db
def test_rotation_with_bad_credentials_keeps_the_old_ones(aws_dock, owner):
    from tests.fixtures.moto_server import moto_iam_auth

    before = aws_dock.api_credentials
    with moto_iam_auth(aws_dock.endpoint_url), pytest.raises(ValidationError):
        credentials_rotate(actor=actor_of(owner), dock=aws_dock, credentials=creds("wrong-secret"))
    aws_dock.refresh_from_db()
    assert aws_dock.api_credentials == before


@pytest.mark.django_db
def test_rotation_swaps_and_erases_the_previous_after_the_grace_window(aws_dock, owner):
    from datetime import timedelta

    from django.utils import timezone

    rotated = credentials_rotate(
        actor=actor_of(owner), dock=aws_dock, credentials=creds("new-secret"), grace_seconds=600
    )
    assert (
        dock_credentials(dock=rotated, actor=actor_of(owner), purpose="provision")[
            "secret_access_key"
        ]
        == "new-secret"
    )
    assert rotated.previous_provisioning_credentials
    assert erase_expired_previous_credentials() == 0  # still in the window
    assert erase_expired_previous_credentials(now=timezone.now() + timedelta(seconds=601)) == 1
    rotated.refresh_from_db()
    assert rotated.previous_provisioning_credentials == ""
    assert AuditEvent.objects.filter(operation="credential.rotate").exists()


@pytest.mark.django_db
def test_dock_with_provisioned_resources_is_not_deleted_unless_orphaned(aws_dock, owner, moto):
    s3(moto).create_bucket(Bucket="kept")
    dock_sync(dock=aws_dock)
    Bucket.objects.update(provisioning_source=ProvisioningSource.API)
    with pytest.raises(Conflict, match="1 resource"):
        dock_delete(actor=actor_of(owner), dock=aws_dock)
    dock_delete(actor=actor_of(owner), dock=aws_dock, orphan=True)
    assert not Dock.objects.exists()
    assert Bucket.objects.get().dock is None


@pytest.mark.django_db
def test_due_docks_are_claimed_once_and_synced_by_the_task(aws_dock, moto):
    from django.utils import timezone

    from docks.sync import docks_due
    from docks.tasks import sync_dock

    s3(moto).create_bucket(Bucket="seen-by-beat")
    assert docks_due() == [aws_dock.pk]
    assert docks_due() == []  # claimed: a second beat tick does not sync it twice
    sync_dock(str(aws_dock.pk))
    aws_dock.refresh_from_db()
    assert aws_dock.sync_status == "ok"
    assert aws_dock.next_sync_at > timezone.now()
    assert Bucket.objects.filter(name="seen-by-beat").exists()
    assert docks_due() == []  # not due again until its interval has passed
