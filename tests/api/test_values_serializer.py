"""List pages are serialized from ``.values()`` rows; the output must be the serializer's own."""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework import serializers

from docks.api import serializers as resource_serializers
from docks.api.serializers import RESOURCE_ROWS, RESOURCE_SERIALIZERS
from docks.models import UNIVERSAL_MODELS, Dock
from stackdock.api.serializers import ValuesSerializer
from tests.factories import DockFactory

pytestmark = pytest.mark.django_db

TABLE_VALUES = {
    "servers": {"primary_ip": "10.0.0.7", "instance_type": "t3.micro"},
    "web-services": {"production_url": "https://example.test/app", "environment": "prod"},
    "domains": {
        "domain_name": "example.test",
        "expires_at": datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
    },
    "databases": {"engine": "postgres", "version": "15", "endpoint": "db.example.test:5432"},
    "buckets": {"endpoint": "https://s3.example.test"},
}


def _rows(org, table):
    model = UNIVERSAL_MODELS[table]
    dock = DockFactory(org=org, provider="sandbox", name=f"dock-{table}")
    gone = DockFactory(org=org, provider="sandbox", name=f"gone-{table}")
    model.objects.create(
        org=org,
        dock=dock,
        provider="sandbox",
        resource_type=table.rstrip("s"),
        provider_resource_id="r-1",
        name="full",
        status="running",
        region="eu-west-1",
        full_api_data={"id": "r-1", "nested": {"list": [1, 2.5, None, "ü"]}},
        spec={"name": "full", "password": "s3cret", "size": None},
        provisioning_source="api",
        provisioning_state="provisioned",
        provisioned_at=datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        last_seen_at=datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC),  # no microseconds
        sst_stack_name="_single",
        sst_resource_id="resource",
        drift={"size": {"was": "s", "now": "m"}},
        **TABLE_VALUES[table],
    )
    model.objects.create(org=org, dock=gone, provider="aws", name="sparse")  # defaults, nulls
    Dock.objects.filter(pk=gone.pk).delete()  # its rows keep a null dock
    return model.objects.filter(org=org).order_by("name", "id")


def _plain(data):
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("table", list(UNIVERSAL_MODELS))
def test_values_rows_serialize_exactly_as_the_serializer(table, owner, monkeypatch):
    monkeypatch.setattr(
        resource_serializers,
        "_secret_fields",
        lambda provider, rtype: frozenset({"password"}) if provider == "sandbox" else frozenset(),
    )
    qs = _rows(owner.org, table)
    rows = RESOURCE_ROWS[table]
    expected = _plain(RESOURCE_SERIALIZERS[table](qs, many=True).data)
    got = _plain(rows.many(qs.values(*rows.columns)))
    assert got == expected
    assert [list(item) for item in got] == [list(item) for item in expected]  # field order
    assert got[0]["spec"]["password"] == "********"
    assert got[1]["dock"] is None and got[1]["dock_name"] is None


def test_date_times_follow_the_active_time_zone(owner):
    qs = _rows(owner.org, "domains")
    rows = RESOURCE_ROWS["domains"]
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        expected = _plain(RESOURCE_SERIALIZERS["domains"](qs, many=True).data)
        got = _plain(rows.many(qs.values(*rows.columns)))
    assert got == expected
    assert got[0]["provisioned_at"] == "2026-05-06T03:08:09.123456-04:00"


@pytest.mark.parametrize("table", list(UNIVERSAL_MODELS))
def test_the_list_endpoint_answers_what_the_detail_serializer_says(table, owner, owner_client):
    qs = _rows(owner.org, table)
    body = owner_client.get(f"/api/v1/{table}").json()
    assert body["count"] == 2
    assert body["results"] == _plain(RESOURCE_SERIALIZERS[table](qs, many=True).data)


def test_a_method_field_without_a_computed_replacement_is_refused():
    class WithMethod(serializers.Serializer):
        name = serializers.CharField()
        shout = serializers.SerializerMethodField()

    with pytest.raises(ImproperlyConfigured, match="shout"):
        ValuesSerializer(WithMethod)
    with pytest.raises(ImproperlyConfigured, match="nothing"):
        ValuesSerializer(
            WithMethod, {"shout": ((), lambda r, m: 1), "nothing": ((), lambda r, m: 1)}
        )
