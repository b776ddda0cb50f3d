"""The cache: Django's Redis backend with a shared client, and hit counters in one round trip.

Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` for
every cache call; redis-py fills a table of ~170 response callbacks in each
constructor, which made a request's throttle look-ups cost more than the Redis
round trips themselves. A ``redis.Redis`` is safe to share between threads
(each command takes a connection from the pool), so one per pool is enough.

``count_hits`` counts one hit on several counters and reads a few keys: on
Redis as one pipeline (one round trip), on any other backend with the plain
cache API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient

#: (counter key, seconds the counter lives after its first hit)
Hit = tuple[str, int]


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(
                id(pool),
                self._client(connection_pool=pool),  # type: ignore[attr-defined]
            )
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with a shared client (see above)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count_hits(self, hits: Sequence[Hit], read: Sequence[str]) -> tuple[list[int], list[Any]]:
        client = self._cache.get_client(write=True)
        pipe = client.pipeline(transaction=False)
        for key, timeout in hits:
            name = self.make_and_validate_key(key)
            pipe.set(name, 0, ex=timeout, nx=True)  # the first hit starts the counter's life
            pipe.incr(name)
        for key in read:
            pipe.get(self.make_and_validate_key(key))
        out = pipe.execute()
        counts = [int(out[2 * i + 1]) for i in range(len(hits))]
        loads = self._cache._serializer.loads  # type: ignore[attr-defined]
        values = [None if raw is None else loads(raw) for raw in out[2 * len(hits) :]]
        return counts, values


def count_hits(
    cache: BaseCache, hits: Sequence[Hit], read: Sequence[str] = ()
) -> tuple[list[int], list[Any]]:
    """Add one to each counter in ``hits`` and read the keys in ``read``.

    Returns the counters' new values and the values read (None when missing).
    A counter that does not exist starts at 0 and lives ``timeout`` seconds.
    """
    own = getattr(cache, "count_hits", None)
    if own is not None:
        result: tuple[list[int], list[Any]] = own(hits, read)
        return result
    counts = []
    for key, timeout in hits:
        cache.add(key, 0, timeout)
        try:
            counts.append(cache.incr(key))
        except ValueError:  # it expired between add() and incr()
            cache.set(key, 1, timeout)
            counts.append(1)
    found = cache.get_many(list(read)) if read else {}
    return counts, [found.get(key) for key in read]
