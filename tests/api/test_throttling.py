"""Rate limits per token and per IP, from settings, answered with 429 and Retry-After."""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import cache

from stackdock.api.throttling import IpRateThrottle, TokenRateThrottle
from stackdock.utils.cache import count_hits
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db

#: a Redis database of the tests' own for the cache (15 is the broker, 13 the benchmarks)
CACHE_DB = 14


def _redis_cache_url() -> str:
    url = os.environ.get("STACKDOCK_TEST_REDIS_URL")
    if not url:
        pytest.skip("needs Redis: run through `make test`, or set STACKDOCK_TEST_REDIS_URL")
    return url.rsplit("/", 1)[0] + f"/{CACHE_DB}"


@pytest.fixture(autouse=True, params=["locmem", "redis"])
def cache_backend(request, settings):
    """Every test here runs on the in-process cache and on Redis, as in production."""
    if request.param == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "stackdock.utils.cache.RedisCache",
                "LOCATION": _redis_cache_url(),
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",  # no clear(): other runs share Redis
            }
        }
    return request.param


@pytest.fixture
def rates(settings):
    def set_rates(token="1000/min", ip="1000/min"):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token": token, "ip": ip},
        }

    return set_rates


def test_a_token_over_its_rate_gets_429_with_retry_after(rates, owner_client, client_for, admin):
    rates(token="3/min")
    statuses = [owner_client.get("/api/v1/whoami").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = owner_client.get("/api/v1/whoami")
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert client_for(admin).get("/api/v1/whoami").status_code == 200  # its own budget


def test_the_window_passes(rates, owner_client, monkeypatch):
    import time

    rates(token="2/min")
    owner_client.get("/api/v1/whoami")
    owner_client.get("/api/v1/whoami")
    assert owner_client.get("/api/v1/whoami").status_code == 429
    later = time.time() + 61
    monkeypatch.setattr(TokenRateThrottle, "timer", lambda self: later)
    monkeypatch.setattr(IpRateThrottle, "timer", lambda self: later)
    assert owner_client.get("/api/v1/whoami").status_code == 200


def test_ip_limit_applies_before_authentication(rates):
    """Guessing tokens from one address runs into the per-IP limit."""
    rates(ip="3/min")
    client = client_with("sdk_00000000_guess")
    statuses = [client.get("/api/v1/whoami").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert int(client.get("/api/v1/whoami")["Retry-After"]) >= 1


def test_forwarded_for_does_not_escape_the_ip_limit(rates):
    rates(ip="2/min")
    client = client_with(None)
    statuses = [
        client.get("/api/v1/whoami", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(rates, settings):
    rates(ip="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = client_with(None)
    statuses = [
        client.get("/api/v1/whoami", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 401]


def test_bad_rate_in_the_environment_stops_startup(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from stackdock.settings import _throttle_rate

    monkeypatch.setenv("STACKDOCK_THROTTLE_TOKEN", "lots")
    with pytest.raises(ImproperlyConfigured, match="STACKDOCK_THROTTLE_TOKEN"):
        _throttle_rate("STACKDOCK_THROTTLE_TOKEN", "600/min")
    monkeypatch.setenv("STACKDOCK_THROTTLE_TOKEN", "50/hour")
    assert _throttle_rate("STACKDOCK_THROTTLE_TOKEN", "600/min") == "50/hour"


def test_count_hits_counts_reads_and_expires(cache_backend):
    cache.set("stackdock:test-read", {"a": 1}, timeout=60)
    counts, values = count_hits(
        cache, [("c1", 30), ("c2", 30)], read=["stackdock:test-read", "nope"]
    )
    assert counts == [1, 1] and values == [{"a": 1}, None]
    counts, _ = count_hits(cache, [("c1", 30)])
    assert counts == [2]
    assert cache.get("c1") == 2  # a plain cache value too
    if cache_backend == "redis":
        client = cache._cache.get_client(write=True)
        ttl = client.ttl(cache.make_key("c1"))
        assert 0 < ttl <= 30  # the first hit set the counter's life; later hits keep it


def test_the_redis_client_is_built_once(cache_backend):
    if cache_backend != "redis":
        pytest.skip("Redis only")
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
