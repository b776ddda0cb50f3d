"""Status latency (issue 9, item 3).

One Celery worker runs stack deploys of sandbox resources in a chain (each
step waits ``latency_ms``), so events appear one by one over a few seconds.
Two pollers per operation, at the dashboard's own polling interval (read from
the status partial's ``hx-trigger``), measure each event's latency from the
moment the worker recorded it (its ``at``) to the first poll that showed it:
one on ``GET /api/v1/operations/{id}``, one on the dashboard's status partial.

Expected shape: the worker's event buffer (flushed at most every 0.2 s) plus
up to one polling interval. Target: p95 <= 1 s.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from bench.common import BenchContext, Figure, Report, Target, log, median, percentile
from bench.system.env import running_system
from bench.system.statuswatch import watch


@dataclass(frozen=True)
class StatusSizes:
    operations: int = 8
    resources: int = 12
    latency_ms: int = 250
    timeout: float = 120.0

    @classmethod
    def quick(cls) -> StatusSizes:
        return cls(operations=1, resources=2, latency_ms=50, timeout=60.0)


def run(ctx: BenchContext) -> Report:
    report = Report("status", command=ctx.command)
    if not (ctx.pg_url and ctx.redis_url):
        report.note("skipped: needs PostgreSQL and Redis")
        return report
    sizes = StatusSizes.quick() if ctx.quick else StatusSizes()
    with running_system(ctx, "status", workers=1) as system:
        log(f"status: {sizes.operations} deploys of {sizes.resources} chained resources")
        watched = watch(
            base_url=system.base_url,
            token=system.creds["token"],
            session=system.creds["session"],
            operations=sizes.operations,
            resources=sizes.resources,
            latency_ms=sizes.latency_ms,
            prefix=f"status-{int(time.time()) % 100000}",
            timeout=sizes.timeout,
        )
    report.raw = {"sizes": asdict(sizes), **watched}
    interval = watched["interval"] or 1.0
    if watched["errors"]:
        report.note(f"poll errors: {sorted(set(watched['errors']))}")
    for name, key in (
        ("GET /operations/{id}", "api_ms"),
        ("dashboard status partial", "partial_ms"),
    ):
        values = watched[key]
        if not values:
            report.note(f"{name}: no events seen")
            continue
        report.add(
            Figure(
                f"event -> visible in {name}: p95",
                percentile(values, 95) / 1000,
                "s",
                baseline=interval,
                baseline_label="the polling interval",
                target=Target(1.0, "value", "<= 1 s"),
                note=f"median {median(values):.0f} ms, max {max(values):.0f} ms, "
                f"{len(values)} events",
            )
        )
    report.note(f"polling interval (from the partial's hx-trigger): {interval:g} s")
    return report
