"""The API at scale (issue 9, item 1).

100 organizations, 100,000 universal-table rows (40% servers) and 20,000
operations with events, in a fresh PostgreSQL database; gunicorn (2 gthread
workers) on loopback with Redis as cache; a single-client load generator in
another process. The organization the client acts as owns 20% of everything
(10,000 servers of its own: the page and the count have work to do).

Figures, at 1,000 rows (200 operations) and again at 100,000 (20,000):
median and p95 latency of ``GET /api/v1/servers?limit=50``, a filtered search,
``GET /api/v1/operations/{id}`` with 50 events, the dashboard's overview page
and its operation status partial, each as a ratio to a bare DRF endpoint
returning a constant (``/bench/constant``), measured in the same rounds (the
load generator is the bench's own process: ``bench.system.loadgen``); and
the number of SQL queries each request makes, which must not grow with rows.
The servers list is measured twice: as served (repeated pages come from the
shared page cache) and with the cache off (``/bench/servers-uncached``, the
same view reading the database: what a page costs right after a write).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.common import (
    BenchContext,
    Figure,
    Report,
    Target,
    log,
    median,
    percentile,
)
from bench.system.env import running_system
from bench.system.loadgen import latencies
from bench.system.seed import SEARCH_TERM

BARE = "bare DRF constant"
LIST = "GET /servers?limit=50"
UNCACHED_LIST = "GET /servers?limit=50, page cache off"


@dataclass(frozen=True)
class ApiSizes:
    orgs: int = 100
    #: (universal rows, operations) at each stage
    stages: tuple[tuple[int, int], ...] = ((1_000, 200), (100_000, 20_000))
    events_per_op: int = 5
    detail_events: int = 50
    big_share: float = 0.2
    requests: int = 300
    warmup: int = 30

    @classmethod
    def quick(cls) -> ApiSizes:
        return cls(orgs=3, stages=((40, 10), (400, 60)), requests=5, warmup=1)


def targets(detail_op: int) -> dict[str, dict[str, Any]]:
    """What the load generator requests, by figure name."""
    search = f"/api/v1/servers?limit=50&search={SEARCH_TERM}&provisioning_state=provisioned"
    return {
        BARE: {"path": "/bench/constant"},
        "constant behind token auth": {"path": "/bench/constant-auth", "auth": "token"},
        LIST: {"path": "/api/v1/servers?limit=50", "auth": "token"},
        UNCACHED_LIST: {"path": "/bench/servers-uncached?limit=50", "auth": "token"},
        "filtered search": {"path": search, "auth": "token"},
        "GET /operations/{id} (50 events)": {
            "path": f"/api/v1/operations/{detail_op}",
            "auth": "token",
        },
        "dashboard overview": {"path": "/dashboard/", "auth": "session", "accept": "text/html"},
        "dashboard status partial": {
            "path": f"/dashboard/operations/{detail_op}/",
            "auth": "session",
            "htmx": True,
            "accept": "text/html",
        },
    }


def run(ctx: BenchContext) -> Report:
    report = Report("api", command=ctx.command)
    if not (ctx.pg_url and ctx.redis_url):
        report.note("skipped: needs PostgreSQL and Redis")
        return report
    sizes = ApiSizes.quick() if ctx.quick else ApiSizes()
    stages: dict[str, Any] = {}
    log(f"api: {sizes.orgs} organizations")
    with running_system(ctx, "api", orgs=sizes.orgs) as system:
        creds = system.creds
        for rows, operations in sizes.stages:
            log(f"api: growing to {rows:,} rows and {operations:,} operations")
            staged = system.child(
                "bench.system.seed:stage",
                grow_to={
                    "rows": rows,
                    "operations": operations,
                    "events_per_op": sizes.events_per_op,
                    "detail_ops": 1,
                    "detail_events": sizes.detail_events,
                    "big_share": sizes.big_share,
                },
                token=creds["token"],
                session=creds["session"],
            )
            wanted = targets(staged["data"]["detail_op"])
            log(f"api: measuring {len(wanted)} endpoints x {sizes.requests} requests")
            staged["latency"] = latencies(
                base_url=system.base_url,
                targets=wanted,
                token=creds["token"],
                session=creds["session"],
                requests=sizes.requests,
                warmup=sizes.warmup,
            )
            stages[_stage_label(rows)] = staged
    report.raw = {"sizes": sizes.__dict__, "stages": _summaries(stages)}
    _figures(report, sizes, stages)
    return report


def _stage_label(rows: int) -> str:
    return f"{rows // 1000}k rows" if rows >= 1000 else f"{rows} rows"


def _summaries(stages: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, stage in stages.items():
        out[label] = {
            "data": stage["data"],
            "queries": stage["queries"],
            "latency": {
                name: {
                    "median_ms": median(entry["ms"]),
                    "p95_ms": percentile(entry["ms"], 95),
                    "statuses": entry["statuses"],
                    "bytes": entry["bytes"],
                }
                for name, entry in stage["latency"].items()
            },
        }
    return out


def _figures(report: Report, sizes: ApiSizes, stages: dict[str, Any]) -> None:
    labels = list(stages)
    small, big = labels[0], labels[-1]
    for label in labels:
        latency = stages[label]["latency"]
        bare = latency[BARE]["ms"]
        for name, entry in latency.items():
            bad = {s: n for s, n in entry["statuses"].items() if s != "200"}
            if bad:
                report.note(f"{name} at {label}: statuses {bad}")
            if name == BARE:
                report.add(Figure(f"{name}: median [{label}]", median(bare), "ms"))
                report.add(Figure(f"{name}: p95 [{label}]", percentile(bare, 95), "ms"))
                continue
            report.add(
                Figure(
                    f"{name}: median [{label}]",
                    median(entry["ms"]),
                    "ms",
                    baseline=median(bare),
                    baseline_label="bare, median",
                    target=Target(3.0, "ratio", "<= 3x bare") if name == LIST else None,
                )
            )
            report.add(
                Figure(
                    f"{name}: p95 [{label}]",
                    percentile(entry["ms"], 95),
                    "ms",
                    baseline=percentile(bare, 95),
                    baseline_label="bare, p95",
                )
            )
    small_q, big_q = stages[small]["queries"], stages[big]["queries"]
    for name, entry in big_q.items():
        if name == BARE:
            continue
        report.add(
            Figure(
                f"SQL queries per request: {name} [{big}]",
                entry["queries"],
                "queries",
                baseline=small_q[name]["queries"],
                baseline_label=small,
                target=Target(1.0, "ratio", f"same as at {small}"),
            )
        )
    data = stages[big]["data"]
    report.note(
        f"at {big}: {data['rows']:,} universal rows, {data['operations']:,} operations; "
        f"the client's organization has {data['big_org_servers']:,} servers"
    )
