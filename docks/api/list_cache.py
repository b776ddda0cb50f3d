"""Universal-table list pages from the shared cache, checked against the table's change marker.

A page is cached under (table, organization, filters, limit, offset) together
with the marker of its table (docks.changes) at the time it was read; it is
served only while that marker is unchanged, and for at most
``STACKDOCK_LIST_CACHE_SECONDS``. Only actors who may read every resource of
their organization share pages (a role limited to some docks sees other rows,
so it always reads the database). What is cached is the ``count`` and the
rendered ``results``; the ``next``/``previous`` links are built for each
request, and the body is spliced together exactly as DRF renders it.

A hit costs one cache round trip (the marker and the page in one
``get_many``) and no SQL.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.response import Response

from docks.changes import current_markers, marker_key
from stackdock.api.renderers import JSONRenderer, RawJSON
from stackdock.api.serializers import ValuesSerializer
from stackdock.permissions import Actor, Area, Level

PAGE_KEY = "stackdock:list:{table}:{org}:{query}"
_RESULTS_TAIL = b'"results":[]}'


def shares_pages(actor: Actor) -> bool:
    return (
        settings.STACKDOCK_LIST_CACHE_SECONDS > 0
        and not actor.is_system
        and actor.org is not None
        and actor.allows(Area.RESOURCES, Level.READ)
    )


def page_key(table: str, org_id: int, filters: dict[str, Any], limit: int, offset: int) -> str:
    query = json.dumps(
        [sorted((k, v) for k, v in filters.items() if v not in (None, "")), limit, offset],
        default=str,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    return PAGE_KEY.format(table=table, org=org_id, query=digest)


def list_response(
    view: Any,
    *,
    table: str,
    queryset: Any,
    rows: ValuesSerializer,
    filters: dict[str, Any],
    cached: bool = True,
) -> Response:
    """The paginated list of ``queryset`` as ``rows``, from the cache when it can be
    (never with ``cached=False``: the benchmark's database path)."""
    request, paginator, actor = view.request, view.paginator, view.actor
    renderer = JSONRenderer()
    if not cached or not shares_pages(actor):
        return _respond(paginator, renderer, *_read(view, queryset, rows, renderer))
    limit, offset = paginator.get_limit(request), paginator.get_offset(request)
    key = page_key(table, actor.org.pk, filters, limit, offset)
    found = cache.get_many([marker_key(table), key])
    marker = found.get(marker_key(table)) or current_markers([table])[table]
    entry = found.get(key)
    if entry is not None and entry[0] == marker:
        _, count, body = entry
        paginator.request, paginator.limit, paginator.offset, paginator.count = (
            request,
            limit,
            offset,
            count,
        )
        return _respond(paginator, renderer, count, body)
    count, body = _read(view, queryset, rows, renderer)
    cache.set(key, (marker, count, body), timeout=settings.STACKDOCK_LIST_CACHE_SECONDS)
    return _respond(paginator, renderer, count, body)


def _read(view: Any, queryset: Any, rows: ValuesSerializer, renderer: JSONRenderer) -> Any:
    page = view.paginator.paginate_values(queryset, rows.columns, view.request, view=view)
    return view.paginator.count, renderer.render(rows.many(page or []))


def _respond(paginator: Any, renderer: JSONRenderer, count: int, body: bytes) -> Response:
    envelope = renderer.render(
        {
            "count": count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": [],
        }
    )
    assert envelope.endswith(_RESULTS_TAIL)  # noqa: S101 - DRF's own key order
    return Response(RawJSON(envelope[: -len(b"[]}")] + body + b"}"))
