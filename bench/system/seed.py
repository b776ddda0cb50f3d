"""Bench data and per-request query counts (child processes with Django on the bench database).

Rows are written with ``bulk_create``: this is fixture data for a benchmark,
not application behaviour, so it does not go through the services (which
would audit and validate every row). Organizations, owners, tokens and
sessions do go through the services or Django's own session store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bench.common import setup_django

#: share of each table in the universal rows
TABLE_WEIGHTS = {
    "servers": 0.4,
    "web-services": 0.15,
    "domains": 0.15,
    "databases": 0.15,
    "buckets": 0.15,
}
WORDS = ("api", "web", "db", "cache", "worker", "edge", "batch", "queue", "auth", "search")
REGIONS = ("eu-west-1", "us-east-1", "us-west-2", "ap-south-1")
SOURCES = ("api", "sst", "manual")
#: the search the filtered-list figure runs (a name fragment plus a state filter):
#: one name in ten holds it, so the first organization always has matches
SEARCH_TERM = "cache"
BATCH = 2000


def _orgs(prefix: str) -> list[Any]:
    from stackdock.models import Organization

    return list(Organization.objects.filter(slug__startswith=prefix).order_by("slug"))


def setup(*, orgs: int, prefix: str = "bench") -> dict[str, Any]:
    """Organizations (each with an owner and a sandbox dock), the first one's API token
    and a dashboard session. Returns what the load generator needs."""
    setup_django()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from docks.models import Dock
    from frontend.tenancy import SESSION_KEY as ORG_SESSION_KEY
    from stackdock.models import Membership
    from stackdock.permissions import Actor
    from stackdock.services import org_create, token_create

    for i in range(orgs):
        org, _ = org_create(slug=f"{prefix}-{i:03d}", owner_email=f"owner{i}@{prefix}.test")
        Dock.objects.create(org=org, name="sandbox", provider="sandbox")
    org = _orgs(prefix)[0]
    owner = Membership.objects.select_related("user", "org", "role").get(
        org=org, role__name="owner"
    )
    _, secret = token_create(
        actor=Actor.for_membership(owner), membership=owner, name="bench", expires_days=1
    )
    session = SessionStore()
    session[SESSION_KEY] = str(owner.user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = owner.user.get_session_auth_hash()
    session[ORG_SESSION_KEY] = org.pk
    session.save()
    return {"token": secret, "session": session.session_key, "org_id": org.pk}


def grow(
    *,
    rows: int,
    operations: int,
    events_per_op: int,
    detail_ops: int,
    detail_events: int,
    big_share: float,
    prefix: str = "bench",
) -> dict[str, Any]:
    """Add universal rows and operations until there are ``rows`` and ``operations``.

    The first organization (the one the load generator acts as) owns
    ``big_share`` of everything, the others share the rest. ``detail_ops`` of
    the first organization's operations get ``detail_events`` events each.
    """
    setup_django()
    from docks.models import UNIVERSAL_MODELS
    from provisioning.models import Operation

    orgs = _orgs(prefix)
    docks = _docks(orgs)
    have_rows = sum(m.objects.filter(org__in=orgs).count() for m in UNIVERSAL_MODELS.values())
    for table, count in _split(rows - have_rows, TABLE_WEIGHTS).items():
        _add_rows(table, count, orgs, docks, big_share)
    have_ops = Operation.objects.filter(org__in=orgs).count()
    _add_operations(operations - have_ops, orgs, big_share, events_per_op)
    detail = _ensure_detail_ops(orgs[0], detail_ops, detail_events)
    _analyze()
    return {
        "rows": sum(m.objects.filter(org__in=orgs).count() for m in UNIVERSAL_MODELS.values()),
        "big_org_servers": UNIVERSAL_MODELS["servers"].objects.filter(org=orgs[0]).count(),
        "operations": Operation.objects.filter(org__in=orgs).count(),
        "detail_op": detail[0],
        "detail_ops": detail,
    }


def _analyze() -> None:
    """The tables as autovacuum leaves them on a live database: planner statistics
    (without them PostgreSQL sorts a whole organization to show one page) and, since
    PostgreSQL 13 vacuums tables that only grew too, a visibility map (without it a
    ``COUNT(*)`` visits every heap page instead of the index alone)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _docks(orgs: list[Any]) -> dict[int, Any]:
    from docks.models import Dock

    return {d.org_id: d for d in Dock.objects.filter(org__in=orgs, name="sandbox")}


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    if total <= 0:
        return {}
    out = {table: int(total * w) for table, w in weights.items()}
    out[next(iter(weights))] += total - sum(out.values())
    return out


def _owner_of(index: int, orgs: list[Any], big_share: float) -> Any:
    """Deterministic: blocks of ``len(WORDS)`` consecutive rows go to one organization,
    one block in ``1 / big_share`` to the first (so it gets every kind of name)."""
    block = index // len(WORDS)
    period = max(1, round(1 / big_share))
    if block % period == 0 or len(orgs) == 1:
        return orgs[0]
    return orgs[1 + block % (len(orgs) - 1)]


def _add_rows(
    table: str,
    count: int,
    orgs: list[Any],
    docks: dict[int, Any],
    big_share: float,
) -> None:
    from django.utils import timezone

    from docks.models import UNIVERSAL_MODELS

    model = UNIVERSAL_MODELS[table]
    start = model.objects.count()
    now = timezone.now()
    batch: list[Any] = []
    for i in range(start, start + count):
        org = _owner_of(i, orgs, big_share)
        source = SOURCES[i % len(SOURCES)]
        name = f"{WORDS[i % len(WORDS)]}-{i}"
        row = model(
            org=org,
            dock=docks[org.pk],
            provider="sandbox",
            provider_resource_id=f"{table[:3]}-{i:08d}",
            resource_type=table.rstrip("s"),
            name=name,
            status="running",
            region=REGIONS[i % len(REGIONS)],
            full_api_data={"id": f"{table[:3]}-{i:08d}", "name": name, "size": "small"},
            spec={"name": name, "size": "small"} if source != "manual" else {},
            provisioning_source=source,
            provisioning_state="provisioned" if source != "manual" else "",
            provisioned_at=now if source != "manual" else None,
            last_seen_at=now,
        )
        if table == "servers":
            row.primary_ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{1 + i % 254}"
            row.instance_type = "standard"
        batch.append(row)
        if len(batch) >= BATCH:
            model.objects.bulk_create(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)


def _add_operations(count: int, orgs: list[Any], big_share: float, events_per_op: int) -> None:
    from django.utils import timezone

    from provisioning.models import Operation

    if count <= 0:
        return
    now = timezone.now()
    for start in range(0, count, BATCH):
        ops = []
        for i in range(start, min(count, start + BATCH)):
            org = _owner_of(i, orgs, big_share)
            at = now - timedelta(seconds=count - i)
            ops.append(
                Operation(
                    org=org,
                    kind="provision",
                    status="succeeded",
                    actor_repr=f"owner@{org.slug}",
                    resource_table="servers",
                    resource_type="server",
                    request={"spec": {"name": f"seed-{i}"}},
                    summary={"created": 1},
                    progress_done=1,
                    progress_total=1,
                    attempts=1,
                    started_at=at,
                    finished_at=at,
                )
            )
        created = Operation.objects.bulk_create(ops)
        _add_events([op.pk for op in created], events_per_op, now)


def _add_events(op_ids: list[int], per_op: int, at: Any, first_seq: int = 1) -> None:
    from provisioning.models import OperationEvent

    batch: list[Any] = []
    for op_id in op_ids:
        for seq in range(first_seq, first_seq + per_op):
            batch.append(
                OperationEvent(
                    operation_id=op_id,
                    seq=seq,
                    resource="" if seq == 1 else f"r{seq}",
                    action="create",
                    status="succeeded",
                    message=f"create succeeded (step {seq})",
                    duration_ms=12,
                    at=at,
                )
            )
            if len(batch) >= BATCH * 5:
                OperationEvent.objects.bulk_create(batch)
                batch = []
    if batch:
        OperationEvent.objects.bulk_create(batch)


def _ensure_detail_ops(org: Any, count: int, events: int) -> list[int]:
    """``count`` of ``org``'s newest operations, each topped up to ``events`` events."""
    from django.db.models import Max
    from django.utils import timezone

    from provisioning.models import Operation

    ops = list(
        Operation.objects.filter(org=org)
        .annotate(last_seq=Max("events__seq"))
        .order_by("-created_at", "-id")[:count]
    )
    now = timezone.now()
    for op in ops:
        have = op.last_seq or 0
        if have < events:
            _add_events([op.pk], events - have, now, first_seq=have + 1)
    return [op.pk for op in ops]


def stage(*, grow_to: dict[str, Any], token: str, session: str) -> dict[str, Any]:
    """``grow(**grow_to)``, then the query counts of the API benchmark's targets."""
    from bench.system.api import targets

    data = grow(**grow_to)
    paths = targets(data["detail_op"])
    return {"data": data, "queries": query_counts(token=token, session=session, paths=paths)}


def query_counts(*, token: str, session: str, paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Queries and status of one request to each path, through Django's test client.

    ``paths`` maps a figure name to ``{"path": ..., "auth": "token" | "session" | None,
    "htmx": bool}``. Each path is requested twice and the second request counted
    (the first warms per-process caches, as in a running server). The list page
    cache is off here: the count is of the database path, which a page takes
    whenever its table was written since it was cached.
    """
    setup_django()
    from django.test import override_settings

    with override_settings(STACKDOCK_LIST_CACHE_SECONDS=0):
        return _query_counts(token=token, session=session, paths=paths)


def _query_counts(*, token: str, session: str, paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = session
    out: dict[str, Any] = {}
    for name, spec in paths.items():
        headers = _headers(spec, token)
        client.get(spec["path"], **headers)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(spec["path"], **headers)
        out[name] = {"queries": len(ctx.captured_queries), "status": response.status_code}
    return out


def _headers(spec: dict[str, Any], token: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    if spec.get("auth") == "token":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if spec.get("htmx"):
        headers["HTTP_HX_REQUEST"] = "true"
    return headers
